"""0038 adds dead_domains and sends an email to an address at a closed domain to the full check;
its downgrade puts 0037's function back and drops the table."""

from __future__ import annotations

from sqlalchemy import text
from tests.migrations_data._fast_check import assert_recreated, down_revision, fast_check
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0038_dead_domains"
BEFORE = down_revision(REVISION)


def test_0038_adds_dead_domains_and_its_downgrade_puts_the_function_back(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        before = fast_check(db)
        upgrade(db, REVISION)
        assert_recreated(before, fast_check(db), "dead_domains")
        with db.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM dead_domains")).scalar_one() == 0

        downgrade(db, BEFORE)
        assert fast_check(db) == before
        with db.engine.connect() as c:
            assert c.execute(text("SELECT to_regclass('dead_domains')")).scalar() is None
