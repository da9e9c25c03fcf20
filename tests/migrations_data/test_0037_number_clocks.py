"""0037 adds the clocks of +1 number prefixes and sends a text or call whose number keeps another
clock than the lead's zone to the full check; its downgrade puts 0036's function back."""

from __future__ import annotations

import importlib

from sqlalchemy import text
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0037_number_clocks"
BEFORE = importlib.import_module(f"leadpool.migrations.versions.{REVISION}").down_revision
_FUNCTION = (
    "SELECT pg_get_function_identity_arguments(oid), prosrc, proconfig FROM pg_proc "
    "WHERE proname = 'gate_fast_check'"
)


def test_0037_adds_number_clocks_and_its_downgrade_puts_the_function_back(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        with db.engine.connect() as c:
            before = c.execute(text(_FUNCTION)).one()
        upgrade(db, REVISION)
        with db.engine.connect() as c:
            after = c.execute(text(_FUNCTION)).one()
            rows = c.execute(
                text("SELECT count(*), count(*) FILTER (WHERE zones = '{}') FROM phone_prefix_clocks")
            )
            total, placeless = rows.one()
            chicago = c.execute(
                text("SELECT zones FROM phone_prefix_clocks WHERE prefix = '1312'")
            ).scalar_one()
        assert (
            after[0] == before[0]
            and "phone_prefix_clocks" in after[1]
            and "phone_prefix_clocks" not in before[1]
        )
        assert sorted(after[2]) == sorted(before[2])  # 0023's settings, applied again
        assert total > 1000 and placeless >= 1 and chicago == ["America/Chicago"]

        downgrade(db, BEFORE)
        with db.engine.connect() as c:
            assert c.execute(text(_FUNCTION)).one() == before
            gone = c.execute(
                text("SELECT to_regclass('phone_prefix_clocks'), to_regproc('leadpool_phone_prefixes')")
            ).one()
        assert gone == (None, None)
