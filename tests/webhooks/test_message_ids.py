"""Provider message ids are one id with or without their angle brackets: a touch stored as
``<abc@mail>`` (the form Mailgun's send API and the Message-ID header use, and how touches
confirmed before ids were normalised may still hold it) links the Mailgun event whose
``message.headers.message-id`` is ``abc@mail``, and a touch confirmed now is stored without them
(``gate.touches.normalize_message_id``), so SendGrid's and Smartlead's bracketed ids link it too.

Reference, section 1.2: Mailgun message correlation is ``event-data.message.headers.message-id``
(fixture 1.4: ``"message-id": "fixture-0001@mg.example.com"``); SendGrid's ``smtp-id`` and
Smartlead's ``sent_message.message_id`` carry the same kind of id *with* brackets
(``"<fixture-0001@example.com>"``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.events.conftest import World
from tests.webhooks.conftest import MAILGUN_BODY, NOW, dumps

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.models import Event
from leadpool.webhooks import WebhookSettings, handle


@pytest.fixture
def world(db: Database) -> World:
    return World(db)


def test_a_mailgun_bounce_links_the_touch_stored_with_the_bracketed_message_id(
    db: Database, world: World, secrets: WebhookSettings
) -> None:
    agency = world.agency()
    campaign = world.campaign(agency, channels=["email"])
    lead = world.lead(email="bounced.person@example.com")
    world.own(lead, agency, campaign)
    touch = world.touch(
        lead, campaign, agency, message_id="<fixture-0001@mg.example.com>", sender="agent@mg.example.com"
    )
    with session_scope(db) as s:
        result = handle("mailgun", {}, dumps(MAILGUN_BODY), session=s, settings=secrets, now=NOW)
    assert result.events_recorded == 1
    with session_scope(db) as s:
        linked = s.execute(select(Event.touch_id)).scalar()
    assert linked == touch


def test_an_event_with_the_bracketed_id_links_the_touch_stored_without_them(
    db: Database, world: World
) -> None:
    agency = world.agency()
    campaign = world.campaign(agency, channels=["email"])
    lead = world.lead(email="bounced.person@example.com")
    world.own(lead, agency, campaign)
    touch = world.touch(lead, campaign, agency, message_id="fixture-0001@example.com")
    with session_scope(db) as s:
        record_event(
            s,
            EventIn(
                type="soft_bounce",
                email="bounced.person@example.com",
                source="smartlead",
                provider_event_id="sl-1",
                provider_message_id=" <fixture-0001@example.com>",
                occurred_at=NOW,
            ),
            at=NOW,
        )
    with session_scope(db) as s:
        linked, detail = s.execute(select(Event.touch_id, Event.detail)).one()
    assert (linked, detail["message_id"]) == (touch, "fixture-0001@example.com")
