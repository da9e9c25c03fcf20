"""An opt-out from the address a person was emailed at, after a refresh gave their lead a new one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import text

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.ingestion import import_people
from leadpool.models import Lead
from leadpool.privacy import erase

from .test_events_end_to_end import NOON

ALEX = {"id": "apollo-alex", "first_name": "Alex", "email": "alex@oldco.example", "email_status": "verified"}


def _refreshed(db: Database, *emails: str) -> int:
    lead_id = import_people(db, [ALEX], endpoint="people/match").lead_ids[0]
    for email in emails:
        assert import_people(db, [dict(ALEX, email=email)], endpoint="people/match").lead_ids == [lead_id]
    return lead_id


def _record(db: Database, kind: str, email: str) -> list[str]:
    event = EventIn(
        type=kind, email=email, occurred_at=NOON, source="test", provider_event_id=f"{kind}-{email}"
    )
    with session_scope(db) as s:
        return record_event(s, event, at=NOON + timedelta(minutes=1)).effects


def test_an_unsubscribe_from_the_old_address_stops_the_refreshed_lead(
    db: Database, get_lead: Callable[[int], Lead]
) -> None:
    lead_id = _refreshed(db, "alex@newco.example")
    lead = get_lead(lead_id)
    assert lead.email == "alex@newco.example" and lead.previous_emails == ["alex@oldco.example"]
    _record(db, "unsubscribe", "Alex@OldCo.example")
    assert get_lead(lead_id).unsubscribed_at is not None


def test_a_bounce_of_the_old_address_leaves_the_new_one_alone(
    db: Database, get_lead: Callable[[int], Lead]
) -> None:
    lead_id = _refreshed(db, "alex@newco.example")
    _record(db, "hard_bounce", "alex@oldco.example")
    lead = get_lead(lead_id)
    assert lead.email_bounced_at is None and lead.unsubscribed_at is None


def test_previous_emails_keep_the_last_ten_once_each_and_never_the_current_one(
    db: Database, get_lead: Callable[[int], Lead]
) -> None:
    moves = [f"alex{i}@co{i}.example" for i in range(12)] + ["alex@oldco.example", "alex11@co11.example"]
    lead_id = _refreshed(db, *moves)
    previous = get_lead(lead_id).previous_emails or []
    assert len(previous) <= 10 and len(set(previous)) == len(previous)
    assert "alex11@co11.example" not in previous  # the current one
    assert previous[-1] == "alex@oldco.example" and "alex10@co10.example" in previous


def test_erasure_keeps_the_old_address_suppressed_too(db: Database) -> None:
    lead_id = _refreshed(db, "alex@newco.example")
    with session_scope(db) as s:
        erase(s, lead_id, actor="dpo")
    back = import_people(
        db, [dict(ALEX, id="apollo-other", email="alex@oldco.example")], endpoint="people/match"
    )
    assert back.lead_ids == [] and back.rejected
    with db.engine.connect() as c:
        assert (
            c.execute(text("SELECT previous_emails FROM leads WHERE id = :i"), {"i": lead_id}).scalar()
            is None
        )
