"""The transaction boundary lives at the edge: CLI commands, API requests and jobs commit here.

Services receive a ``Session``, call ``flush()`` when they need ids, and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from leadpool.db.engine import Database


@contextmanager
def session_scope(db: Database) -> Iterator[Session]:
    session = db.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
