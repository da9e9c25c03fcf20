"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from leadpool.db import Database
from leadpool.models import Base


def test_upgrade_head_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _include})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (name or "").startswith("procrastinate")


def test_a_database_migrated_by_a_newer_release_is_refused_in_one_line(db: Database) -> None:
    import pytest
    from sqlalchemy import text

    from leadpool.db.migrate import current, upgrade
    from leadpool.errors import LeadpoolError

    (head,) = current(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    try:
        with pytest.raises(LeadpoolError, match=r"0099_future.*a newer leadpool"):
            upgrade(db)
        with db.engine.connect() as conn:  # the migration lock was given back
            key = {"k": 0x1EAD9001}
            assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar_one()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head})
