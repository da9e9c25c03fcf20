"""A provider's batch (SendGrid) locks its events' leads one event at a time, in the order of the
payload, and keeps every lock until the delivery commits. Everything else that locks several
leads (agency cancel/release, finishing a campaign, erasure, a single opt-out with its holders)
locks them at once in id order (leadpool.pool.locks: "so that no two of them wait on each other
in a cycle"). A batch naming a higher-id lead before a lower-id one therefore deadlocks with a
cancel of the agency owning both, and with another batch naming them the other way round.
PostgreSQL then aborts one of them: the webhook delivery fails (5xx, the provider's whole batch is
retried) or the agency cancel fails.

The interleaving is deterministic: the delivery is paused right before it locks its second
event's lead, the other transaction is started until it blocks on the first event's lead, then
the delivery goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.events.conftest import T0, World
from tests.interleaving import interleave
from tests.webhooks.conftest import SendGridSigner, dumps

from leadpool.allocation.agencies import cancel_agency
from leadpool.db import Database, session_scope
from leadpool.webhooks import handle
from leadpool.webhooks.settings import WebhookSettings

LOCK_MARKER = "FOR NO KEY UPDATE"
EPOCH = 1736510400  # T0


def _unsub(email: str, n: int) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": EPOCH + n,
        "event": "unsubscribe",
        "sg_event_id": f"review-m-unsub-{n}-{email}",
        "sg_message_id": f"msg{n}.filter.1.A.0",
    }


def _delivery(signer: SendGridSigner, items: list[dict[str, Any]]) -> tuple[dict[str, str], bytes]:
    body = dumps(items)
    return signer.headers(body, timestamp=str(EPOCH)), body


def _race(
    db: Database, first: Callable[[Session], Any], second: Callable[[Session], Any]
) -> list[BaseException]:
    """``first`` runs until just before its second lead lock; ``second`` runs until it waits on a
    lock; then both go on and commit. Their errors."""
    return [e for e in interleave(db, first, LOCK_MARKER, second, nth=2) if e is not None]


def _setting(signer: SendGridSigner) -> WebhookSettings:
    return WebhookSettings(sendgrid_public_keys=[signer.public_b64])


def test_a_sendgrid_batch_and_an_agency_cancel_at_once_both_succeed(db: Database) -> None:
    w = World(db)
    agency = w.agency()
    campaign = w.campaign(agency)
    low = w.lead(email="low@acme.example")
    high = w.lead(email="high@acme.example")
    assert low < high
    w.own(low, agency, campaign)
    w.own(high, agency)
    signer = SendGridSigner()
    settings = _setting(signer)
    # the payload names the higher-id lead first (SendGrid orders a batch by its own clock)
    headers, body = _delivery(signer, [_unsub("high@acme.example", 1), _unsub("low@acme.example", 2)])
    now = T0 + timedelta(seconds=30)

    errors = _race(
        db,
        lambda s: handle("sendgrid", headers, body, session=s, settings=settings, now=now),
        lambda s: cancel_agency(s, agency, at=now, actor="admin"),
    )
    assert errors == [], f"one side failed: {errors!r}"
    with session_scope(db) as s:
        flagged = s.execute(
            text("SELECT count(*) FROM leads WHERE unsubscribed_at IS NOT NULL AND id = ANY(:i)"),
            {"i": [low, high]},
        ).scalar_one()
        status = s.execute(text("SELECT status FROM agencies WHERE id = :a"), {"a": agency}).scalar_one()
    assert flagged == 2
    assert status == "cancelled"


def test_two_sendgrid_batches_naming_the_same_leads_in_opposite_orders_both_succeed(db: Database) -> None:
    w = World(db)
    a = w.lead(email="ann@acme.example")
    b = w.lead(email="bob@acme.example")
    signer = SendGridSigner()
    settings = _setting(signer)
    h1, b1 = _delivery(signer, [_unsub("bob@acme.example", 1), _unsub("ann@acme.example", 2)])
    h2, b2 = _delivery(signer, [_unsub("ann@acme.example", 3), _unsub("bob@acme.example", 4)])
    now = T0 + timedelta(seconds=30)

    errors = _race(
        db,
        lambda s: handle("sendgrid", h1, b1, session=s, settings=settings, now=now),
        lambda s: handle("sendgrid", h2, b2, session=s, settings=settings, now=now),
    )
    assert errors == [], f"a delivery failed (the provider retries the whole batch): {errors!r}"
    with session_scope(db) as s:
        n = s.execute(text("SELECT count(*) FROM events WHERE source = 'sendgrid'")).scalar_one()
    assert n == 4
    assert a < b
