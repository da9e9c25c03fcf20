"""Peer complaints and legal limits (shared/reference/peers.md, compliance-and-providers.md) replayed
end to end: a person imported the way Apollo or a CSV delivers them, then the gate asked.

peers.md section 2.6: "Quiet hours in the recipient's own timezone (SMS and calls). In Spoke,
texting hours were first enforced in UTC (#441); users then asked for the timezone from the ZIP
code, handling of split states and Arizona's DST". compliance section 4, TCPA: "No telephone
solicitation before 8 am or after 9 pm, local time at the called party's location ... Resolve the
recipient's time zone from the number and address. Fail closed if it is unknown."
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.gate.factories import World as GateWorld
from tests.gate.factories import enroll, own

from leadpool.db import Database, session_scope
from leadpool.gate import check
from leadpool.ingestion import import_people
from leadpool.models import Lead


def _import_one(db: Database, person: dict[str, Any]) -> int:
    result = import_people(db, [person], endpoint="people/match")
    assert not result.rejected, result.rejected
    return result.lead_ids[0]


def _owned_and_enrolled(db: Database, lead_id: int) -> tuple[int, int]:
    with session_scope(db) as s:
        w = GateWorld(s)
        own(s, lead_id, w.agency_id)
        enroll(s, lead_id, w.campaign_id, w.agency_id)
        return w.agency_id, w.campaign_id


def test_sms_to_a_lead_in_an_unambiguous_city_follows_its_own_zone_across_dst(db: Database) -> None:
    """Gap closed (passes): a lead whose zone is derived from a city (no Apollo time_zone) is texted
    by that city's local clock on both sides of a DST change, and Arizona (no DST) stays on MST:
    Reply.io's "UTC with no DST" and Spoke's UTC quiet hours (peers.md 2.6) do not happen here."""
    phoenix = _import_one(
        db,
        {
            "id": "apollo-phoenix",
            "email": "sam@desert.example",
            "email_status": "verified",
            "city": "Phoenix",
            "state": "Arizona",
            "country": "United States",
            "phone_numbers": [{"sanitized_number": "+16025550111", "type": "mobile"}],
        },
    )
    denver = _import_one(
        db,
        {
            "id": "apollo-denver",
            "email": "lee@mile.example",
            "email_status": "verified",
            "city": "Denver",
            "state": "Colorado",
            "country": "United States",
            "phone_numbers": [{"sanitized_number": "+13035550112", "type": "mobile"}],
        },
    )
    with session_scope(db) as s:
        zones = {lid: s.get(Lead, lid).time_zone for lid in (phoenix, denver)}  # type: ignore[union-attr]
    assert zones == {phoenix: "America/Phoenix", denver: "America/Denver"}
    with session_scope(db) as s:
        w = GateWorld(s)
        for lid in (phoenix, denver):
            own(s, lid, w.agency_id)
            enroll(s, lid, w.campaign_id, w.agency_id)
        campaign_id = w.campaign_id

    def allowed(lid: int, at: str) -> bool:
        with session_scope(db) as s:
            return check(
                s,
                lead_id=lid,
                campaign_id=campaign_id,
                channel="sms",
                at=datetime.fromisoformat(at),
                reserve=False,
            ).allowed

    # Monday 2026-06-01 15:30 UTC: 08:30 MST in Phoenix (closed), 09:30 MDT in Denver (open)
    assert not allowed(phoenix, "2026-06-01T15:30:00+00:00")
    assert allowed(denver, "2026-06-01T15:30:00+00:00")
    # Monday 2026-12-07 15:30 UTC: 08:30 MST in both (Denver is back on standard time): closed
    assert not allowed(phoenix, "2026-12-07T15:30:00+00:00")
    assert not allowed(denver, "2026-12-07T15:30:00+00:00")
    # Monday 2026-06-01 02:30 UTC next day = 19:30 MST Phoenix (open), 20:30 MDT Denver (closed)
    assert allowed(phoenix, "2026-06-02T02:30:00+00:00")
    assert not allowed(denver, "2026-06-02T02:30:00+00:00")
