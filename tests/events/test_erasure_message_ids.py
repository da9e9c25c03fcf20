"""Erasure rewrites every ``x@y`` in a touch's provider message id (privacy/erase.py
_scrub_client_ids). Every RFC 5322 Message-ID has that shape (SES, Postmark, Mailgun:
``<0100018d...@email.amazonses.com>``), personal address or not, and nothing that later looks a
touch up by its message id knows about the rewrite: a provider's late event about the send (a
complaint, a bounce) no longer finds its touch, and the sending tool's retried confirmation of the
same send is refused as "confirmed with another provider message id"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from tests.events.conftest import T0, World

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate.touches import confirm_sent
from leadpool.privacy import erase

MESSAGE_ID = "<0100018d2c4e5f6a-7b8c9d0e-1f2a-4b3c-9d8e-7f6a5b4c3d2e-000000@email.amazonses.com>"


def _setup(db: Database) -> tuple[int, int]:
    w = World(db)
    agency = w.agency()
    campaign = w.campaign(agency)
    lead = w.lead(email="quinn@acme.example")
    w.own(lead, agency, campaign)
    touch = w.touch(lead, campaign, agency, message_id=MESSAGE_ID)
    with session_scope(db) as s:
        erase(s, lead, actor="dpo", at=T0 + timedelta(hours=1))
    return lead, touch


def test_a_late_complaint_about_an_erased_persons_send_still_finds_its_touch(db: Database) -> None:
    _lead, touch = _setup(db)
    with session_scope(db) as s:
        out = record_event(
            s,
            EventIn(
                type="complaint",
                email="quinn@acme.example",
                channel="email",
                occurred_at=T0 + timedelta(hours=2),
                source="ses",
                provider_event_id="review-n-complaint-1",
                provider_message_id=MESSAGE_ID,
            ),
            at=T0 + timedelta(hours=2),
        )
    with session_scope(db) as s:
        linked = s.execute(
            text("SELECT touch_id FROM events WHERE id = :i"), {"i": out.event_id}
        ).scalar_one()
    assert linked == touch, "the provider's event about the send lost its touch after the erasure"


def test_a_retried_confirmation_after_an_erasure_is_still_idempotent(db: Database) -> None:
    _lead, touch = _setup(db)
    with session_scope(db) as s:
        # the sending tool's retry of the confirmation it made before the erasure
        state = confirm_sent(s, touch, MESSAGE_ID, at=T0 + timedelta(hours=2))
    assert state.state == "sent"
