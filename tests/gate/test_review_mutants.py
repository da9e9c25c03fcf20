"""Rules the rest of the gate suite could not tell from a slightly wrong one (found by mutation).

Each test pins one boundary or one instant a sending worker relies on: a retry_after is the first
moment the reason has passed, so a check dated exactly at it must not be denied for that reason
again, and a cap lowered below what a lead already has still names the moment a touch fits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, check, check_many, confirm_sent

T0 = MONDAY_OPEN  # Monday 10:00 in New York


def _sent(s: Session, lead_id: int, campaign_id: int, at: datetime) -> None:
    d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="linkedin", at=at)
    assert d.touch_id is not None, d.reasons
    confirm_sent(s, d.touch_id, f"msg-{d.touch_id}", at=at)


def _dry(db: Database, lead_id: int, campaign_id: int, at: datetime, channel: str = "linkedin") -> Any:
    with session_scope(db) as s:
        return check_many(s, [CheckRequest(lead_id, campaign_id, channel, at=at, reserve=False)])[0]


def _retry(decision: Any, code: str) -> datetime:
    found = [r.retry_after for r in decision.reasons if r.code == code]
    assert found and found[0] is not None, decision.reasons
    return found[0]


def test_lead_weekly_cap_touch_exactly_seven_days_old_has_left_the_window(db: Database) -> None:
    """The rolling 7 days are (at - 7 days, at]: the lead_weekly_cap retry_after is the oldest
    touch + 7 days, so a check dated exactly then must not be denied lead_weekly_cap again (a worker
    that sleeps until retry_after would be refused and sleep again for nothing)."""
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(company_id=None)
        for days in (6, 2, 1):
            _sent(s, lid, w.campaign_id, T0 - timedelta(days=days))
    d = _dry(db, lid, w.campaign_id, T0)
    assert d.codes == ["lead_weekly_cap"]
    retry = _retry(d, "lead_weekly_cap")
    assert retry == T0 + timedelta(days=1)
    again = _dry(db, lid, w.campaign_id, retry)
    assert "lead_weekly_cap" not in again.codes, again.reasons
    before = _dry(db, lid, w.campaign_id, retry - timedelta(seconds=1))
    assert "lead_weekly_cap" in before.codes


def test_lead_weekly_cap_lowered_below_the_touches_had_names_when_enough_have_aged_out(db: Database) -> None:
    """A campaign may lower the weekly cap (2) below what the lead already had this week (3
    touches). One more fits only when two of them have left the 7 days, i.e. 7 days after the
    second oldest, not the oldest: a retry_after at the oldest + 7 days is denied again."""
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(company_id=None)
        for days in (6, 5, 1):
            _sent(s, lid, w.campaign_id, T0 - timedelta(days=days))
        low = f.campaign(s, w.agency_id, gate={"lead_weekly_cap": 2})
        s.execute(
            text("UPDATE enrollments SET status = 'ended', ended_at = now() WHERE lead_id = :l"), {"l": lid}
        )
        f.enroll(s, lid, low, w.agency_id)
    d = _dry(db, lid, low, T0)
    assert d.codes == ["lead_weekly_cap"]
    retry = _retry(d, "lead_weekly_cap")
    assert retry == T0 + timedelta(days=2), d.reasons
    again = _dry(db, lid, low, retry)
    assert "lead_weekly_cap" not in again.codes, again.reasons


def _company_pause(s: Session, w: World, lid: int, until: datetime) -> None:
    colleague = f.lead(s, company_id=w.company_id)
    s.execute(
        text(
            "INSERT INTO company_pauses (company_id, lead_id, kind, cause_event_id, started_at, until) "
            "VALUES (:c, :l, 'other', 987654, :start, :until)"
        ),
        {"c": w.company_id, "l": colleague, "start": until - timedelta(days=14), "until": until},
    )


_ENDS: dict[str, Any] = {
    "cooling": lambda s, w, lid, until: f.set_lead(s, lid, cooling_until=until),
    "paused_ooo": lambda s, w, lid, until: f.set_lead(s, lid, paused_until=until),
    "rest_period": lambda s, w, lid, until: f.set_lead(s, lid, rest_until=until),
    "company_paused": _company_pause,
}


@pytest.mark.parametrize("code", sorted(_ENDS))
def test_a_pause_is_over_at_its_retry_after(db: Database, code: str) -> None:
    """cooling_until, paused_until, rest_until and a company pause's until are the first instant
    the lead may be touched again (the retry_after the gate gives): a check dated exactly then is
    not denied for it, one a second earlier is."""
    until = T0 + timedelta(hours=1)  # Monday 11:00 in New York: no window moves it
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead()
        _ENDS[code](s, w, lid, until)
    d = _dry(db, lid, w.campaign_id, T0)
    assert d.codes == [code]
    assert _retry(d, code) == until
    assert code in _dry(db, lid, w.campaign_id, until - timedelta(seconds=1)).codes
    at_end = _dry(db, lid, w.campaign_id, until)
    assert at_end.allowed, at_end.reasons


def test_company_daily_cap_retry_after_is_the_leads_local_midnight(db: Database) -> None:
    """The company's daily cap counts the lead's local calendar day, so it resets at the lead's
    local midnight (05:00 UTC for New York in winter), not at the UTC midnight after that date
    (19:00 the same evening in New York, when the two touches of the day still count)."""
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead()
        for _ in range(2):
            assert check(s, lead_id=w.lead(), campaign_id=w.campaign_id, channel="linkedin", at=T0).allowed
    d = _dry(db, lid, w.campaign_id, T0)
    assert d.codes == ["company_daily_cap"]
    retry = _retry(d, "company_daily_cap")
    assert retry == datetime.fromisoformat("2026-03-03T05:00:00+00:00")
    again = _dry(db, lid, w.campaign_id, retry)
    assert "company_daily_cap" not in again.codes, again.reasons


def _primed(db: Database) -> World:
    """A world whose campaign policy this process has resolved (one full check done), so the next
    reserving check of its campaign goes through the fast path (gate_fast_check) first."""
    with session_scope(db) as s:
        w = World(s)
        first = w.lead(company_id=None)
    with session_scope(db) as s:
        assert check(s, lead_id=first, campaign_id=w.campaign_id, channel="linkedin", at=T0).allowed
    return w


def _new_lead(db: Database, w: World, **kw: Any) -> int:
    with session_scope(db) as s:
        w.session = s
        return w.lead(**kw)


def test_email_window_closes_at_1900_local_on_the_fast_path_too(db: Database) -> None:
    """The email window is 07:00-19:00, end exclusive: a reserving check at 19:00:00 in New York
    is quiet hours, whichever path decides it (the fast path decides clean allows on its own)."""
    w = _primed(db)
    lid = _new_lead(db, w, company_id=None)
    seven_pm = datetime.fromisoformat("2026-03-03T00:00:00+00:00")  # Monday 19:00 EST
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=lid,
            campaign_id=w.campaign_id,
            channel="email",
            sender="anna@agency.example",
            at=seven_pm,
        )
    assert d.codes == ["quiet_hours"], d.reasons
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=lid,
            campaign_id=w.campaign_id,
            channel="email",
            sender="anna@agency.example",
            at=seven_pm - timedelta(seconds=1),
        )
    assert d.allowed, d.reasons


def test_a_lead_converted_with_its_owner_is_not_touched_on_the_fast_path(db: Database) -> None:
    """A conversion recorded on the ownership (the agency's deal) stops automation like one on the
    lead, whichever path decides: neither the fast path nor the full check may allow it (the
    fast path declines, and the full check must then deny it as converted)."""
    w = _primed(db)
    lid = _new_lead(db, w, company_id=None)
    with session_scope(db) as s:
        s.execute(
            text("UPDATE ownerships SET converted_at = :t WHERE lead_id = :l"),
            {"t": T0 - timedelta(days=1), "l": lid},
        )
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=T0)
    assert d.codes == ["converted"], d.reasons
