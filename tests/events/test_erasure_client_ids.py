"""Erasure (issue 4 item 7) must leave only keyed hashes of the person's addresses.

The event recorder already knows that ids chosen by a sender may be built from the recipient's
address (``events.record.stored_event_id``: "stored as given, erasure would leave the address
behind") and hashes them; erasure does the same for the idempotency keys of the person's checks.
(Provider message ids are kept: they link late events and retried confirmations to the send,
tests/events/test_erasure_message_ids.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate import check
from leadpool.gate.touches import confirm_sent
from leadpool.ingestion import import_people
from leadpool.models import Agency, Campaign, Enrollment, Ownership
from leadpool.privacy import erase

NOON_DENVER = datetime(2025, 1, 14, 17, 0, tzinfo=UTC)
EMAIL = "zelda.quuxington@markerco.example"
ZELDA = {
    "id": "apollo-z-1",
    "first_name": "Zelda",
    "last_name": "Quuxington",
    "email": EMAIL,
    "linkedin_url": "https://www.linkedin.com/in/zelda-quuxington",
    "country": "United States",
    "state": "Colorado",
    "city": "Denver",
    "email_status": "verified",
    "phone_numbers": [
        {"raw_number": "+1 303-555-0142", "sanitized_number": "+13035550142", "type": "mobile"}
    ],
}


def _owned_lead(db: Database) -> tuple[int, int]:
    [lead_id] = import_people(db, [ZELDA], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        agency = Agency(name="A")
        s.add(agency)
        s.flush()
        camp = Campaign(
            agency_id=agency.id, name="c", status="active", channels=["email"], icp={}, daily_quota=100
        )
        s.add(camp)
        s.flush()
        s.add(Ownership(lead_id=lead_id, agency_id=agency.id))
        s.add(Enrollment(lead_id=lead_id, campaign_id=camp.id, agency_id=agency.id))
        return lead_id, camp.id


def _send(
    db: Database, lead_id: int, campaign_id: int, *, key: str | None, message_id: str, week: int = 0
) -> None:
    at = NOON_DENVER + timedelta(weeks=week)  # a Tuesday each: one touch a day is the cap
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=lead_id,
            campaign_id=campaign_id,
            channel="email",
            sender="sdr@agency.example",
            at=at,
            idempotency_key=key,
        )
        assert d.decision == "allow" and d.touch_id is not None
        confirm_sent(s, d.touch_id, message_id, at=at)


def test_erasure_leaves_the_persons_address_in_idempotency_keys(db: Database) -> None:
    lead_id, campaign_id = _owned_lead(db)
    # a sending tool keys its checks by recipient and step
    _send(db, lead_id, campaign_id, key=f"{EMAIL}:step-1", message_id="msg-0001")
    with session_scope(db) as s:
        erase(s, lead_id, actor="dpo")
    with session_scope(db) as s:
        left = s.execute(
            text(
                "SELECT 'touches' AS t, idempotency_key FROM touches WHERE idempotency_key ILIKE :p "
                "UNION ALL SELECT 'decisions', idempotency_key FROM decisions WHERE idempotency_key ILIKE :p"
            ),
            {"p": "%quuxington%"},
        ).all()
    assert left == [], f"the erased person's address is still stored: {left}"


def test_erasure_leaves_no_number_or_profile_of_the_person_in_idempotency_keys(db: Database) -> None:
    lead_id, campaign_id = _owned_lead(db)
    keys = [
        "sms:+13035550142:step-1",  # E.164
        "call-13035550142-2",  # its digits without the +
        "3035550142/step-3",  # national digits
        "li:Zelda-Quuxington:4",  # the profile's slug, as written
        "linkedin.com/in/zelda-quuxington?step=5",
    ]
    for n, key in enumerate(keys):
        _send(db, lead_id, campaign_id, key=key, message_id=f"msg-{n}", week=n)
    # a run of digits that merely holds the number's is someone else's (an order number)
    _send(db, lead_id, campaign_id, key="order-913035550142", message_id="msg-other", week=len(keys))
    with session_scope(db) as s:
        erase(s, lead_id, actor="dpo")
    with session_scope(db) as s:
        stored = s.scalars(
            text("SELECT idempotency_key FROM touches WHERE lead_id = :l ORDER BY id"), {"l": lead_id}
        ).all()
        decided = s.scalars(
            text("SELECT idempotency_key FROM decisions WHERE lead_id = :l ORDER BY id"), {"l": lead_id}
        ).all()
    assert stored == decided and len(stored) == len(keys) + 1
    left = [k for k in stored if "3035550142" in k or "quuxington" in k.lower()]
    assert left == ["order-913035550142"], stored
    # hashed as written: distinct ids stay distinct, and the shape around the address is kept
    assert len(set(stored)) == len(stored)
    assert stored[0].startswith("sms:addr-") and stored[0].endswith(":step-1")


def test_erasure_leaves_no_number_or_profile_of_the_person_in_event_ids(db: Database) -> None:
    lead_id, _campaign_id = _owned_lead(db)
    ids = ["twilio-stop-+13035550142-1", "li-reply-zelda-quuxington-2", "sms-provider-SM0001"]
    with session_scope(db) as s:
        for n, event_id in enumerate(ids):
            record_event(
                s,
                EventIn(
                    type="reply" if n == 1 else "unsubscribe",
                    lead_id=lead_id,
                    channel="linkedin" if n == 1 else "sms",
                    occurred_at=NOON_DENVER,
                    source="tool",
                    provider_event_id=event_id,
                ),
                at=NOON_DENVER,
            )
    with session_scope(db) as s:
        erase(s, lead_id, actor="dpo")
    with session_scope(db) as s:
        stored = s.scalars(text("SELECT provider_event_id FROM events ORDER BY id")).all()
    assert stored[0].startswith("twilio-stop-addr-") and stored[0].endswith("-1")
    assert stored[1].startswith("li-reply-addr-") and stored[1].endswith("-2")
    assert stored[2] == "sms-provider-SM0001"  # nothing of the person in it: kept as given
