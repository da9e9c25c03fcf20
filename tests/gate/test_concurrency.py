"""Several processes, each with its own engine, hammer one lead, one company and one sender
(checks in a session, through a sending worker's GateWorker, and in batches).

Afterwards the touches themselves are counted: no cap may be exceeded, no lead double-touched,
and no check may have failed (a deadlock would show up as gate_error).
"""

from __future__ import annotations

import multiprocessing as mp
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN
from tests.interleaving import run_processes

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, GateWorker, cancel, check, check_many, confirm_sent

T0 = MONDAY_OPEN
PROCESSES = 4
ROUNDS = 40


def _worker(uri: str, seed: int, plan: dict[str, object], out: mp.Queue) -> None:  # type: ignore[type-arg]
    rnd = random.Random(seed)
    db = Database.from_uri(uri)
    gate = GateWorker(db)
    allowed = errors = 0
    keyed: list[tuple[int, int | None]] = []
    leads: list[int] = plan["leads"]  # type: ignore[assignment]
    keyed_leads: list[int] = plan["keyed"]  # type: ignore[assignment]
    campaign = int(plan["campaign"])  # type: ignore[call-overload]
    try:
        for i in range(ROUNDS):
            at = T0 + timedelta(seconds=rnd.randint(0, 600))
            with session_scope(db) as s:
                if i % 5 == 4:
                    batch = [
                        CheckRequest(rnd.choice(leads), campaign, "email", sender="hot@box.com", at=at)
                        for _ in range(rnd.randint(2, 6))
                    ]
                    decisions = check_many(s, batch)
                elif i % 7 == 3:
                    # the same idempotency keys from every process: one decision and one touch each
                    j = i % 3
                    d = check(
                        s,
                        lead_id=keyed_leads[j],
                        campaign_id=campaign,
                        channel="linkedin",
                        at=T0,
                        idempotency_key=f"idem-{j}",
                    )
                    keyed.append((j, d.touch_id))
                    decisions = [d]
                elif i % 2:  # a sending worker's own connection (committed on return)
                    decisions = [
                        gate.check(
                            lead_id=rnd.choice(leads),
                            campaign_id=campaign,
                            channel="email",
                            sender="hot@box.com",
                            at=at,
                        )
                    ]
                else:
                    decisions = [
                        check(
                            s,
                            lead_id=rnd.choice(leads),
                            campaign_id=campaign,
                            channel="email",
                            sender="hot@box.com",
                            at=at,
                        )
                    ]
                for d in decisions:
                    errors += "gate_error" in d.codes
                    allowed += d.allowed
                    if d.touch_id is not None and not d.replayed and rnd.random() < 0.3 and i % 7 != 3:
                        cancel(s, d.touch_id, at=at)
    finally:
        gate.close()
        db.dispose()
    out.put((allowed, errors, keyed))


@pytest.mark.slow
def test_many_processes_never_exceed_a_cap(db: Database) -> None:
    with session_scope(db) as s:
        agency = f.agency(s, gate={"sender_daily_caps": {"email": 5}, "agency_daily_cap": 6})
        campaign = f.campaign(s, agency)
        hot_company = f.company(s)
        leads = []
        for i in range(11):
            # the first five share one company (2/day); the others have their own
            lid = f.lead(s, company_id=hot_company if i < 5 else f.company(s))
            f.own(s, lid, agency)
            f.enroll(s, lid, campaign, agency)
            leads.append(lid)
    # one hot lead, asked about far more often than the others
    # leads 8-10 are asked about only with idempotency keys
    plan = {"leads": [leads[0]] * 8 + leads[:8], "keyed": leads[8:], "campaign": campaign}
    results = run_processes(_worker, PROCESSES, db.uri, plan)
    assert sum(r[1] for r in results) == 0, "a check failed (deadlock or error)"
    by_key: dict[int, set[int | None]] = {}
    for r in results:
        for j, touch_id in r[2]:
            by_key.setdefault(j, set()).add(touch_id)
    assert by_key and all(len(v) == 1 for v in by_key.values()), by_key
    # top up after the storm (a worker may have cancelled last): the caps must now be reached exactly
    with session_scope(db) as s:
        for lid in leads[:8]:
            check(
                s,
                lead_id=lid,
                campaign_id=campaign,
                channel="email",
                sender="hot@box.com",
                at=T0 + timedelta(seconds=601),
            )
    live = "(state = 'sent' OR (state = 'reserved' AND expires_at > :at))"
    with db.engine.connect() as c:
        at_end = T0 + timedelta(seconds=601)
        # every reservation was made before T0+10min with a 15-minute TTL, so all still count
        per_lead = c.execute(
            text(f"SELECT lead_id, count(*) FROM touches WHERE {live} GROUP BY 1"), {"at": at_end}
        ).all()
        per_company = c.execute(
            text(f"SELECT company_id, count(*) FROM touches WHERE {live} GROUP BY 1"), {"at": at_end}
        ).all()
        per_sender = c.execute(
            text(f"SELECT sender, count(*) FROM touches WHERE {live} AND channel = 'email' GROUP BY 1"),
            {"at": at_end},
        ).all()
        total_allowed = c.execute(text("SELECT count(*) FROM decisions WHERE allowed")).scalar_one()
        total_touches = c.execute(text("SELECT count(*) FROM touches")).scalar_one()
        cancelled = c.execute(text("SELECT count(*) FROM touches WHERE state = 'cancelled'")).scalar_one()
        per_key = c.execute(
            text(
                "SELECT idempotency_key, count(*) FROM decisions WHERE idempotency_key IS NOT NULL GROUP BY 1"
            )
        ).all()
    assert all(n <= 1 for _, n in per_lead), per_lead
    assert all(n <= 2 for cid, n in per_company if cid == hot_company), per_company
    assert all(n <= 5 for _, n in per_sender), per_sender
    assert sum(n for _, n in per_sender) <= 6  # agency cap, one agency
    assert total_allowed == total_touches
    # the caps were actually reached (the test can fail), and cancelled slots were reused
    assert sum(n for _, n in per_sender) == 5
    assert cancelled > 0
    assert len(per_key) == len(by_key) and all(n == 1 for _, n in per_key), per_key


WEEKLY_ROUNDS = 6


def _weekly_worker(
    uri: str,
    index: int,
    plan: dict[str, object],
    barrier: Any,
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    """One check per round, all processes at once, each on its own day (so the company's daily
    counter rows, one per day, do not serialise them): only the weekly budget stands between them.
    Each check is confirmed in its own transaction: the processes' clocks are days apart, and a
    reservation counts only until its TTL as of the instant checked, so a reservation committed
    before its confirmation (as GateWorker commits it) would rightly not count for a check two
    days on. The first test covers GateWorker, its clocks within one TTL."""
    db = Database.from_uri(uri)
    allowed = errors = 0
    rounds: list[list[tuple[int, int]]] = plan["rounds"]  # type: ignore[assignment]
    try:
        for r, people in enumerate(rounds):
            lead_id, campaign_id = people[index]
            at = T0 + timedelta(days=2 + index, hours=r)
            barrier.wait(timeout=60)
            with session_scope(db) as s:
                if (index + r) % 2:
                    (d,) = check_many(s, [CheckRequest(lead_id, campaign_id, "linkedin", at=at)])
                else:
                    d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="linkedin", at=at)
                errors += "gate_error" in d.codes
                allowed += d.allowed
                if d.touch_id is not None:
                    confirm_sent(s, d.touch_id, f"w-{d.touch_id}", at=at)
    finally:
        db.dispose()
    out.put((allowed, errors, []))


@pytest.mark.slow
def test_many_processes_never_exceed_the_weekly_company_budget(db: Database) -> None:
    rounds: list[list[tuple[int, int]]] = []
    companies = []
    with session_scope(db) as s:
        agencies = [f.agency(s), f.agency(s)]
        campaigns = [f.campaign(s, a) for a in agencies]
        for _ in range(WEEKLY_ROUNDS):
            company = f.company(s)
            companies.append(company)
            people = []
            for i in range(4 + PROCESSES):
                k = i % 2
                lid = f.lead(s, company_id=company)
                f.own(s, lid, agencies[k])
                f.enroll(s, lid, campaigns[k], agencies[k])
                people.append((lid, campaigns[k]))
            # four of the five weekly touches are already sent, two a day on days 0 and 1
            for i, (lid, cid) in enumerate(people[:4]):
                at = T0 + timedelta(days=i // 2, hours=i % 2)
                d = check(s, lead_id=lid, campaign_id=cid, channel="linkedin", at=at)
                assert d.touch_id is not None, d.reasons
                confirm_sent(s, d.touch_id, f"pre-{d.touch_id}", at=at)
            rounds.append(people[4:])
    plan = {"rounds": rounds}
    results = run_processes(_weekly_worker, PROCESSES, db.uri, plan, barrier=True)
    assert sum(r[1] for r in results) == 0, "a check failed (deadlock or error)"
    with db.engine.connect() as c:
        sent = dict(
            c.execute(text("SELECT company_id, count(*) FROM touches WHERE state = 'sent' GROUP BY 1")).all()
        )
        weekly = c.execute(
            text('SELECT count(*) FROM decisions WHERE reasons @> \'[{"code": "company_weekly_cap"}]\'')
        ).scalar_one()
    # every touch lies within 6 days: one rolling week. Exactly one of the racers got the last slot.
    assert sent == {c: 5 for c in companies}, sent
    assert sum(r[0] for r in results) == WEEKLY_ROUNDS
    assert weekly == WEEKLY_ROUNDS * (PROCESSES - 1)
