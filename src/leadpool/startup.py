"""What every process does with its database before anything else: migrate it, and make sure it
holds the same secret key as every other process using it."""

from __future__ import annotations

from leadpool.config import get_settings
from leadpool.db import Database
from leadpool.db.migrate import upgrade
from leadpool.ingestion.hashing import check_key


def prepare_database(db: Database) -> None:
    """Apply pending migrations, then refuse a secret key other than the database's."""
    upgrade(db)
    with db.engine.begin() as conn:
        check_key(conn, get_settings().resolved_secret_key())
