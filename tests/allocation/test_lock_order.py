"""Writers that meet on the same leads take their rows in one order (leadpool.pool.locks), so none
deadlocks: each test pauses one writer while it holds its first locks and starts the other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads
from tests.interleaving import interleave

from leadpool.allocation.agencies import cancel_agency
from leadpool.allocation.allocate import allocate
from leadpool.allocation.campaigns import finish_campaign
from leadpool.allocation.rounds import allocate_round
from leadpool.db import Database, session_scope
from leadpool.errors import Conflict
from leadpool.events.record import record_event
from leadpool.events.schemas import EventIn
from leadpool.gate import check, confirm_sent


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
