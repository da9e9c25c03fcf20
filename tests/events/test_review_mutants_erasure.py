"""Tests written while mutation-testing erasure: each pins a rule whose wrong version the suite
did not notice (the mutant it kills is named in its docstring)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.ingestion import import_people
from leadpool.ingestion.hashing import address_hmac
from leadpool.privacy import erase

JO: dict[str, Any] = {
    "id": "apollo-jo-1",
    "first_name": "Jo",
    "email": "jo.doe@acme-widgets.com",
    "phone_numbers": [
        {"sanitized_number": "+13035550199", "type": "mobile", "position": 0},
        {"sanitized_number": "+13035550177", "type": "home", "position": 1},
    ],
    "country": "United States",
}


def test_erasure_keeps_a_hash_of_every_number_of_the_person_not_just_the_best(db: Database) -> None:
    """Erasure keeps ``erased`` suppressions of "every email, phone and LinkedIn URL the person
    had" (erase.py), so that no import brings them back. The lead's ``phone`` is only its best
    number; a second number of their own (here a home line) is in ``phone_numbers``. Without
    its hash, the person comes back under a new email with that number (the importer refuses an
    erased person by any personal number, but only by the hashes erasure left). Leaving
    ``phone_numbers`` out of the hashes survived the suite (its people had one own number)."""
    [lead_id] = import_people(db, [JO], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        assert (
            s.execute(text("SELECT phone FROM leads WHERE id = :i"), {"i": lead_id}).scalar_one()
            == "+13035550199"
        )
        erase(s, lead_id, actor="dpo")
    key = get_settings().resolved_secret_key()
    with session_scope(db) as s:
        hashes = set(
            s.execute(
                text("SELECT value_hmac FROM suppressions WHERE kind = 'erased' AND address_type = 'phone'")
            ).scalars()
        )
    assert address_hmac("phone", "+13035550177", key, region="US") in hashes
    back = {
        "id": "apollo-jo-2",
        "first_name": "Jo",
        "email": "jo@new-employer.io",
        "country": "United States",
        "phone_numbers": [{"raw_number": "(303) 555-0177", "type": "home"}],
    }
    result = import_people(db, [back], endpoint="people/match")
    assert [(r.index, r.reason) for r in result.rejected] == [(0, "erased person")]


def test_erasure_scrubs_an_event_that_reached_the_person_by_an_address_only(db: Database) -> None:
    """Erasure drops the text and detail of every event about the person: those linked to the
    lead and those that came in for one of their addresses without naming the lead (here a
    reply from their personal address, which no lead holds as its email). Scrubbing by lead id
    only survived the suite: the person's own words would outlive their erasure."""
    person = {
        **JO,
        "id": "apollo-jo-9",
        "email": "jo.nine@acme-widgets.com",
        "personal_emails": ["jo.nine@gmail.com"],
    }
    [lead_id] = import_people(db, [person], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        outcome = record_event(
            s,
            EventIn(
                type="reply",
                email="jo.nine@gmail.com",
                text="Jo here, from home: call me on 303-555-0177",
                occurred_at=datetime(2026, 1, 5, 12, tzinfo=UTC),
                source="api",
                provider_event_id="home-reply-1",
                detail={"user_agent": "Jo's laptop"},
            ),
        )
    with session_scope(db) as s:
        before = s.execute(
            text("SELECT lead_id, text IS NOT NULL FROM events WHERE provider_event_id = 'home-reply-1'")
        ).one()
        assert tuple(before) == (None, True), outcome
        erase(s, lead_id, actor="dpo")
    with session_scope(db) as s:
        after = s.execute(
            text("SELECT text, detail FROM events WHERE provider_event_id = 'home-reply-1'")
        ).one()
    assert tuple(after) == (None, None)


def test_an_unsubscribe_from_the_persons_personal_address_stops_their_lead(db: Database) -> None:
    """BUG (current code): an unsubscribe that arrives for one of the person's personal emails
    (``leads.personal_emails``) is recorded as a suppression of that address only; the lead is
    not marked unsubscribed, so its work address keeps being allocated and mailed. The importer
    already treats such an opt-out as the person's ("the person's other addresses (personal
    emails and numbers ...): an opt-out there is theirs too", importer.py): the same person
    re-imported takes ``unsubscribed_at`` from it. So the opt-out applies only after the next
    import of the person, if any. Events find leads by current email/phone/LinkedIn only
    (``events.effects.address_holders``)."""
    person = {
        **JO,
        "id": "apollo-jo-7",
        "email": "jo.seven@acme-widgets.com",
        "personal_emails": ["jo.seven@gmail.com"],
    }
    [lead_id] = import_people(db, [person], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        record_event(
            s,
            EventIn(
                type="unsubscribe",
                email="jo.seven@gmail.com",
                occurred_at=datetime(2026, 1, 5, 12, tzinfo=UTC),
                source="api",
                provider_event_id="home-unsub-1",
            ),
        )
    with session_scope(db) as s:
        now_ = s.execute(text("SELECT unsubscribed_at FROM leads WHERE id = :i"), {"i": lead_id}).scalar_one()
    # what the importer makes of the same facts: the re-imported person is unsubscribed
    import_people(db, [person], endpoint="people/match")
    with session_scope(db) as s:
        after_import = s.execute(
            text("SELECT unsubscribed_at FROM leads WHERE id = :i"), {"i": lead_id}
        ).scalar_one()
    assert after_import is not None  # the importer follows the opt-out to the person
    assert now_ is not None, "the opt-out reached the lead only when the person was imported again"
