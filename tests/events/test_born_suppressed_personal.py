"""An opt-out recorded for one of the person's personal addresses, before the pool held them, makes
a later import born suppressed (issue 4: nobody contacts the person again, on any channel)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.ingestion import import_people
from leadpool.models import Lead

from .test_events_end_to_end import NOON

JO = {
    "id": "apollo-jo",
    "first_name": "Jo",
    "email": "jo@acme.example",
    "email_status": "verified",
    "personal_emails": ["Jo.Home@gmail.example"],
}


def _record(db: Database, kind: str, email: str) -> None:
    event = EventIn(
        type=kind, email=email, occurred_at=NOON, source="test", provider_event_id=f"{kind}-{email}"
    )
    with session_scope(db) as s:
        out = record_event(s, event, at=NOON + timedelta(minutes=1))
    assert out.lead_id is None  # stored against the address alone


@pytest.mark.parametrize("kind", ["unsubscribe", "complaint"])
def test_opt_out_of_a_personal_email_makes_a_later_import_born_suppressed(
    db: Database, get_lead: Callable[[int], Lead], kind: str
) -> None:
    _record(db, kind, "jo.home@gmail.example")
    result = import_people(db, [JO], endpoint="people/match")
    lead = get_lead(result.lead_ids[0])
    assert (lead.unsubscribed_at if kind == "unsubscribe" else lead.complained_at) is not None


def test_a_bounced_personal_email_does_not_stop_the_work_address(
    db: Database, get_lead: Callable[[int], Lead]
) -> None:
    _record(db, "hard_bounce", "jo.home@gmail.example")
    lead = get_lead(import_people(db, [JO], endpoint="people/match").lead_ids[0])
    assert lead.email_bounced_at is None and lead.unsubscribed_at is None


@pytest.mark.parametrize("kind", ["unsubscribe", "complaint"])
def test_opt_out_of_a_personal_email_after_the_import_stops_the_lead_now(
    db: Database, get_lead: Callable[[int], Lead], kind: str
) -> None:
    """The other order: the lead is in the pool (personal email stored as Apollo spelled it), and
    the opt-out arrives from that personal address, in another case. It reached no lead until the
    person's next import; meanwhile the work address kept being emailed."""
    lead_id = import_people(db, [JO], endpoint="people/match").lead_ids[0]
    _record(db, kind, "JO.HOME@gmail.example")
    lead = get_lead(lead_id)
    assert (lead.unsubscribed_at if kind == "unsubscribe" else lead.complained_at) is not None
    assert lead.personal_emails == ["jo.home@gmail.example"]  # stored in the spelling events use


def test_a_stop_reply_from_a_personal_email_stops_the_lead(
    db: Database, get_lead: Callable[[int], Lead]
) -> None:
    lead_id = import_people(db, [JO], endpoint="people/match").lead_ids[0]
    event = EventIn(
        type="reply",
        email="jo.home@gmail.example",
        text="Please unsubscribe me from your list.",
        occurred_at=NOON,
        source="test",
        provider_event_id="reply-personal",
    )
    with session_scope(db) as s:
        record_event(s, event, at=NOON + timedelta(minutes=1))
    assert get_lead(lead_id).unsubscribed_at is not None


def test_a_bounce_of_a_personal_email_after_the_import_leaves_the_lead_alone(
    db: Database, get_lead: Callable[[int], Lead]
) -> None:
    lead_id = import_people(db, [JO], endpoint="people/match").lead_ids[0]
    _record(db, "hard_bounce", "jo.home@gmail.example")
    lead = get_lead(lead_id)
    assert lead.email_bounced_at is None and lead.unsubscribed_at is None
