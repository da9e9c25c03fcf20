"""Opt-outs reach every lead record of the person (or of the number that said STOP), however they
are reported: by address, by lead id, by a one-click link (a review found the lead-id paths did not).

docs/gate.md ("Not in the gate"): the gate reads only the leads' own columns (unsubscribed_at,
complained_at...), so an opt-out stops a lead only if record_event flags that lead's row.
docs/events.md: an unsubscribe or complaint "also flags (and ends the enrollments of) every other
lead whose current email, phone or LinkedIn URL is one the event names (a shared number, a
duplicate)", and suppresses "every address of the person (email, phone, LinkedIn, personal emails)".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from events.conftest import World
from events.test_events_end_to_end import NOON, gate, owned_lead
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, EventOutcome, record_event
from leadpool.models import Lead


def _record(db: Database, **kw: Any) -> EventOutcome:
    kw.setdefault("occurred_at", NOON - timedelta(hours=1))
    kw.setdefault("source", "review")
    kw.setdefault(
        "provider_event_id", f"{kw['type']}-{kw.get('lead_id')}-{kw.get('email')}-{kw.get('phone')}"
    )
    with session_scope(db) as s:
        return record_event(s, EventIn(**kw), at=kw["occurred_at"] + timedelta(minutes=1))


def _unsubscribed(db: Database, lead_id: int) -> bool:
    with session_scope(db) as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        return lead.unsubscribed_at is not None


def test_sms_stop_reported_by_lead_id_stops_the_other_lead_on_the_same_number(
    db: Database, world: World
) -> None:
    """A sending engine reports the STOP text by the lead it texted (lead_id, channel sms). The same
    number on another lead record is still textable, although the number is now suppressed by hash
    and the very same STOP named by its number (phone=...) flags both leads."""
    number = "+17205550191"
    _, _campaign_a, lead_a = owned_lead(world, phone=number)
    _, campaign_b, lead_b = owned_lead(world, phone=number)
    assert gate(db, lead_b, campaign_b, "sms").allowed  # control

    out = _record(db, type="reply", lead_id=lead_a, channel="sms", text="STOP")
    assert out.category == "unsubscribe" and _unsubscribed(db, lead_a)

    # the number that said STOP is texted again through the other record
    decision = gate(db, lead_b, campaign_b, "sms")
    assert not decision.allowed, f"the number that texted STOP may be texted again: {decision.codes}"


def test_sms_stop_by_number_control_flags_both(db: Database, world: World) -> None:
    """Control for the test above: named by its number, the same STOP flags both leads."""
    number = "+17205550192"
    _, _, _lead_a = owned_lead(world, phone=number)
    _, campaign_b, lead_b = owned_lead(world, phone=number)
    _record(db, type="reply", phone=number, channel="sms", text="STOP")
    assert not gate(db, lead_b, campaign_b, "sms").allowed


def test_unsubscribe_by_work_address_stops_the_lead_keyed_by_the_persons_personal_address(
    db: Database, world: World
) -> None:
    """Lead A is jane@corp (personal email jane.doe@gmail); lead B (a CSV import) is keyed by that
    personal address: the same person (erasure treats them as one). She unsubscribes from the work
    address: her personal address is suppressed by hash, but lead B is never flagged, so the gate
    still lets every agency email her personal address."""
    _, _, lead_a = owned_lead(
        world, email="jane@corp-review.example", personal_emails=["jane.doe.review@gmail.com"]
    )
    _, campaign_b, lead_b = owned_lead(world, email="jane.doe.review@gmail.com")
    assert gate(db, lead_b, campaign_b, "email").allowed  # control

    out = _record(db, type="unsubscribe", email="jane@corp-review.example")
    assert out.lead_id == lead_a and _unsubscribed(db, lead_a)

    decision = gate(db, lead_b, campaign_b, "email")
    assert not decision.allowed, f"her personal address is emailed after she unsubscribed: {decision.codes}"


def test_unsubscribe_by_lead_id_reaches_the_lead_listing_the_address_as_personal(
    db: Database, world: World
) -> None:
    """The documented reach of an opt-out (leads listing the address among personal_emails) depends
    on how it was reported: named by email it flags lead B, named by lead_id (the API's and the
    CLI's usual way, and the one-click page's) it does not."""
    _, _, lead_a = owned_lead(world, email="sam@acme-review.example")
    _, campaign_b, lead_b = owned_lead(
        world, email="sam.private.review@gmail.com", personal_emails=["sam@acme-review.example"]
    )
    _record(db, type="unsubscribe", lead_id=lead_a, channel="email")
    assert _unsubscribed(db, lead_a)
    decision = gate(db, lead_b, campaign_b, "email")
    assert not decision.allowed, f"the same opt-out by email would have stopped lead B: {decision.codes}"


def test_one_click_unsubscribe_reaches_the_lead_listing_the_address_as_personal(
    db: Database, world: World
) -> None:
    """The RFC 8058 one-click link records its unsubscribe by lead_id, so it has the reach of the
    test above: another lead of the same person (listing the unsubscribed address among its
    personal_emails) is still emailed at its own address."""
    from leadpool.privacy.unsubscribe import unsubscribe

    agency_a, campaign_a, lead_a = owned_lead(world, email="lee@firm-review.example")
    touch = world.touch(lead_a, campaign_a, agency_a)
    _, campaign_b, lead_b = owned_lead(
        world, email="lee.home.review@gmail.com", personal_emails=["lee@firm-review.example"]
    )
    with session_scope(db) as s:
        done = unsubscribe(s, touch, at=NOON - timedelta(hours=1))
    assert done is not None and done.event_id is not None and _unsubscribed(db, lead_a)
    decision = gate(db, lead_b, campaign_b, "email")
    assert not decision.allowed, f"the same person is emailed after one-click unsubscribe: {decision.codes}"


def test_an_email_unsubscribe_by_lead_id_does_not_reach_a_colleague_on_the_same_switchboard(
    db: Database, world: World
) -> None:
    """A lead's number may be its company's switchboard: an email opt-out by lead id stops the
    person's leads by their emails and profile, not every lead sharing that number."""
    number = "+17205550193"
    _, _, lead_a = owned_lead(world, email="ann@switch-review.example", phone=number)
    _, campaign_b, colleague = owned_lead(world, email="bob@switch-review.example", phone=number)
    _record(db, type="unsubscribe", lead_id=lead_a, channel="email")
    assert _unsubscribed(db, lead_a) and not _unsubscribed(db, colleague)
    assert gate(db, colleague, campaign_b, "email").allowed


def test_an_agency_reporting_another_agencys_lead_stops_the_person_but_not_their_company(
    db: Database, world: World
) -> None:
    """Any agency may report an opt-out by address (it protects the person), but pausing every
    colleague for every agency on an unchecked claim let one agency close a competitor's account
    for 30 days, a complaint at a time. Reported by the lead's own agency, it pauses them."""
    from sqlalchemy import select

    from leadpool.models import Company, CompanyPause

    with session_scope(db) as s:
        company = Company(name="Contested Co", domain="contested-review.example")
        s.add(company)
        s.flush()
        company_id = company.id
    owner, rival = world.agency(), world.agency()
    campaign = world.campaign(owner)
    person = world.lead(company_id=company_id, email="pat@contested-review.example")
    colleague = world.lead(company_id=company_id)
    world.own(person, owner, campaign)
    world.own(colleague, owner, campaign)

    for reporter, n in ((rival, 1), (owner, 2)):
        with session_scope(db) as s:
            record_event(
                s,
                EventIn(
                    type="complaint",
                    email="pat@contested-review.example",
                    source="agency-inbox",
                    provider_event_id=f"contested-{n}",
                    occurred_at=NOON - timedelta(hours=3 - n),
                ),
                at=NOON,
                agency_id=reporter,
            )
        with session_scope(db) as s:
            pauses = s.scalars(select(CompanyPause.kind)).all()
            lead = s.get(Lead, person)
            assert lead is not None and lead.complained_at is not None  # the person, whoever says so
        assert pauses == ([] if reporter == rival else ["complaint"])
    assert "company_paused" in gate(db, colleague, campaign, "linkedin").codes


def test_an_opt_out_by_lead_id_without_a_channel_unsubscribes_every_colleague_on_the_switchboard(
    db: Database, world: World
) -> None:
    """Lead L has no email: a LinkedIn profile and its company's switchboard number. An opt-out
    by lead id naming no channel is not about the number (the event's own address falls back to
    it, the first the lead has): no colleague on the switchboard is flagged."""
    switchboard = "+13035550100"
    _, _, lead_l = owned_lead(
        world, email=None, phone=switchboard, linkedin_url="https://www.linkedin.com/in/l-review"
    )
    _, _, colleague = owned_lead(world, email="colleague@corp-review.example", phone=switchboard)

    with session_scope(db) as s:
        out = record_event(
            s,
            EventIn(
                type="unsubscribe",
                lead_id=lead_l,
                source="review",
                provider_event_id="unsub-l",
                occurred_at=NOON - timedelta(hours=1),
            ),
            at=NOON,
        )
    assert "lead:unsubscribed" in out.effects
    with session_scope(db) as s:
        row = s.get(Lead, colleague)
        assert row is not None
        assert row.unsubscribed_at is None, (
            f"a colleague sharing the switchboard was unsubscribed by L's opt-out ({out.effects})"
        )
