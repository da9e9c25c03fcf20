"""Alembic, driven from code so ``leadpool db upgrade`` works from an installed package."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from leadpool.db.engine import Database

# Any constant works; it only has to be the same for every process that migrates.
_MIGRATION_LOCK = 0x1EAD9001


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "leadpool:migrations")
    cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database, revision: str = "heads") -> None:
    """Apply migrations; safe when several processes start at once (advisory lock)."""
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        try:
            cfg = alembic_config(db)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()


def current(db: Database) -> list[str]:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return list(MigrationContext.configure(conn).get_current_heads())
