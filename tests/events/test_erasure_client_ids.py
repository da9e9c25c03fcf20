"""Erasure (issue 4 item 7) must leave only keyed hashes of the person's addresses.

The event recorder already knows that ids chosen by a sender may be built from the recipient's
address (``events.record.stored_event_id``: "stored as given, erasure would leave the address
behind") and hashes them; erasure does the same for the idempotency keys of the person's checks.
(Provider message ids are kept: they link late events and retried confirmations to the send,
tests/events/test_erasure_message_ids.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from leadpool.db import Database, session_scope
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


def _send(db: Database, lead_id: int, campaign_id: int, *, key: str | None, message_id: str) -> None:
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=lead_id,
            campaign_id=campaign_id,
            channel="email",
            sender="sdr@agency.example",
            at=NOON_DENVER,
            idempotency_key=key,
        )
        assert d.decision == "allow" and d.touch_id is not None
        confirm_sent(s, d.touch_id, message_id, at=NOON_DENVER)


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
