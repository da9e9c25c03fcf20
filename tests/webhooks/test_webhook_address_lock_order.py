"""Lead-less events with words (a bounce's reason) take an advisory lock per address, one event at a
time in the payload's order, held to the delivery's commit (events/record.py, lock_addresses in
record_event). Two deliveries naming the same two unknown addresses in opposite orders deadlock:
the lead-row pre-locking (lock_leads_of) does not cover the address locks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from tests.events.conftest import T0
from tests.interleaving import interleave
from tests.webhooks.conftest import SendGridSigner, dumps

from leadpool.db import Database, session_scope
from leadpool.webhooks import handle
from leadpool.webhooks.settings import WebhookSettings

EPOCH = 1736510400  # T0
ADDRESS_LOCK = "pg_advisory_xact_lock(k)"


def _bounce(email: str, n: int) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": EPOCH + n,
        "event": "bounce",
        "type": "bounce",
        "bounce_classification": "Invalid Address",
        "status": "5.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "sg_event_id": f"review-n-bounce-{n}-{email}",
        "sg_message_id": f"msg{n}.filter.1.A.0",
    }


def test_two_deliveries_about_unknown_addresses_in_opposite_orders_both_succeed(db: Database) -> None:
    signer = SendGridSigner()
    settings = WebhookSettings(sendgrid_public_keys=[signer.public_b64])
    b1 = dumps([_bounce("xavier@nowhere.example", 1), _bounce("yolanda@nowhere.example", 2)])
    b2 = dumps([_bounce("yolanda@nowhere.example", 3), _bounce("xavier@nowhere.example", 4)])
    h1 = signer.headers(b1, timestamp=str(EPOCH))
    h2 = signer.headers(b2, timestamp=str(EPOCH))
    now = T0 + timedelta(seconds=30)

    errors = [
        e
        for e in interleave(
            db,
            lambda s: handle("sendgrid", h1, b1, session=s, settings=settings, now=now),
            ADDRESS_LOCK,
            lambda s: handle("sendgrid", h2, b2, session=s, settings=settings, now=now),
            nth=2,
        )
        if e is not None
    ]
    assert errors == [], f"a delivery failed (the provider retries the whole batch): {errors!r}"
    with session_scope(db) as s:
        n = s.execute(text("SELECT count(*) FROM events WHERE source = 'sendgrid'")).scalar_one()
    assert n == 4
