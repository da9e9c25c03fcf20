"""Events and erasure against a running import batch, and suppressions reaching every lead that
holds the address. An import batch reads the suppressions and writes its leads under the import
lock; an event or an erasure in between would otherwise be lost for those leads (the lead born
without the suppression, the erased data written back). Here a connection holding the lock plays
the batch; the event or erasure must wait for it and then see what it wrote."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import text
from tests.events.conftest import T0, World

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate import check
from leadpool.ingestion.lock import IMPORT_LOCK_KEY
from leadpool.privacy import erase


def _batch(db: Database) -> psycopg.Connection[Any]:
    """An import batch in progress: a transaction holding the import lock."""
    conn = psycopg.connect(db.uri)
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (IMPORT_LOCK_KEY,))
    return conn


def _run_behind(db: Database, work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``work`` in a thread; return once it waits for the import lock (or has finished)."""
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", work()))
    thread.start()
    deadline = time.monotonic() + 30
    with db.engine.connect() as c:
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = c.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalar()
            if waiting:
                break
            c.commit()
            time.sleep(0.01)
    return thread, out


def _unsubscribe(db: Database, **address: str) -> Callable[[], Any]:
    def work() -> Any:
        with session_scope(db) as s:
            return record_event(
                s,
                EventIn(
                    type="unsubscribe", source="sendgrid", provider_event_id="u-1", occurred_at=T0, **address
                ),
            )

    return work


def test_an_unsubscribe_during_an_import_batch_reaches_the_lead_the_batch_writes(db: Database) -> None:
    batch = _batch(db)
    lead = batch.execute("INSERT INTO leads (email) VALUES ('jane@acme.example') RETURNING id").fetchone()
    thread, out = _run_behind(db, _unsubscribe(db, email="jane@acme.example"))
    batch.commit()
    batch.close()
    thread.join()
    assert out["result"].lead_id == lead[0] and "lead:unsubscribed" in out["result"].effects
    with db.engine.connect() as c:
        assert (
            c.execute(text("SELECT unsubscribed_at FROM leads WHERE id = :i"), {"i": lead[0]}).scalar() == T0
        )


def test_an_erasure_during_an_import_batch_is_not_undone_by_it(db: Database, world: World) -> None:
    lead = world.lead(email="bob@acme.example", first_name="Bob")
    batch = _batch(db)  # it has read the lead and will write its fields back
    thread, _ = _run_behind(db, lambda: _erase(db, lead))
    batch.execute("UPDATE leads SET email = 'bob@acme.example', first_name = 'Bob' WHERE id = %s", (lead,))
    batch.commit()
    batch.close()
    thread.join()
    with db.engine.connect() as c:
        row = c.execute(
            text("SELECT erased_at IS NOT NULL, email, first_name FROM leads WHERE id = :i"), {"i": lead}
        ).one()
    assert tuple(row) == (True, None, None)


def _erase(db: Database, lead: int) -> Any:
    with session_scope(db) as s:
        return erase(s, lead, actor="dpo")


def test_a_stop_from_a_shared_number_stops_every_lead_holding_it(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency, channels=["sms", "email"])
    a, b = world.lead(phone="+13035550100"), world.lead(phone="+13035550100")
    for lead in (a, b):
        world.own(lead, agency, campaign)
    with session_scope(db) as s:
        out = record_event(
            s,
            EventIn(
                type="reply",
                phone="(303) 555-0100",
                text="STOP",
                source="twilio",
                provider_event_id="SM1",
                occurred_at=T0,
            ),
        )
    assert out.lead_id is None  # a shared number names nobody in particular
    assert "other_leads:unsubscribed" in out.effects
    later = T0 + timedelta(days=3, hours=6)
    with session_scope(db) as s:
        for lead in (a, b):
            d = check(s, lead_id=lead, campaign_id=campaign, channel="sms", at=later, reserve=False)
            assert "unsubscribed" in d.codes, (lead, d.codes)


def test_a_hard_bounce_for_a_lead_marks_another_lead_whose_address_it_is(db: Database, world: World) -> None:
    holder = world.lead(email="shared@acme.example")
    other = world.lead(email="other@acme.example")
    with session_scope(db) as s:
        out = record_event(
            s,
            EventIn(
                type="hard_bounce",
                lead_id=other,
                email="shared@acme.example",
                source="sendgrid",
                provider_event_id="b-1",
                occurred_at=T0,
                detail={"smtp_status": "5.1.1"},
            ),
        )
    assert "other_leads:email_bounced" in out.effects
    with db.engine.connect() as c:
        bounced = dict(c.execute(text("SELECT id, email_bounced_at FROM leads")).all())
    assert bounced == {holder: T0, other: None}  # the other lead's own address was not the one
