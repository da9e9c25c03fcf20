"""/metrics counts each real thing once."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text

from api.world import MONDAY, build_world
from leadpool.db import Database


def _decisions_total(url: str) -> float:
    body = httpx.get(f"{url}/metrics").text
    return sum(
        float(v)
        for v in re.findall(r"^leadpool_gate_decisions_total\{[^}]*\} ([0-9.e+]+)$", body, re.MULTILINE)
    )


def test_a_replayed_check_is_not_counted_as_a_second_decision(api, db: Database) -> None:
    """A sending engine retries POST /v1/sends/check with the same idempotency key (its first
    answer was lost on the network): the gate replays the stored decision (GateDecision.replayed)
    and audits nothing new, yet leadpool_gate_decisions_total goes up twice. Events skip their
    duplicates (routes/events.py, routes/webhooks.py); decisions do not."""
    w = build_world(api.admin, api.url)
    try:
        lead = w.alloc_a.allocated[0]
        before = _decisions_total(api.url)
        with db.engine.connect() as conn:
            rows_before = conn.execute(text("SELECT count(*) FROM decisions")).scalar_one()
        first = w.ca.check(lead, w.camp_a.id, "linkedin", sender="li-1", idempotency_key="k-1", at=MONDAY)
        again = w.ca.check(lead, w.camp_a.id, "linkedin", sender="li-1", idempotency_key="k-1", at=MONDAY)
        assert again.touch_id == first.touch_id and again.decision == first.decision
        with db.engine.connect() as conn:
            rows_after = conn.execute(text("SELECT count(*) FROM decisions")).scalar_one()
        assert rows_after - rows_before == 1  # one decision audited
        assert _decisions_total(api.url) - before == 1
    finally:
        w.close()
