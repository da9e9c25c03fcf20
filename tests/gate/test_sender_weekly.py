"""A sender's rolling week (``sender_weekly_cap``, an addition): a LinkedIn account sends at most
100 touches in any 7 days by default, on every path (fast, full, batch, a sending worker's), and
concurrent checks from several processes never pass it."""

from __future__ import annotations

import multiprocessing as mp
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN
from tests.interleaving import run_processes

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import CheckRequest, GateWorker, cancel, check, check_many, confirm_sent
from leadpool.gate.policy import clear_policy_cache, platform_policy, resolve, validate_overrides

T0 = MONDAY_OPEN
SEAT = "seat-1"


@pytest.fixture(autouse=True)
def _fresh_policy(fresh_policy: None) -> None:
    """Every test here starts from the defaults."""


def _sent(s: Any, w: f.World, at: Any, *, sender: str = SEAT, channel: str = "linkedin") -> int:
    d = check(
        s,
        lead_id=w.lead(company_id=f.company(s)),
        campaign_id=w.campaign_id,
        channel=channel,
        sender=sender,
        at=at,
    )
    assert d.touch_id is not None, d.reasons
    confirm_sent(s, d.touch_id, f"msg-{d.touch_id}", at=at)
    return d.touch_id


def test_defaults_and_overrides() -> None:
    p = resolve(None, None)
    assert [p.sender_weekly_cap(c) for c in ("email", "linkedin", "sms", "phone")] == [None, 100, None, None]
    p = resolve({"gate": {"sender_weekly_caps": {"linkedin": None, "email": 200}}}, None)
    assert p.sender_weekly_cap("linkedin") is None and p.sender_weekly_cap("email") == 200
    # a sender belongs to its agency: an agency may raise its own accounts' caps, unlike a person's
    assert (
        resolve({"gate": {"sender_weekly_caps": {"linkedin": 150}}}, None).sender_weekly_cap("linkedin")
        == 150
    )
    with pytest.raises(InvalidInput, match=r"campaign settings: sender_weekly_caps\.linkedin"):
        validate_overrides({"gate": {"sender_weekly_caps": {"linkedin": -1}}}, level="campaign")
    with pytest.raises(InvalidInput, match=r"sender_weekly_caps\.fax"):
        validate_overrides({"gate": {"sender_weekly_caps": {"fax": 3}}}, level="agency")


def test_platform_level_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_GATE_SENDER_WEEKLY_CAPS__LINKEDIN", "80")
    monkeypatch.setenv("LEADPOOL_GATE_SENDER_WEEKLY_CAPS__EMAIL", "250")
    clear_policy_cache()
    assert platform_policy().sender_weekly_cap("linkedin") == 80
    assert platform_policy().sender_weekly_cap("email") == 250
    monkeypatch.setenv("LEADPOOL_GATE_SENDER_WEEKLY_CAPS__LINKEDIN", "null")
    clear_policy_cache()
    assert platform_policy().sender_weekly_cap("linkedin") is None
    monkeypatch.setenv("LEADPOOL_GATE_SENDER_WEEKLY_CAPS__LINKEDIN", "lots")
    clear_policy_cache()
    with pytest.raises(InvalidInput, match=r"sender_weekly_caps\.linkedin"):
        platform_policy()


def test_rolling_week_on_every_path(db: Database) -> None:
    """Two touches in the last 7 days fill a cap of 2 for every agency using the seat; the slot
    comes back when the oldest leaves the week (retry_after), whichever path asks."""
    gate = {"sender_weekly_caps": {"linkedin": 2}}
    with session_scope(db) as s:
        w = f.World(s, agency_gate=gate)
        other = f.World(s, agency_gate=gate)  # the seat's touches count whoever sent them
        oldest = T0 - timedelta(days=6, hours=1)
        _sent(s, other, oldest)
        _sent(s, w, T0 - timedelta(days=1))
        lid, lid2, lid3 = (w.lead(company_id=f.company(s)) for _ in range(3))
    with session_scope(db) as s:
        full = check_many(s, [CheckRequest(lid, w.campaign_id, "linkedin", SEAT, T0)])[0]
        single = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", sender=SEAT, at=T0)
        dry = check(
            s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", sender=SEAT, at=T0, reserve=False
        )
    with GateWorker(db) as worker:
        worked = worker.check(lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", sender=SEAT, at=T0)
    for d in (full, single, dry, worked):
        assert d.codes == ["sender_weekly_cap"], d.reasons
        assert d.reasons[0].retry_after == oldest + timedelta(days=7)
        assert "seat-1 has 2 linkedin touch(es) in the last 7 days" in d.reasons[0].message
    # another channel's sender of that name, a check without a sender, and an hour after the
    # oldest touch left the week are all allowed
    with session_scope(db) as s:
        assert check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", sender=SEAT, at=T0).allowed
    with session_scope(db) as s:
        assert check(s, lead_id=lid2, campaign_id=w.campaign_id, channel="linkedin", at=T0).allowed
    with GateWorker(db) as worker:
        later = oldest + timedelta(days=7, minutes=1)
        d = worker.check(lead_id=lid3, campaign_id=w.campaign_id, channel="linkedin", sender=SEAT, at=later)
        assert d.allowed and d.touch_id is not None


def test_expired_and_cancelled_reservations_give_the_slot_back(db: Database) -> None:
    with session_scope(db) as s:
        w = f.World(s, agency_gate={"sender_weekly_caps": {"linkedin": 1}})
        a, b, c = (w.lead(company_id=f.company(s)) for _ in range(3))
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=a,
            campaign_id=w.campaign_id,
            channel="linkedin",
            sender=SEAT,
            at=T0 - timedelta(days=2),
        )
        assert d.touch_id is not None  # reserved, never confirmed: it stops counting after 15 minutes
    with session_scope(db) as s:
        d = check(s, lead_id=b, campaign_id=w.campaign_id, channel="linkedin", sender=SEAT, at=T0)
        assert d.allowed and d.touch_id is not None
        blocked = check(s, lead_id=c, campaign_id=w.campaign_id, channel="linkedin", sender=SEAT, at=T0)
        assert blocked.codes == ["sender_weekly_cap"]
        cancel(s, d.touch_id, at=T0)
    with GateWorker(db) as worker:
        assert worker.check(
            lead_id=c, campaign_id=w.campaign_id, channel="linkedin", sender=SEAT, at=T0
        ).allowed


def test_a_batch_counts_its_own_earlier_items(db: Database) -> None:
    with session_scope(db) as s:
        w = f.World(s, agency_gate={"sender_weekly_caps": {"linkedin": 2}})
        leads = [w.lead(company_id=f.company(s)) for _ in range(4)]
    with session_scope(db) as s:
        out = check_many(s, [CheckRequest(lid, w.campaign_id, "linkedin", SEAT, T0) for lid in leads])
    assert [d.allowed for d in out] == [True, True, False, False]
    assert out[3].codes == ["sender_weekly_cap"]


PROCESSES = 4
ROUNDS = 6
WEEKLY = 3


def _worker(uri: str, index: int, plan: dict[str, Any], barrier: Any, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """One check per round, all processes at once, each on its own day (so the sender's daily
    counter rows, one per day, do not serialise them): only the rolling week stands between them.
    Each check is confirmed in its own transaction, as in the company's weekly test (the clocks
    are days apart, and a reservation counts only until its TTL as of the instant checked)."""
    db = Database.from_uri(uri)
    allowed = errors = weekly = 0
    rounds: list[list[int]] = plan["rounds"]
    campaign = int(plan["campaign"])
    try:
        for r, leads in enumerate(rounds):
            at = T0 + timedelta(days=2 + index, hours=r)
            seat = f"seat-{r}"
            barrier.wait(timeout=60)
            with session_scope(db) as s:
                if (index + r) % 2:
                    (d,) = check_many(s, [CheckRequest(leads[index], campaign, "linkedin", seat, at)])
                else:
                    d = check(
                        s, lead_id=leads[index], campaign_id=campaign, channel="linkedin", sender=seat, at=at
                    )
                errors += "gate_error" in d.codes
                allowed += d.allowed
                weekly += "sender_weekly_cap" in d.codes
                if d.touch_id is not None:
                    confirm_sent(s, d.touch_id, f"w-{d.touch_id}", at=at)
    finally:
        db.dispose()
    out.put((allowed, errors, weekly))


@pytest.mark.slow
def test_many_processes_never_exceed_a_senders_week(db: Database) -> None:
    rounds = []
    with session_scope(db) as s:
        w = f.World(s, agency_gate={"sender_weekly_caps": {"linkedin": WEEKLY}})
        for r in range(ROUNDS):
            # two of the seat's three weekly touches already sent, on days 0 and 1
            for day in (0, 1):
                _sent(s, w, T0 + timedelta(days=day, hours=r), sender=f"seat-{r}")
            rounds.append([w.lead(company_id=f.company(s)) for _ in range(PROCESSES)])
    plan = {"rounds": rounds, "campaign": w.campaign_id}
    results = run_processes(_worker, PROCESSES, db.uri, plan, barrier=True)
    assert sum(r[1] for r in results) == 0, "a check failed (deadlock or error)"
    with db.engine.connect() as c:
        sent = dict(
            c.execute(text("SELECT sender, count(*) FROM touches WHERE state = 'sent' GROUP BY 1")).all()
        )
    # every touch lies within 6 days: one rolling week. Exactly one of the racers got the last slot.
    assert sent == {f"seat-{r}": WEEKLY for r in range(ROUNDS)}, sent
    assert sum(r[0] for r in results) == ROUNDS
    assert sum(r[2] for r in results) == ROUNDS * (PROCESSES - 1)
