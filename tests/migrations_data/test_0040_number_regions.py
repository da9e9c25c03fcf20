"""0040 adds the countries of number prefixes and reads a lead's country as its own, else its
number's, in the fast path; its downgrade puts 0039's function back."""

from __future__ import annotations

import importlib

from sqlalchemy import text
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0040_number_regions"
BEFORE = importlib.import_module(f"leadpool.migrations.versions.{REVISION}").down_revision
_FUNCTION = (
    "SELECT pg_get_function_identity_arguments(oid), prosrc, proconfig FROM pg_proc "
    "WHERE proname = 'gate_fast_check'"
)


def test_0040_adds_number_regions_and_its_downgrade_puts_the_function_back(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        with db.engine.connect() as c:
            before = c.execute(text(_FUNCTION)).one()
        upgrade(db, REVISION)
        with db.engine.connect() as c:
            after = c.execute(text(_FUNCTION)).one()
            toronto, germany = c.execute(
                text("SELECT code FROM phone_prefix_regions WHERE prefix IN ('49', '1416') ORDER BY prefix")
            ).scalars()
        assert after[0] == before[0] and after[1].count("phone_prefix_regions") == 2
        assert "phone_prefix_regions" not in before[1]
        assert sorted(after[2]) == sorted(before[2])  # 0023's settings, applied again
        assert (toronto, germany) == ("CA", "DE")  # ordered by prefix

        downgrade(db, BEFORE)
        with db.engine.connect() as c:
            assert c.execute(text(_FUNCTION)).one() == before
            assert c.execute(text("SELECT to_regclass('phone_prefix_regions')")).scalar() is None
