"""Provider event ids built from the recipient's address (Smartlead, SES, Postmark, Instantly) are
stored with the address replaced by its keyed hash: erasure leaves none behind, retries still match."""

from __future__ import annotations

from sqlalchemy import text
from tests.events.conftest import T0, World

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.privacy import erase

_ID = "EMAIL_REPLY:fixture-stats-0001:Jane.Doe@acme.example:2025-01-10T12:00:00Z"


def _reply(db: Database, provider_event_id: str, email: str = "jane.doe@acme.example") -> object:
    with session_scope(db) as s:
        return record_event(
            s,
            EventIn(
                type="reply",
                email=email,
                text="Thanks, not for us.",
                source="smartlead",
                provider_event_id=provider_event_id,
                occurred_at=T0,
            ),
        )


def _stored_ids(db: Database) -> list[str]:
    with db.engine.connect() as c:
        return [r[0] for r in c.execute(text("SELECT provider_event_id FROM events ORDER BY id"))]


def test_an_address_in_an_event_id_is_stored_hashed_and_a_retry_is_still_a_duplicate(db: Database) -> None:
    first = _reply(db, _ID)
    (stored,) = _stored_ids(db)
    assert "@" not in stored and "jane" not in stored.lower() and "acme" not in stored
    assert stored.startswith("EMAIL_REPLY:fixture-stats-0001:addr-") and stored.endswith(
        ":2025-01-10T12:00:00Z"
    )
    retry = _reply(db, _ID)
    assert retry.duplicate and retry.event_id == first.event_id  # type: ignore[attr-defined]
    other = _reply(db, _ID.replace("Jane.Doe", "John.Roe"), email="john.roe@acme.example")
    assert not other.duplicate  # type: ignore[attr-defined]
    assert _stored_ids(db)[1] != stored


def test_erasure_hashes_an_address_left_in_an_event_id_stored_before(db: Database, world: World) -> None:
    lead = world.lead(email="jane.doe@acme.example")
    with db.engine.begin() as c:  # stored as given, before ids were hashed on arrival
        c.execute(
            text(
                "INSERT INTO events (type, lead_id, occurred_at, received_at, source, provider_event_id) "
                "VALUES ('reply', :l, :t, :t, 'smartlead', :p)"
            ),
            {"l": lead, "t": T0, "p": _ID},
        )
    with session_scope(db) as s:
        erase(s, lead, actor="dpo")
    (stored,) = _stored_ids(db)
    assert "@" not in stored and stored.startswith("EMAIL_REPLY:fixture-stats-0001:addr-")


def test_an_event_about_an_erased_person_applies_but_keeps_no_text_or_detail(
    db: Database, world: World
) -> None:
    lead = world.lead(email="jane.doe@acme.example")
    with session_scope(db) as s:
        erase(s, lead, actor="dpo")
    # a late reply by address (the tombstone holds none: found through the erased suppression),
    # then one naming the lead
    by_address = _reply(db, "late-1")
    with session_scope(db) as s:
        by_lead = record_event(
            s,
            EventIn(
                type="reply",
                lead_id=lead,
                text="Call me on +1 303 555 0100",
                source="smartlead",
                provider_event_id="late-2",
                occurred_at=T0,
                detail={"from": "jane.doe@acme.example"},
            ),
        )
    assert not by_address.duplicate and not by_lead.duplicate  # type: ignore[attr-defined]
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT provider_event_id, text, detail FROM events ORDER BY id")).all()
        replied = c.execute(text("SELECT replied_at FROM leads WHERE id = :l"), {"l": lead}).scalar()
    assert [(r[1], r[2]) for r in rows] == [(None, None), (None, None)]
    assert replied == T0  # the reply still stops everything
