"""Writers that meet on the same leads take their rows in one order (leadpool.pool.locks), so none
deadlocks: each test pauses one writer while it holds its first locks and starts the other. A check
made after waiting for another writer's lock reads what that writer committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads
from tests.interleaving import PauseBefore, Runner, backend_pid, interleave, wait_until_lock_waiting

from leadpool.allocation.agencies import cancel_agency
from leadpool.allocation.allocate import allocate
from leadpool.allocation.campaigns import activate_campaign, finish_campaign, pause_campaign, resume_campaign
from leadpool.allocation.rounds import allocate_round
from leadpool.db import Database, session_scope
from leadpool.errors import Conflict
from leadpool.events.record import record_event
from leadpool.events.schemas import EventIn
from leadpool.gate import check, confirm_sent
from leadpool.privacy.domains import block_domain


@pytest.fixture(autouse=True)
def _no_refill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_REFILL_ENABLED", "false")


def _owned_lead(db: Database) -> tuple[int, int, int]:
    with session_scope(db) as s:
        make_leads(s, 1, industry=None)
        agency = make_agency(s)
        campaign = make_campaign(s, agency, icp={})
    with session_scope(db) as s:
        (lead,) = allocate(s, campaign, 1, at=NOW).lead_ids
    return agency, campaign, lead


@pytest.mark.parametrize("kind", ["converted", "reply"])
@pytest.mark.parametrize("other", ["cancel_agency", "finish_campaign"])
def test_an_event_and_a_cancel_or_finish_do_not_deadlock(db: Database, other: str, kind: str) -> None:
    agency, campaign, lead = _owned_lead(db)
    at = NOW + timedelta(days=1)
    extra = {"category": "interested"} if kind == "reply" else {}
    event = EventIn(type=kind, lead_id=lead, occurred_at=at, source="api", provider_event_id="e-1", **extra)

    def stop(s: Session) -> None:
        if other == "cancel_agency":
            cancel_agency(s, agency, at=at)
        else:
            finish_campaign(s, campaign, at=at)

    # the event holds the lead and is about to end its enrollments; the cancel or finish comes in
    errors = interleave(
        db, lambda s: record_event(s, event, at=at), "UPDATE enrollments SET status = 'ended'", stop
    )
    assert errors == (None, None)
    if kind == "converted":
        with session_scope(db) as s:
            owner = s.execute(
                text("SELECT agency_id, converted_at IS NOT NULL FROM ownerships WHERE lead_id = :l"),
                {"l": lead},
            ).one()
        assert tuple(owner) == (agency, True)  # converted first: the cancel leaves it with the agency


@pytest.mark.parametrize("mode", ["allocate", "allocate_round"])
def test_allocation_and_a_cancel_do_not_deadlock(db: Database, mode: str) -> None:
    with session_scope(db) as s:
        make_leads(s, 5)
        agency = make_agency(s)
        campaign = make_campaign(s, agency, icp={})
    at = NOW + timedelta(hours=1)

    def alloc(s: Session) -> None:
        if mode == "allocate":
            allocate(s, campaign, 5, at=at)
        else:
            allocate_round(s, at=at)

    # the cancel has updated the agency and is about to pause its campaigns; allocation comes in
    first, second = interleave(
        db, lambda s: cancel_agency(s, agency, at=at), "UPDATE campaigns SET status = 'paused'", alloc
    )
    assert first is None and (second is None or isinstance(second, Conflict)), repr(second)
    with session_scope(db) as s:
        assert s.execute(text("SELECT count(*) FROM ownerships")).scalar_one() == 0


@pytest.mark.parametrize("move", ["resume", "activate"])
def test_a_campaign_moved_to_active_during_a_cancel_stays_off(db: Database, move: str) -> None:
    """Resuming (or activating) needs an active agency. A cancel that holds the campaign row (it
    locks every campaign of the agency, pausing only the active ones) makes the move wait; once
    the cancel commits the move is refused, and the campaign is not left active under a cancelled
    agency (the check once ran inside the waiting statement, which read the agency as before)."""
    with session_scope(db) as s:
        agency = make_agency(s)
        campaign = make_campaign(s, agency, active=move == "resume")
        if move == "resume":
            pause_campaign(s, campaign)

    def go(s: Session) -> None:
        (resume_campaign if move == "resume" else activate_campaign)(s, campaign)

    # the cancel has done everything but its last statement, holding the campaign row
    first, second = interleave(
        db, lambda s: cancel_agency(s, agency), "UPDATE touches SET state = 'cancelled'", go
    )
    assert first is None
    assert isinstance(second, Conflict) and "agency is not active" in str(second), repr(second)
    with session_scope(db) as s:
        status = s.execute(
            text(
                "SELECT c.status, a.status FROM campaigns c JOIN agencies a ON a.id = c.agency_id WHERE c.id = :c"
            ),
            {"c": campaign},
        ).one()
    assert tuple(status) == ("draft" if move == "activate" else "paused", "cancelled")


def _committing(session: Session, fn: Callable[[Session], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            out = fn(session)
            session.commit()
            return out
        except BaseException:
            session.rollback()
            raise

    return run


@pytest.mark.parametrize("stopper", ["finish_campaign", "cancel_agency"])
def test_a_stop_a_domain_block_and_an_allocation_do_not_deadlock(db: Database, stopper: str) -> None:
    """Finishing a campaign (or cancelling its agency) holds the leads, then wants the campaign row;
    a new domain block holds the domain-block lock, then wants those leads; an allocation takes
    that lock (shared) before the campaign row, so it waits for the block without holding the row
    the stop needs. It once locked the campaign row first: a cycle of three, one aborted."""
    with session_scope(db) as s:
        make_leads(s, 6, company_id=make_company(s))  # person{n}@example.com
        agency = make_agency(s)
        campaign = make_campaign(s, agency)
    with session_scope(db) as s:
        assert len(allocate(s, campaign, 3, at=NOW).lead_ids) == 3  # enrolled leads at example.com

    def stop(s: Session) -> None:
        if stopper == "finish_campaign":
            finish_campaign(s, campaign)
        else:
            cancel_agency(s, agency)

    marker = (
        "UPDATE campaigns" if stopper == "finish_campaign" else "SELECT id FROM campaigns WHERE agency_id"
    )
    s1, s2, s3 = db.sessionmaker(), db.sessionmaker(), db.sessionmaker()
    pid2, pid3 = backend_pid(s2), backend_pid(s3)  # each keeps its connection (and pid) from here
    pause = PauseBefore(s1, marker)
    t1 = Runner(_committing(s1, stop))
    t2 = Runner(
        _committing(s2, lambda s: block_domain(s, "example.com", reason="a regulator", actor="admin"))
    )
    t3 = Runner(_committing(s3, lambda s: allocate(s, campaign, 2)))
    try:
        t1.start()
        assert pause.reached.wait(10)  # holds the lead rows, about to take the campaign row
        t2.start()
        wait_until_lock_waiting(db, pid2, or_done=t2)  # holds the domain-block lock, waits for a lead
        t3.start()
        wait_until_lock_waiting(db, pid3, or_done=t3)  # waits for the block
    finally:
        pause.go.set()
        for t in (t1, t2, t3):
            if t.is_alive() or t.ident is not None:
                t.join(30)
        for s in (s1, s2, s3):
            s.close()
    assert (t1.error, t2.error) == (None, None)
    # the allocation went last: the campaign was finished (or paused) by then
    assert isinstance(t3.error, Conflict) and "only active campaigns" in str(t3.error), repr(t3.error)
    with session_scope(db) as s:
        ended = s.execute(
            text("SELECT count(*) FROM enrollments WHERE campaign_id = :c AND status = 'ended'"),
            {"c": campaign},
        ).scalar_one()
    assert ended == 3


def test_a_conversion_with_an_agency_that_lost_the_lead_is_not_the_new_owners(db: Database) -> None:
    send = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # a Monday: the email window is open on every US clock
    with session_scope(db) as s:
        make_leads(s, 1, company_id=make_company(s))
        a = make_agency(s, "A")
        campaign_a = make_campaign(s, a)
    with session_scope(db) as s:
        (lead,) = allocate(s, campaign_a, 1, at=send - timedelta(days=1)).lead_ids
    with session_scope(db) as s:
        d = check(s, lead_id=lead, campaign_id=campaign_a, channel="email", at=send)
        assert d.allowed and d.touch_id is not None, d.codes
        confirm_sent(s, d.touch_id, "msg-A-1", at=send)
    with session_scope(db) as s:
        cancel_agency(s, a, at=send + timedelta(hours=1))
    later = send + timedelta(days=100)  # quarantine and rest are over: B gets the lead
    with session_scope(db) as s:
        b = make_agency(s, "B")
        campaign_b = make_campaign(s, b)
    with session_scope(db) as s:
        assert allocate(s, campaign_b, 1, at=later).lead_ids == [lead]

    # A reports, late, a conversion about its own touch; so does an admin naming A's touch
    for source, agency_id in (("api", a), ("crm", None)):
        with session_scope(db) as s:
            out = record_event(
                s,
                EventIn(
                    type="converted",
                    lead_id=lead,
                    provider_message_id="msg-A-1",
                    occurred_at=send + timedelta(minutes=30),
                    source=source,
                    provider_event_id="crm-42",
                ),
                at=later,
                agency_id=agency_id,
            )
        assert out.effects == ["conversion:not_owner"]
    with session_scope(db) as s:
        row = s.execute(
            text(
                "SELECT o.agency_id, o.converted_at, l.converted_at, e.status FROM ownerships o "
                "JOIN leads l ON l.id = o.lead_id JOIN enrollments e ON e.lead_id = l.id "
                "AND e.campaign_id = :c WHERE o.lead_id = :l"
            ),
            {"l": lead, "c": campaign_b},
        ).one()
    assert tuple(row) == (b, None, None, "active")


def test_company_claims_work_for_company_ids_past_32_bits(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPOOL_EXCLUSIVITY", "company")
    with session_scope(db) as s:
        make_leads(s, 1, company_id=make_company(s, id=2**31))
        make_leads(s, 3, company_id=make_company(s))
        campaign = make_campaign(s, make_agency(s))
    with session_scope(db) as s:
        assert len(allocate(s, campaign, 4, at=NOW).lead_ids) == 4
