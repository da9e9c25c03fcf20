"""0038 adds dead_domains and sends an email to an address at a closed domain to the full check;
its downgrade puts 0037's function back and drops the table."""

from __future__ import annotations

import importlib

from sqlalchemy import text
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0038_dead_domains"
BEFORE = importlib.import_module(f"leadpool.migrations.versions.{REVISION}").down_revision
_FUNCTION = (
    "SELECT pg_get_function_identity_arguments(oid), prosrc, proconfig FROM pg_proc "
    "WHERE proname = 'gate_fast_check'"
)


def test_0038_adds_dead_domains_and_its_downgrade_puts_the_function_back(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        with db.engine.connect() as c:
            before = c.execute(text(_FUNCTION)).one()
        upgrade(db, REVISION)
        with db.engine.connect() as c:
            after = c.execute(text(_FUNCTION)).one()
            empty = c.execute(text("SELECT count(*) FROM dead_domains")).scalar_one()
        assert after[0] == before[0] and "dead_domains" in after[1] and "dead_domains" not in before[1]
        assert sorted(after[2]) == sorted(before[2])  # 0023's settings, applied again
        assert empty == 0

        downgrade(db, BEFORE)
        with db.engine.connect() as c:
            assert c.execute(text(_FUNCTION)).one() == before
            assert c.execute(text("SELECT to_regclass('dead_domains')")).scalar() is None
