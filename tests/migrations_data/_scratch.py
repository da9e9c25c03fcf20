"""Scratch databases at a chosen Alembic revision (created on the test server, always dropped)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from alembic import command
from sqlalchemy.engine import make_url

from leadpool.db import Database
from leadpool.db.migrate import alembic_config, current, upgrade


def admin_uri(database_uri: str) -> str:
    """The maintenance database of the server the test session uses (embedded or external)."""
    return make_url(database_uri).set(database="postgres").render_as_string(hide_password=False)


@contextlib.contextmanager
def scratch_db(database_uri: str, revision: str, *, create_options: str = "") -> Iterator[Database]:
    admin = admin_uri(database_uri)
    name = f"leadpool_test_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" {create_options}')
    uri = make_url(admin).set(database=name).render_as_string(hide_password=False)
    db = Database.from_uri(uri)
    try:
        upgrade(db, revision)
        assert current(db) == [revision]
        yield db
    finally:
        db.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def downgrade(db: Database, revision: str) -> None:
    command.downgrade(alembic_config(db), revision)
    assert current(db) == [revision]
