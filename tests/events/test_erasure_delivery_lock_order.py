"""Erasure takes the person's lead rows (FOR UPDATE), then advisory locks on every address of
theirs (privacy/erase.py lock_addresses). A delivery (one transaction, events recorded in payload
order as webhooks.handle does) takes an address's advisory lock for a lead-less event with words
(events/record.py record_event), and later a lead's row FOR KEY SHARE for a click/open with
words about that same person: the opposite order. Before this round there were no address locks,
so the delivery just waited for the erasure; now the two deadlock and one of them is aborted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session
from tests.events.conftest import T0, World
from tests.interleaving import interleave

from leadpool.db import Database
from leadpool.events import EventIn, record_event
from leadpool.events.record import lock_leads_of
from leadpool.privacy import erase


def _events() -> list[EventIn]:
    return [
        EventIn(
            type="reply",
            email="xena.home@gmail.com",  # her personal address: resolves to no lead
            channel="email",
            occurred_at=T0 + timedelta(minutes=1),
            source="test",
            provider_event_id="review-n-reply-1",
            text="Call me on my cell instead",
        ),
        EventIn(
            type="clicked",
            email="xena@acme.example",
            channel="email",
            occurred_at=T0 + timedelta(minutes=1),
            source="test",
            provider_event_id="review-n-click-1",
            text="https://acme.example/pricing",
        ),
    ]


def test_a_delivery_and_an_erasure_of_the_same_person_both_succeed(db: Database) -> None:
    w = World(db)
    lead = w.lead(email="xena@acme.example", personal_emails=["xena.home@gmail.com"])

    def delivery(s: Session) -> None:
        events = _events()
        lock_leads_of(s, events)
        for e in events:
            with s.begin_nested():
                record_event(s, e, at=T0 + timedelta(minutes=2))

    def erasure(s: Session) -> None:
        erase(s, lead, actor="dpo", at=T0 + timedelta(minutes=2))

    errors = [e for e in interleave(db, delivery, "FOR KEY SHARE", erasure) if e is not None]
    assert errors == [], f"one side failed: {errors!r}"
