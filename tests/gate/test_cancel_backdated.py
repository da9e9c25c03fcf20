"""A cancel dated back to when its reservation was live, arriving after it expired: the counters must not under-count."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from tests.gate.factories import World

from leadpool.db import Database, session_scope
from leadpool.gate import cancel, check


@pytest.mark.parametrize("scope", ["sender", "company"])
def test_backdated_cancel_of_an_expired_reservation_lets_the_fast_path_pass_the_cap(
    db: Database, scope: str
) -> None:
    # the counters are per UTC day, and the checks below run at the database's now(): all of it
    # must fall on one day, so a run in the first seconds after midnight waits those seconds out
    now = datetime.now(UTC)
    if (now - timedelta(seconds=4)).date() != now.date():
        time.sleep(5)
        now = datetime.now(UTC)
    t1 = now - timedelta(seconds=4)
    gate = {"reservation_ttl_seconds": 2}
    if scope == "sender":
        gate["sender_daily_caps"] = {"linkedin": 1}
    with session_scope(db) as s:
        w = World(s, campaign_gate=gate)
        # company scope: three colleagues in UTC (company_daily_cap 2); sender scope: no company
        cid = w.company_id if scope == "company" else None
        a, b, c, d0 = (w.lead(company_id=cid, time_zone="UTC") for _ in range(4))
    sender = "acct-1" if scope == "sender" else None
    kw = {"campaign_id": w.campaign_id, "channel": "linkedin", "sender": sender}
    with session_scope(db) as s:
        first = check(s, lead_id=a, at=t1, **kw)  # reserved 4 s ago, expired 2 s ago
        assert first.allowed
    if scope == "company":  # the company's second slot, live
        with session_scope(db) as s:
            assert check(s, lead_id=d0, **kw).allowed
    with session_scope(db) as s:  # the expired one is recounted away, the slot is reused (correct)
        second = check(s, lead_id=b, **kw)
        assert second.allowed, second.reasons
    with session_scope(db) as s:  # the sender cancels the first reservation, dated when it was live
        cancel(s, first.touch_id, at=t1 + timedelta(seconds=1))
    with session_scope(db) as s:
        third = check(s, lead_id=c, **kw)
    with db.engine.connect() as conn:
        live = conn.execute(
            text(
                "SELECT count(*) FROM touches WHERE state = 'sent' OR (state = 'reserved' AND expires_at > now())"
            )
        ).scalar_one()
    cap = 1 if scope == "sender" else 2
    assert not third.allowed, f"{live} live touches for a {scope} cap of {cap}"
