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
from leadpool.gate import CheckRequest, check, check_many
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


def test_sms_to_an_ambiguous_city_with_a_maine_number_follows_maine_time(db: Database) -> None:
    """A US city name that exists in several time zones, without a state, is resolved to the most
    populous namesake, and the gate then texts by that guessed zone: a lead in Portland (no state
    given, as a CSV or a sparse Apollo record has it) with a Maine mobile (+1 207) is put in
    America/Los_Angeles, and an SMS at 19:30 Pacific (22:30 in Maine, where the number and
    Portland, ME both are) is allowed. TCPA forbids texting after 21:00 at the called party's
    location; the reference says to resolve the zone "from the number and address" and to fail
    closed when it is unknown. Expected: the SMS is denied (quiet_hours or unknown_timezone).
    Fault: ingestion/timezone.py resolve_time_zone ("the most populous city of that name in the
    country") and the phone number's own region is never consulted.
    """
    lead_id = _import_one(
        db,
        {
            "id": "apollo-portland-me",
            "first_name": "Morgan",
            "email": "morgan@harbor.example",
            "email_status": "verified",
            "city": "Portland",
            "country": "United States",
            "phone_numbers": [{"sanitized_number": "+12075550134", "type": "mobile"}],
        },
    )
    with session_scope(db) as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None and lead.phone == "+12075550134"
        zone, source = lead.time_zone, lead.time_zone_source
    _, campaign_id = _owned_and_enrolled(db, lead_id)
    # Tuesday 2026-06-02 02:30 UTC = Monday 19:30 PDT = Monday 22:30 EDT (Maine)
    at = datetime.fromisoformat("2026-06-02T02:30:00+00:00")
    with session_scope(db) as s:
        d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="sms", at=at, reserve=False)
    assert not d.allowed, (
        f"SMS allowed at 22:30 local for a Portland lead with a Maine (+1 207) number: the zone was "
        f"guessed as {zone!r} (source {source!r}); codes {d.codes}"
    )


def test_sms_to_a_small_town_in_a_split_state_is_denied_for_want_of_a_zone(db: Database) -> None:
    """A town too small for the GeoNames city list, in a state that spans two zones, takes the zone
    of the state's most populous city: Ontario, Oregon (Malheur County, Mountain time,
    America/Boise) is put in America/Los_Angeles. An SMS at 19:30 Pacific is then 20:30 in
    Ontario, outside the platform's SMS window (09:00-20:00 local, docs/gate.md, chosen to sit
    inside the 8 pm state rules); in a split state whose big city is in the western zone the
    hour of error lands past the window the same way. Split states are exactly what Spoke's users
    asked to be handled (peers.md 2.6). Expected: deny (the state does not determine the zone: unknown, or the
    latest-opening/earliest-closing zone of the state). Fault: ingestion/timezone.py, the
    ``state`` source (admin1_zone = the most populous city's zone).
    """
    lead_id = _import_one(
        db,
        {
            "id": "apollo-ontario-or",
            "first_name": "Casey",
            "email": "casey@onion.example",
            "email_status": "verified",
            "city": "Ontario",
            "state": "Oregon",
            "country": "United States",
            "phone_numbers": [{"sanitized_number": "+15415550177", "type": "mobile"}],
        },
    )
    with session_scope(db) as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        zone, source = lead.time_zone, lead.time_zone_source
    _, campaign_id = _owned_and_enrolled(db, lead_id)
    # Tuesday 2026-06-02 02:30 UTC = Monday 19:30 PDT = Monday 20:30 MDT (Ontario, OR)
    at = datetime.fromisoformat("2026-06-02T02:30:00+00:00")
    with session_scope(db) as s:
        d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="sms", at=at, reserve=False)
    assert not d.allowed, (
        f"SMS allowed at 20:30 local in Ontario, Oregon (Mountain time): zone guessed {zone!r} "
        f"from {source!r}; codes {d.codes}"
    )


def test_a_guessed_zone_still_gives_email_its_hours_but_no_sms(db: Database) -> None:
    """Portland without its state, and a Denver number (no Portland is on Mountain time): the zone
    is a guess (Los Angeles, the biggest Portland). Email keeps working hours in it; sms and phone
    are denied unknown_timezone, on the fast path and the full check alike."""
    lead_id = _import_one(
        db,
        {
            "id": "apollo-portland-guess",
            "first_name": "Sam",
            "email": "sam@harbor.example",
            "email_status": "verified",
            "city": "Portland",
            "country": "United States",
            "phone_numbers": [{"sanitized_number": "+13035550134", "type": "mobile"}],
        },
    )
    with session_scope(db) as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None and (lead.time_zone, lead.time_zone_source) == (
            "America/Los_Angeles",
            "guess",
        )
    _, campaign_id = _owned_and_enrolled(db, lead_id)
    at = datetime.fromisoformat("2026-06-02T18:00:00+00:00")  # Tuesday 11:00 in Los Angeles
    with session_scope(db) as s:
        email = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="email", at=at, reserve=False)
        sms = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="sms", at=at, reserve=False)
        batch = check_many(
            s, [CheckRequest(lead_id=lead_id, campaign_id=campaign_id, channel="phone", at=at, reserve=False)]
        )
    assert email.allowed, email.codes
    assert sms.codes == ["unknown_timezone"] and "likeliest" in sms.reasons[0].message
    assert batch[0].codes == ["unknown_timezone"]
