"""Review of the fixes after the clock review (a16fbf1..64efbab).

A refusal raised mid-batch left the caller's transaction with the gate's plan settings (jit,
enable_seqscan, plan_cache_mode): this failed before the fix in ``Batch.run``. The review's two
other findings are not fixed (the closing note lists them): a move and a move back within one
import batch, and a window re-entered at a fall-back transition found a day late."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, IdempotencyKeyReused, check_many


def test_a_reused_idempotency_key_leaves_the_callers_plan_settings(db: Database) -> None:
    """IdempotencyKeyReused is raised after PLAN_MODE_SQL and before GENERIC_OFF_SQL, with the
    caller's transaction still open: it went on with jit and enable_seqscan off."""
    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(company_id=None)
    with session_scope(db) as s:
        check_many(s, [CheckRequest(lead, w.campaign_id, "email", at=MONDAY_OPEN, idempotency_key="k")])
    with session_scope(db) as s:
        s.execute(text("SET LOCAL jit = on"))
        s.execute(text("SET LOCAL enable_seqscan = on"))
        with pytest.raises(IdempotencyKeyReused):
            check_many(s, [CheckRequest(lead, w.campaign_id, "sms", at=MONDAY_OPEN, idempotency_key="k")])
        after = s.execute(text("SELECT current_setting('enable_seqscan'), current_setting('jit')")).one()
        assert tuple(after) == ("on", "on")
