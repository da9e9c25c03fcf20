"""Review findings (allocation / ownership / contact memory). Each test fails on the current code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.allocate import allocate
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate import check
from leadpool.models import CompanyOwner, Ownership


@pytest.mark.parametrize("channel", ["sms", "phone"])
def test_sms_or_phone_only_campaign_is_not_given_leads_the_gate_always_refuses(
    db: Database, channel: str
) -> None:
    """A lead without a time zone can never be texted or called (the gate denies
    unknown_timezone forever), yet allocation takes it out of the pool, counts it against the
    campaign's daily quota and lets it sit enrolled for good."""
    with session_scope(db) as s:
        co = make_company(s)
        (no_zone,) = make_leads(
            s, 1, company_id=co, email=None, email_status=None, phone="+15125550100", time_zone=None
        )
        (zoned,) = make_leads(
            s,
            1,
            company_id=co,
            email=None,
            email_status=None,
            phone="+15125550101",
            time_zone="America/Chicago",
        )
        agency = make_agency(s)
        camp = make_campaign(s, agency, channels=channel, daily_quota=10)
    # precondition: the gate refuses that lead on this channel whatever the hour
    with session_scope(db) as s:
        for hours in (0, 6, 12, 18):
            at = NOW + timedelta(hours=hours)
            d = check(s, lead_id=no_zone, campaign_id=camp, channel=channel, at=at, reserve=False)
            assert "unknown_timezone" in d.codes
    with session_scope(db) as s:
        got = allocate(s, camp, 10, at=NOW).lead_ids
    assert got == [zoned], "a lead the gate can never let the campaign contact was allocated"


def test_company_exclusivity_holds_when_an_owned_lead_gets_its_company_later(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Company mode: 'every person at one company belongs to the agency that first got someone
    there'. Sarah was allocated to agency A before her company was known (or she moved there);
    once the pool learns she works at X, agency B is still handed X's COO, because the company
    is only claimed on pool acquisition, never for a lead the agency already owns."""
    monkeypatch.setenv("LEADPOOL_EXCLUSIVITY", "company")
    with session_scope(db) as s:
        x = make_company(s, name="BuildRight")
        (sarah,) = make_leads(s, 1)  # no company known yet
        a, b = make_agency(s), make_agency(s)
        ca = make_campaign(s, a, icp={})
    with session_scope(db) as s:
        assert allocate(s, ca, 1, at=NOW).lead_ids == [sarah]
    with session_scope(db) as s:
        # a re-import / enrichment fills in her company
        s.execute(text("UPDATE leads SET company_id = :x WHERE id = :l"), {"x": x, "l": sarah})
        (coo,) = make_leads(s, 1, company_id=x)
        cb = make_campaign(s, b, icp={})
    with session_scope(db) as s:
        got_b = allocate(s, cb, 5, at=NOW).lead_ids
    with session_scope(db) as s:
        owners = dict(s.execute(select(Ownership.lead_id, Ownership.agency_id)).tuples().all())
        company_owner = s.scalar(select(CompanyOwner.agency_id).where(CompanyOwner.company_id == x))
    assert owners[sarah] == a
    assert coo not in got_b, f"agency B got {coo} at company {x} where agency A owns {sarah}"
    assert company_owner in (None, a)


def test_a_not_interested_person_is_allocatable_again_once_its_cooling_period_is_over(db: Database) -> None:
    """Seed table: 'Lead says not interested -> cooling period (no contact for 12 months)';
    issue 3: contactable = ... 'not in a cooling period'. The reply cools the person for every
    agency; it is not a stop for good, so a year later they are offered again."""
    said_no = NOW - timedelta(days=400)
    with session_scope(db) as s:
        (lid,) = make_leads(s, 1, company_id=make_company(s))
        camp = make_campaign(s, make_agency(s))
    with session_scope(db) as s:
        reply = EventIn(
            type="reply",
            lead_id=lid,
            category="not_interested",
            occurred_at=said_no,
            source="test",
            provider_event_id="no-thanks",
        )
        record_event(s, reply, at=said_no)
    with session_scope(db) as s:
        assert allocate(s, camp, 5, at=said_no + timedelta(days=300)).lead_ids == []
    with session_scope(db) as s:
        assert allocate(s, camp, 5, at=NOW).lead_ids == [lid]
    with session_scope(db) as s:
        decision = check(s, lead_id=lid, campaign_id=camp, channel="linkedin", at=NOW, reserve=False)
        assert "replied" not in decision.codes and "cooling" not in decision.codes
