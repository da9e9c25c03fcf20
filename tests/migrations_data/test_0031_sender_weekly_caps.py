"""0031 replaces gate_fast_check by one with two arguments more (the sender's weekly cap and lock
key); downgrading puts 0029's back, with the settings every version of the function runs with."""

from __future__ import annotations

from sqlalchemy import text
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db import Database
from leadpool.db.migrate import upgrade

BEFORE = "0030_reconcile_marks"
AFTER = "0031_sender_weekly_caps"
SETTINGS = {
    "enable_seqscan=off",
    "timezone_abbreviations=Default",
    "TimeZone=UTC",
    "plan_cache_mode=force_generic_plan",
}


def _functions(db: Database) -> dict[int, set[str]]:
    """Argument count -> settings of every gate_fast_check there is."""
    with db.engine.connect() as c:
        rows = c.execute(
            text("SELECT pronargs, proconfig FROM pg_proc WHERE proname = 'gate_fast_check'")
        ).all()
    return {int(n): set(conf or ()) for n, conf in rows}


def test_0031_replaces_the_fast_check_and_downgrades_to_the_old_one(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        assert _functions(db) == {20: SETTINGS}
        upgrade(db, AFTER)
        assert _functions(db) == {22: SETTINGS}  # one function: the old signature is gone
        with db.engine.connect() as c:
            src = c.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'gate_fast_check'")).scalar_one()
        assert "pg_advisory_xact_lock(p_sender_lock)" in src and "sweek" in src
        downgrade(db, BEFORE)
        assert _functions(db) == {20: SETTINGS}
        upgrade(db, AFTER)
        assert _functions(db) == {22: SETTINGS}
