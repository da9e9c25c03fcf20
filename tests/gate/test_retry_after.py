"""retry_after must be a moment when the touch is possible again (a worker sleeps until it)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from tests.gate import factories as f
from tests.gate.factories import World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, check, check_many, confirm_sent, windows
from leadpool.gate.windows import SendWindow

TIME_CODES = {
    "cooling",
    "paused_ooo",
    "rest_period",
    "company_paused",
    "lead_daily_cap",
    "lead_weekly_cap",
    "company_daily_cap",
    "company_weekly_cap",
    "sender_daily_cap",
    "agency_daily_cap",
    "quiet_hours",
}
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def _sent(s, lead_id: int, campaign_id: int, at: datetime) -> None:
    d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="linkedin", at=at)
    assert d.touch_id is not None, d.reasons
    confirm_sent(s, d.touch_id, f"msg-{d.touch_id}", at=at)


def _dry(db: Database, lid: int, cid: int, channel: str, at: datetime):
    with session_scope(db) as s:
        return check_many(s, [CheckRequest(lid, cid, channel, at=at, reserve=False)])[0]


def test_lead_daily_cap_retry_after_is_local_midnight_when_the_email_window_is_shut(db: Database) -> None:
    mon_9_ny = utc("2026-03-02T14:00:00")  # Monday 09:00 EST
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(company_id=None)
        _sent(s, lid, w.campaign_id, mon_9_ny)
    d = _dry(db, lid, w.campaign_id, "email", mon_9_ny + timedelta(hours=1))  # 10:00, window open
    assert d.codes == ["lead_daily_cap"]
    retry = max(r.retry_after for r in d.reasons if r.retry_after)
    again = _dry(db, lid, w.campaign_id, "email", retry)
    assert not set(again.codes) & TIME_CODES, (
        f"retry_after {retry.isoformat()} (00:00 in New York) is denied again: {again.reasons}"
    )


def test_lead_daily_cap_retry_after_skips_a_next_day_already_spent_by_a_scheduled_touch(db: Database) -> None:
    """An engine that schedules the next step ahead (``at`` tomorrow) and is denied today must not
    be sent back at midnight into a day that step has spent; here across New York's spring DST."""
    sat_noon = utc("2026-03-07T17:00:00")  # Saturday 12:00 EST
    sun_ten = utc("2026-03-08T14:00:00")  # Sunday 10:00 EDT, the clocks went forward at 02:00
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(company_id=None)
        _sent(s, lid, w.campaign_id, sat_noon - timedelta(hours=1))
        _sent(s, lid, w.campaign_id, sun_ten)
    d = _dry(db, lid, w.campaign_id, "linkedin", sat_noon)
    assert d.codes == ["lead_daily_cap"]
    assert d.retry_after == utc("2026-03-09T04:00:00"), d.retry_after  # Monday 00:00 EDT, not Sunday's
    again = _dry(db, lid, w.campaign_id, "linkedin", d.retry_after)
    assert again.allowed, again.reasons


def test_cooling_that_ends_on_a_saturday_retries_into_the_weekend(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(company_id=None)
        f.set_lead(s, lid, cooling_until=utc("2026-03-07T15:00:00"))  # Saturday 10:00 New York
    d = _dry(db, lid, w.campaign_id, "sms", utc("2026-03-02T15:00:00"))  # Monday 10:00, window open
    assert d.codes == ["cooling"]
    again = _dry(db, lid, w.campaign_id, "sms", d.reasons[0].retry_after)
    assert not set(again.codes) & TIME_CODES, again.reasons


def test_window_inside_a_spring_forward_gap_gives_retry_after_equal_to_now(db: Database) -> None:
    gate = {"windows": {"email": {"start": "02:00", "end": "03:00", "days": ALL_DAYS}}}
    with session_scope(db) as s:
        w = World(s, campaign_gate=gate)
        lid = w.lead(company_id=None)  # New York: 2026-03-08 02:00-03:00 does not exist
    at = utc("2026-03-08T06:30:00")  # 01:30 EST
    d = _dry(db, lid, w.campaign_id, "email", at)
    assert d.codes == ["quiet_hours"]
    retry = d.reasons[0].retry_after
    again = _dry(db, lid, w.campaign_id, "email", retry)
    assert "quiet_hours" not in again.codes or again.reasons[-1].retry_after > retry, (
        f"at retry_after {retry.isoformat()} quiet_hours says retry_after {again.reasons[-1].retry_after}: a spin"
    )


def test_next_open_in_the_repeated_hour_of_fall_back_skips_a_day() -> None:
    ny = windows.zone_for("America/New_York")
    w = SendWindow(time(1, 30), time(5), frozenset(range(7)))
    at = utc("2026-11-01T06:15:00")  # 01:15 EST, the second 01:15 of the night
    assert not windows.is_open(w, at, ny)
    assert windows.is_open(w, utc("2026-11-01T06:30:00"), ny)  # 01:30 EST: open, 15 minutes later
    assert windows.next_open(w, at, ny) == utc("2026-11-01T06:30:00")


def test_the_decision_retry_after_is_the_latest_of_its_reasons_and_none_for_a_permanent_one(
    db: Database,
) -> None:
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(company_id=None)
        f.set_lead(s, lid, cooling_until=utc("2026-03-07T15:00:00"))  # Saturday 10:00 New York
        other = w.lead(company_id=None)
        f.set_lead(
            s, other, cooling_until=utc("2026-03-07T15:00:00"), unsubscribed_at=utc("2026-03-01T00:00:00")
        )
    d = _dry(db, lid, w.campaign_id, "sms", utc("2026-03-02T15:00:00"))
    assert d.retry_after == utc("2026-03-09T13:00:00")  # Monday 09:00 New York, when texts may go
    assert d.as_dict()["retry_after"] == d.retry_after.isoformat()
    assert _dry(db, other, w.campaign_id, "sms", utc("2026-03-02T15:00:00")).retry_after is None
