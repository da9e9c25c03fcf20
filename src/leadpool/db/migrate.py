"""Alembic, driven from code so ``leadpool db upgrade`` works from an installed package."""

from __future__ import annotations

import contextlib

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from leadpool.db.engine import Database
from leadpool.errors import LeadpoolError

# Any constant works; it only has to be the same for every process that migrates.
_MIGRATION_LOCK = 0x1EAD9001


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "leadpool:migrations")
    cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database, revision: str = "heads") -> None:
    """Apply migrations; safe when several processes start at once (advisory lock).

    Raises LeadpoolError (one line) when the database holds a revision this code does not know
    (a newer release migrated it: this one must not run against it) or a migration fails."""
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        try:
            cfg = alembic_config(db)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        except CommandError as e:
            raise LeadpoolError(
                f"cannot migrate the database: {e} (a newer leadpool may have migrated it: run that one)"
            ) from e
        except DBAPIError as e:
            cause = str(e.orig).strip().splitlines()[0] if e.orig is not None else type(e).__name__
            raise LeadpoolError(f"a migration failed: {cause}") from e
        finally:
            # a failed migration leaves the transaction aborted: end it, or the unlock fails and
            # its error hides the real one; on a lost connection the lock went with it
            with contextlib.suppress(DBAPIError):
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()


def current(db: Database) -> list[str]:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return list(MigrationContext.configure(conn).get_current_heads())
