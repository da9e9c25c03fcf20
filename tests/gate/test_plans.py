"""The gate's plans stay index lookups when made on a nearly empty table (a fresh installation):
generic plans are kept, and one made with sequential scans allowed kept a scan of the whole of
gate_counters for every lookup as the table grew (9.7 ms per lookup at 200,000 rows)."""

from __future__ import annotations

import json

from psycopg import sql
from sqlalchemy import text
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, GateWorker, caps, check_many

_COUNTER_LOOKUP = (
    f"SELECT v.s, {caps.COUNTER_N_SQL} FROM json_to_recordset($1::json) AS v(s text, k text, d date)"
)
_ARG = json.dumps([{"s": "sender", "k": "email:x", "d": "2026-03-02"}])


def test_the_worker_connection_plans_a_counter_lookup_on_an_empty_table_as_an_index_lookup(
    db: Database,
) -> None:
    with db.engine.begin() as c:
        c.execute(text("ANALYZE gate_counters"))  # analysed empty, as on a fresh installation
    with GateWorker(db) as gate:
        conn = gate._connection()
        # the worker's own settings: generic plans (the plan a connection keeps), no seq scans
        assert conn.execute(
            "SELECT current_setting('plan_cache_mode'), current_setting('jit')"
        ).fetchone() == (
            "force_generic_plan",
            "off",
        )
        conn.execute(f"PREPARE lookup(text) AS {_COUNTER_LOOKUP}")
        plan = "\n".join(
            r[0] for r in conn.execute(sql.SQL("EXPLAIN EXECUTE lookup({})").format(sql.Literal(_ARG)))
        )
    assert "Index Scan using pk_gate_counters" in plan, plan


def test_the_fast_path_function_plans_without_sequential_scans(db: Database) -> None:
    with db.engine.connect() as c:
        config = c.execute(
            text("SELECT proconfig FROM pg_proc WHERE proname = 'gate_fast_check'")
        ).scalar_one()
    assert "enable_seqscan=off" in config and "plan_cache_mode=force_generic_plan" in config


def test_a_batch_puts_the_callers_plan_settings_back(db: Database) -> None:
    """The batch sets its plan settings for itself only: the caller's transaction goes on with its own."""
    with session_scope(db) as s:
        w = World(s)
        leads = [w.lead(company_id=None) for _ in range(25)]
    # generic plans for small batches, custom ones for large; the caller's setting is neither
    # the default nor the one the batch uses, so only putting the caller's own value back passes
    for size, callers in ((1, "force_custom_plan"), (25, "force_generic_plan")):
        with session_scope(db) as s:
            s.execute(text(f"SET LOCAL plan_cache_mode = {callers}"))
            s.execute(text("SET LOCAL jit = on"))  # the batch turns it off for its own statements
            ds = check_many(
                s, [CheckRequest(lead, w.campaign_id, "linkedin", at=MONDAY_OPEN) for lead in leads[:size]]
            )
            assert all(d.decision_id is not None for d in ds)
            after = s.execute(
                text(
                    "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan'), "
                    "current_setting('jit')"
                )
            ).one()
            assert tuple(after) == (callers, "on", "on")
