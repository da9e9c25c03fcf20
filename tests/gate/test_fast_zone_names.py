"""Zone names PostgreSQL and zoneinfo read differently, and names that are not a place: the fast path never allows what the full check denies."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, check, check_many

# Monday 2026-06-01 17:30 UTC = 19:30 CEST in Central Europe: the email window (07-19) is closed.
MONDAY_10_UTC = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
SUMMER_EVENING = datetime.fromisoformat("2026-06-01T17:30:00+00:00")


@pytest.mark.parametrize("zone", ["CET", "MET", "EET", "WET"])
def test_fast_path_never_allows_what_full_check_denies_for_legacy_zone_names(db: Database, zone: str) -> None:
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        lid = w.lead(company_id=None, time_zone=zone)
    # prime the campaign's policy so the fast path is used for the next single check
    with session_scope(db) as s:
        assert check(s, lead_id=primer, campaign_id=w.campaign_id, channel="linkedin", at=MONDAY_OPEN).allowed
    # the full check alone (no reservation -> no fast path), at an instant when Python's zone says closed
    at = SUMMER_EVENING if zone != "EET" else datetime.fromisoformat("2026-06-01T16:30:00+00:00")
    if zone == "WET":
        at = datetime.fromisoformat("2026-06-01T18:30:00+00:00")
    with session_scope(db) as s:
        full = check_many(s, [CheckRequest(lid, w.campaign_id, "email", at=at, reserve=False)])[0]
    assert full.codes == ["quiet_hours"], full.reasons
    # the same question with a reservation goes through gate_fast_check first
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=at)
    assert not d.allowed, f"fast path allowed a send the full check denies as quiet_hours ({zone})"


@pytest.mark.parametrize("zone", ["Factory", "localtime"])
@pytest.mark.parametrize("reserve", [False, True])
def test_sms_to_a_lead_whose_zone_is_not_a_place_is_unknown_timezone(
    db: Database, zone: str, reserve: bool
) -> None:
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        lid = w.lead(company_id=None, time_zone=zone)
    with session_scope(db) as s:
        check(s, lead_id=primer, campaign_id=w.campaign_id, channel="linkedin", at=MONDAY_10_UTC)
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="sms", at=MONDAY_10_UTC, reserve=reserve)
    assert "unknown_timezone" in d.codes, f"{zone!r} was taken as a known zone: {d.decision} {d.reasons}"
