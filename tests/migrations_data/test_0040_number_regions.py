"""0040 adds the countries of number prefixes and reads a lead's country as its own, else its
number's, in the fast path; its downgrade puts 0039's function back."""

from __future__ import annotations

from sqlalchemy import text
from tests.migrations_data._fast_check import assert_recreated, down_revision, fast_check
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0040_number_regions"
BEFORE = down_revision(REVISION)


def test_0040_adds_number_regions_and_its_downgrade_puts_the_function_back(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        before = fast_check(db)
        upgrade(db, REVISION)
        after = fast_check(db)
        assert_recreated(before, after, "phone_prefix_regions")
        assert after[1].count("phone_prefix_regions") == 2  # the consent rule's and the clocks'
        with db.engine.connect() as c:
            places = dict(
                c.execute(
                    text("SELECT prefix, code FROM phone_prefix_regions WHERE prefix IN ('49', '1416')")
                ).all()
            )
        assert places == {"49": "DE", "1416": "CA"}

        downgrade(db, BEFORE)
        assert fast_check(db) == before
        with db.engine.connect() as c:
            assert c.execute(text("SELECT to_regclass('phone_prefix_regions')")).scalar() is None
