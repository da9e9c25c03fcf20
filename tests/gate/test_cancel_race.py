"""A cancel at the reservation's TTL boundary: it decided whether to give the slot back from
``expires_at > now()`` (its transaction's start) before locking the counter rows, so a check that
recounted the scope meanwhile (leaving the expired reservation out) and the cancel's ``n - 1``
removed it twice, and the next check passed the company's daily cap. The cancel now locks the
rows first and decides by the clock then: the check waits for it, and the counter stays exact.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from tests.gate import factories as f
from tests.gate.factories import World
from tests.interleaving import PauseBefore, Runner

from leadpool.db import Database, session_scope
from leadpool.gate import GateWorker, cancel, check, confirm_sent


def test_cancel_racing_a_recount_at_the_ttl_boundary_lets_a_check_pass_the_company_cap(db: Database) -> None:
    now = datetime.now(UTC)
    if (now + timedelta(seconds=15)).date() != now.date():
        time.sleep(16)  # the counters are on the UTC day of now(): not across a midnight
    with session_scope(db) as s:
        w = World(s)  # company_daily_cap 2; default TTL 15 min
        short = f.campaign(s, w.agency_id, gate={"reservation_ttl_seconds": 2})
        a = f.lead(s, company_id=w.company_id, time_zone="UTC")
        f.own(s, a, w.agency_id)
        f.enroll(s, a, short, w.agency_id)
        b, c, d = (w.lead(time_zone="UTC") for _ in range(3))
    kw = {"channel": "linkedin"}
    with session_scope(db) as s:
        y = check(s, lead_id=b, campaign_id=w.campaign_id, **kw)
    with session_scope(db) as s:
        x = check(s, lead_id=a, campaign_id=short, **kw)  # live for 2 s
    assert x.allowed and y.allowed

    # the sender cancels x while it is live; its transaction is slow to decide (rows locked)
    s1 = db.sessionmaker()
    pause = PauseBefore(s1, "clock_timestamp()")
    t1 = Runner(lambda: (cancel(s1, x.touch_id), s1.commit()))
    t1.start()
    checking: Runner | None = None
    try:
        assert pause.reached.wait(10)
        with db.engine.connect() as conn:
            exp = conn.execute(
                text("SELECT expires_at FROM touches WHERE id = :i"), {"i": x.touch_id}
            ).scalar_one()
        time.sleep(max(0.0, (exp - datetime.now(UTC)).total_seconds()) + 0.5)  # x has run out

        def check_c() -> object:
            with session_scope(db) as s:
                return check(s, lead_id=c, campaign_id=w.campaign_id, **kw)

        checking = Runner(check_c)  # the counter is at its cap: it waits for the cancel's rows
        checking.start()
        _wait_for_a_lock_wait(db)
    finally:
        pause.go.set()
        t1.join(30)
        s1.close()
    assert checking is not None
    checking.join(30)
    assert checking.error is None, checking.error
    z = checking.result
    assert z.allowed, z.reasons  # x is out of the count either way: c is the second live touch
    assert t1.error is None, t1.error
    with db.engine.connect() as conn:
        n = conn.execute(
            text("SELECT n FROM gate_counters WHERE scope = 'company' AND key = :k"), {"k": str(w.company_id)}
        ).scalar_one()
    with GateWorker(db) as g:  # y and z are live: the company's day is full
        v = g.check(lead_id=d, campaign_id=w.campaign_id, **kw)
    detail = f"counter {n} with 2 live touches (cap 2)"
    if v.allowed:
        for t, m in ((y, "m-y"), (z, "m-z"), (v, "m-v")):
            with session_scope(db) as s:
                confirm_sent(s, t.touch_id, m)
        with db.engine.connect() as conn:
            sent = conn.execute(
                text("SELECT count(*) FROM touches WHERE company_id = :c AND state = 'sent'"),
                {"c": w.company_id},
            ).scalar_one()
        detail += f"; then {sent} sent touches on one company day"
    assert not v.allowed, detail


def _wait_for_a_lock_wait(db: Database, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            conn.commit()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the check never waited for the cancel's counter rows")
