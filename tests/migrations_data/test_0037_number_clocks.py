"""0037 adds the clocks of +1 number prefixes and sends a text or call whose number keeps another
clock than the lead's zone to the full check; its downgrade puts 0036's function back."""

from __future__ import annotations

from sqlalchemy import text
from tests.migrations_data._fast_check import assert_recreated, down_revision, fast_check
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0037_number_clocks"
BEFORE = down_revision(REVISION)


def test_0037_adds_number_clocks_and_its_downgrade_puts_the_function_back(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        before = fast_check(db)
        upgrade(db, REVISION)
        assert_recreated(before, fast_check(db), "phone_prefix_clocks")
        with db.engine.connect() as c:
            rows = c.execute(
                text("SELECT count(*), count(*) FILTER (WHERE zones = '{}') FROM phone_prefix_clocks")
            )
            total, placeless = rows.one()
            chicago = c.execute(
                text("SELECT zones FROM phone_prefix_clocks WHERE prefix = '1312'")
            ).scalar_one()
        assert total > 1000 and placeless >= 1 and chicago == ["America/Chicago"]

        downgrade(db, BEFORE)
        assert fast_check(db) == before
        with db.engine.connect() as c:
            gone = c.execute(
                text("SELECT to_regclass('phone_prefix_clocks'), to_regproc('leadpool_phone_prefixes')")
            ).one()
        assert gone == (None, None)
