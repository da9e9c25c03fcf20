"""Webhooks across the upgrade (migration 0017) and under transient database errors."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

from sqlalchemy import text
from tests.events.conftest import World
from tests.webhooks.conftest import NOW, POSTMARK_AUTH, POSTMARK_BOUNCE, dumps

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.events.record import stored_event_id
from leadpool.models import Event
from leadpool.webhooks import WebhookSettings, handle


def test_postmark_retry_of_a_bounce_stored_before_the_upgrade_is_a_duplicate(
    db: Database, secrets: WebhookSettings
) -> None:
    # a soft bounce recorded by the previous release: its provider_event_id was "Bounce:<ID>"
    soft = {
        **POSTMARK_BOUNCE,
        "Type": "SoftBounce",
        "TypeCode": 4096,
        "ID": 555,
        "Details": "smtp;452 4.2.2 Mailbox full",
    }
    key = get_settings().resolved_secret_key()
    with session_scope(db) as s:
        s.add(
            Event(
                type="soft_bounce",
                lead_id=None,
                channel="email",
                occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
                received_at=NOW,
                source="postmark",
                provider_event_id=stored_event_id("Bounce:555", key),
            )
        )
    with session_scope(db) as s:  # the upgrade
        for sql in importlib.import_module("leadpool.migrations.versions.0017_one_spelling").statements():
            s.execute(text(sql))
    # Postmark retries the same delivery after the upgrade
    with session_scope(db) as s:
        r = handle(
            "postmark", {"Authorization": POSTMARK_AUTH}, dumps(soft), session=s, settings=secrets, now=NOW
        )
    with session_scope(db) as s:
        n = s.execute(text("SELECT count(*) FROM events WHERE source = 'postmark'")).scalar_one()
    assert r.duplicates == 1 and n == 1, (r, n)


def test_webhook_transient_db_error_is_not_swallowed(db: Database, secrets: WebhookSettings) -> None:
    # a lock timeout (or a deadlock) on one event of a delivery is transient: the provider must retry
    world = World(db)
    lead = world.lead(email="bounced.person@example.com")
    holder = db.sessionmaker()
    holder.execute(text("SELECT id FROM leads WHERE id = :i FOR UPDATE"), {"i": lead})
    try:
        s = db.sessionmaker()
        s.execute(text("SET lock_timeout = '200ms'"))
        raised = None
        try:
            result = handle(
                "postmark",
                {"Authorization": POSTMARK_AUTH},
                dumps(POSTMARK_BOUNCE),
                session=s,
                settings=secrets,
                now=NOW,
            )
            s.commit()
        except Exception as e:  # noqa: BLE001
            raised = e
            s.rollback()
        finally:
            s.close()
    finally:
        holder.rollback()
        holder.close()
    with session_scope(db) as s2:
        stored = s2.execute(text("SELECT count(*) FROM events")).scalar_one()
    # the unsubscribe/bounce is neither stored nor retried: the delivery got a normal answer
    assert raised is not None or stored == 1, (result.rejected, stored)
