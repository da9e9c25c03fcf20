"""A lead whose own zone is unknown but whose country is known: a send window must be open on
every clock of its country (country_clocks), with the same answer from the full check, the fast
path, GateWorker and check_many; without a country the window is read in UTC, as before."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from tests.gate.factories import World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, GateDecision, GateWorker, check, check_many, confirm_sent, fast

# Monday 2 March 2026, before the US springs forward (Sunday 8 March). The email window (07:00-19:00,
# Monday to Friday) is open on all seven US clocks from 07:00 in Honolulu (17:00 UTC) until 19:00
# in New York (00:00 UTC).
MONDAY = datetime.fromisoformat("2026-03-02T15:00:00+00:00")  # 10:00 New York, 05:00 Honolulu
US_OPENS = datetime.fromisoformat("2026-03-02T17:00:00+00:00")
US_CLOSES = datetime.fromisoformat("2026-03-03T00:00:00+00:00")


@pytest.fixture(autouse=True)
def _defaults(fresh_policy: None) -> None:
    """The platform policy's defaults."""


def _check(db: Database, lead: int, campaign: int, at: datetime, channel: str = "email") -> GateDecision:
    with session_scope(db) as s:
        return check(s, lead_id=lead, campaign_id=campaign, channel=channel, at=at, reserve=False)


def test_the_window_of_a_us_lead_without_a_zone_is_open_only_while_it_is_open_on_every_us_clock(
    db: Database,
) -> None:
    with session_scope(db) as s:
        w = World(s)
        us = w.lead(company_id=None, country="United States", time_zone=None)
        nowhere = w.lead(company_id=None, country=None, time_zone=None, phone=None)
        boston = w.lead(company_id=None, country="United States", time_zone="America/New_York")

    early = _check(db, us, w.campaign_id, MONDAY)  # open in UTC and in New York: 05:00 in Honolulu
    assert early.codes == ["quiet_hours"]
    (reason,) = early.reasons
    assert reason.retry_after == US_OPENS
    assert "unknown" in reason.message and "all 7 clocks of US" in reason.message
    assert "05:00 in Pacific/Honolulu" in reason.message
    assert _check(db, nowhere, w.campaign_id, MONDAY).allowed  # no country: UTC, as before
    assert _check(db, boston, w.campaign_id, MONDAY).allowed  # its own zone

    assert _check(db, us, w.campaign_id, US_OPENS).allowed
    assert _check(db, us, w.campaign_id, US_CLOSES - timedelta(minutes=1)).allowed
    late = _check(db, us, w.campaign_id, US_CLOSES)  # 19:00 in New York
    assert late.codes == ["quiet_hours"] and late.reasons[0].retry_after == US_OPENS + timedelta(days=1)
    assert "19:00 in America/New_York" in late.reasons[0].message

    # Friday evening in New York: the next hour open everywhere is Monday's, after the US moved
    # to summer time (Honolulu did not: 07:00 there is still 17:00 UTC)
    friday = _check(db, us, w.campaign_id, datetime.fromisoformat("2026-03-07T00:00:00+00:00"))
    assert friday.reasons[0].retry_after == datetime.fromisoformat("2026-03-09T17:00:00+00:00")

    # sms and phone still need the lead's own time; linkedin has no window
    assert _check(db, us, w.campaign_id, US_OPENS, "sms").codes == ["unknown_timezone"]
    assert _check(db, us, w.campaign_id, MONDAY, "linkedin").allowed


def test_a_country_on_one_clock_reads_the_window_on_it_and_clocks_too_far_apart_never_open(
    db: Database,
) -> None:
    with session_scope(db) as s:
        w = World(s)
        # stored without a zone (as before migration 0036 resolved such leads): Argentina is UTC-3
        argentina = w.lead(company_id=None, country="Argentina", time_zone=None)
        narrow = World(s, campaign_gate={"windows": {"email": {"start": "09:00", "end": "17:00"}}})
        russia = narrow.lead(company_id=None, country="RU", time_zone=None)
    evening = datetime.fromisoformat("2026-03-02T22:30:00+00:00")  # 19:30 in Buenos Aires
    d = _check(db, argentina, w.campaign_id, evening)
    assert d.codes == ["quiet_hours"] and "the clock of AR" in d.reasons[0].message
    assert d.reasons[0].retry_after == datetime.fromisoformat("2026-03-03T10:00:00+00:00")
    assert _check(db, argentina, w.campaign_id, MONDAY).allowed  # 12:00 there

    # Kaliningrad (UTC+2) and Kamchatka (UTC+12) share no hour of a 09:00-17:00 window
    for at in (MONDAY, MONDAY + timedelta(hours=6), MONDAY + timedelta(hours=12)):
        d = _check(db, russia, narrow.campaign_id, at)
        assert d.codes == ["quiet_hours"] and d.reasons[0].retry_after is None
        assert "no hour is inside the window on all of them" in d.reasons[0].message


def test_the_fast_path_worker_and_batch_give_the_full_checks_answer(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        us = w.lead(company_id=None, country="usa", time_zone=None)
        nowhere = w.lead(company_id=None, country=None, time_zone=None, phone=None)
        assert check(s, lead_id=primer, campaign_id=w.campaign_id, channel="linkedin", at=MONDAY).allowed
    assert w.campaign_id in fast._policies  # the campaign's policy is known: the fast path answers
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        kw: dict[str, Any] = {"campaign_id": w.campaign_id, "sender": None, "idempotency_key": None}
        # open in UTC: before migration 0036 the fast path allowed this at 05:00 in Honolulu
        assert fast.try_allow(dbapi, lead_id=us, channel="email", at=MONDAY, **kw) is None
        assert fast.try_allow(dbapi, lead_id=nowhere, channel="email", at=MONDAY, **kw) is not None
        # no window on linkedin: the fast path still answers for a lead without a zone
        assert fast.try_allow(dbapi, lead_id=us, channel="linkedin", at=MONDAY, **kw) is not None
        s.rollback()
    with GateWorker(db) as gate:
        denied = gate.check(lead_id=us, campaign_id=w.campaign_id, channel="email", at=MONDAY)
        allowed = gate.check(lead_id=us, campaign_id=w.campaign_id, channel="email", at=US_OPENS)
    assert denied.codes == ["quiet_hours"] and denied.reasons[0].retry_after == US_OPENS
    assert allowed.allowed and allowed.touch_id is not None
    with session_scope(db) as s:
        got = check_many(
            s,
            [
                CheckRequest(us, w.campaign_id, "email", None, MONDAY + timedelta(days=1), True, None),
                CheckRequest(nowhere, w.campaign_id, "email", None, MONDAY + timedelta(days=1), True, None),
            ],
        )
    assert [d.codes for d in got] == [["quiet_hours"], []]
    assert got[0].reasons[0].retry_after == US_OPENS + timedelta(days=1)


def test_a_cap_denial_waits_for_the_hour_open_on_every_clock(db: Database) -> None:
    """A lead-day cap resets at midnight (UTC without a zone); its retry_after moves to when the
    window is next open on all the country's clocks, not when UTC's is."""
    with session_scope(db) as s:
        w = World(s)
        us = w.lead(company_id=None, country="United States", time_zone=None)
    with session_scope(db) as s:
        sent = check(s, lead_id=us, campaign_id=w.campaign_id, channel="linkedin", at=US_OPENS)
        assert sent.touch_id is not None
        confirm_sent(s, sent.touch_id, "li-1", at=US_OPENS)
    d = _check(db, us, w.campaign_id, US_OPENS + timedelta(hours=1))
    assert d.codes == ["lead_daily_cap"]
    assert d.reasons[0].retry_after == US_OPENS + timedelta(days=1)


def test_the_table_holds_each_clock_once_and_every_country_ingestion_knows(db: Database) -> None:
    from leadpool.ingestion.timezone import clock, country_clocks

    with db.engine.connect() as c:
        rows = c.execute(text("SELECT code, zone FROM country_clocks ORDER BY code, rank")).all()
    stored: dict[str, list[str]] = {}
    for code, zone in rows:
        stored.setdefault(code, []).append(zone)
    assert stored == {k: list(v) for k, v in country_clocks().items()}
    assert len(stored["US"]) == 7 and stored["US"][0] == "America/New_York"
    assert stored["AR"] == ["America/Argentina/Buenos_Aires"] and len(stored["ES"]) == 2
    for zones in stored.values():
        assert len({clock(z) for z in zones}) == len(zones)
