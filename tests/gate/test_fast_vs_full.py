"""Differential tests: the single check's fast path (gate_fast_check, via check()/check_one and
GateWorker.check) against the full check (check_many of one), on identical state.

The full check is asked first with reserve=False (it writes only a decision row, never a touch
or a counter), so the fast path then sees exactly the same touches and counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, text
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, GateWorker, check, check_many
from leadpool.models import Touch

UTC = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")


def _world(db: Database, **world: Any) -> World:
    with session_scope(db) as s:
        return World(s, **world)


def _lead(db: Database, w: World, **kw: Any) -> int:
    with session_scope(db) as s:
        w.session = s
        return w.lead(**kw)


def _prime(db: Database, w: World) -> None:
    """One full check of the campaign, so this process knows its policy and the fast path is used."""
    primer = _lead(db, w, company_id=None)
    with session_scope(db) as s:
        check_many(s, [CheckRequest(primer, w.campaign_id, "linkedin", at=MONDAY_OPEN, reserve=False)])


def _sent(db: Database, w: World, lead_id: int, at: datetime, zone: ZoneInfo, company_id: int | None) -> None:
    """A touch already sent, as confirm_sent leaves it."""
    with session_scope(db) as s:
        s.execute(
            insert(Touch).values(
                lead_id=lead_id,
                company_id=company_id,
                agency_id=w.agency_id,
                campaign_id=w.campaign_id,
                channel="linkedin",
                sender=None,
                state="sent",
                at=at,
                local_date=at.astimezone(zone).date(),
                expires_at=at + timedelta(minutes=15),
                sent_at=at,
            )
        )


def _full(db: Database, w: World, lead_id: int, channel: str, at: datetime, **kw: Any) -> Any:
    with session_scope(db) as s:
        return check_many(s, [CheckRequest(lead_id, w.campaign_id, channel, at=at, reserve=False, **kw)])[0]


def _fast(db: Database, w: World, lead_id: int, channel: str, at: datetime, **kw: Any) -> Any:
    with session_scope(db) as s:
        return check(s, lead_id=lead_id, campaign_id=w.campaign_id, channel=channel, at=at, **kw)


def _control(db: Database, w: World, lead_id: int, at: datetime) -> str:
    """The same reserving check in the default (UTC) session zone, rolled back: the fast path agrees."""
    s = db.sessionmaker()
    try:
        return check(s, lead_id=lead_id, campaign_id=w.campaign_id, channel="email", at=at).decision
    finally:
        s.rollback()
        s.close()


# ---------------------------------------------------------------------------------------------
# 1. email_status case folding: PostgreSQL's lower() vs Python's str.lower()
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["VERİFIED", "Verİfied"])  # U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE
def test_email_status_with_dotted_capital_i_fast_path_allows_what_full_check_denies(
    db: Database, status: str
) -> None:
    w = _world(db)
    _prime(db, w)
    lid = _lead(db, w, company_id=None, email_status=status)
    full = _full(db, w, lid, "email", MONDAY_OPEN)
    assert full.codes == ["email_unverified"], full.reasons  # Python: 'verİfied'.lower() != 'verified'
    fast = _fast(db, w, lid, "email", MONDAY_OPEN)
    assert fast.decision == full.decision, (
        f"fast path {fast.decision} (touch {fast.touch_id}) where the full check says "
        f"{full.codes}: PostgreSQL lower({status!r}) = 'verified'"
    )


def test_email_status_with_dotted_capital_i_gate_worker_allows_what_full_check_denies(db: Database) -> None:
    w = _world(db)
    _prime(db, w)
    lid = _lead(db, w, company_id=None, email_status="VERİFIED")
    full = _full(db, w, lid, "email", MONDAY_OPEN)
    assert full.codes == ["email_unverified"], full.reasons
    with GateWorker(db) as gate:
        d = gate.check(lead_id=lid, campaign_id=w.campaign_id, channel="email", at=MONDAY_OPEN)
    assert d.decision == "deny", f"GateWorker allowed (touch {d.touch_id}); full check: {full.codes}"


# ---------------------------------------------------------------------------------------------
# 2. The rolling 7 days: interval '7 days' in the session's TimeZone (fast path) vs 168 hours
# ---------------------------------------------------------------------------------------------

# Monday 2026-03-09 10:00 EDT (14:00 UTC): the email window is open in New York. The US sprang
# forward on Sunday 2026-03-08, so in a session whose TimeZone is America/New_York,
# p_at - interval '7 days' = Monday 2026-03-02 10:00 EST = 15:00 UTC: 167 hours back, not 168.
SPRING_CHECK = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
# 167.5 hours before the check: inside the rolling 7 days (168 h), outside 7 local calendar days
SPRING_OLDEST = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def _three_touches_this_week(db: Database, w: World, lid: int, cid: int | None, oldest: datetime) -> None:
    # three touches on three different local days of the last 7 days: lead_weekly_cap (3) is spent
    for at in (oldest, oldest + timedelta(days=2), oldest + timedelta(days=4)):
        _sent(db, w, lid, at, NY, cid)


def test_lead_weekly_cap_fast_path_counts_a_167_hour_week_in_a_dst_session_time_zone(db: Database) -> None:
    w = _world(db)
    _prime(db, w)
    lid = _lead(db, w, company_id=None, time_zone="America/New_York")
    _three_touches_this_week(db, w, lid, None, SPRING_OLDEST)
    _fast_denies_in_a_new_york_session(db, w, lid, "lead_weekly_cap")


def _fast_denies_in_a_new_york_session(db: Database, w: World, lid: int, code: str) -> None:
    full = _full(db, w, lid, "email", SPRING_CHECK)
    assert full.codes == [code], full.reasons
    assert _control(db, w, lid, SPRING_CHECK) == "deny"  # in a UTC session the fast path agrees
    with session_scope(db) as s:
        # the server's (or PGTZ's, or the database's) time zone: a server set up in New York
        s.execute(text("SET LOCAL TIME ZONE 'America/New_York'"))
        fast = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=SPRING_CHECK)
    assert fast.decision == "deny", f"fast path allowed touch {fast.touch_id}; the full check: {full.codes}"


@pytest.fixture
def new_york_server_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """libpq's PGTZ: the session TimeZone of every new connection (as a server default would be)."""
    monkeypatch.setenv("PGTZ", "America/New_York")
    yield


def test_lead_weekly_cap_gate_worker_with_a_new_york_session_zone(
    db: Database, new_york_server_zone: None
) -> None:
    w = _world(db)
    _prime(db, w)
    lid = _lead(db, w, company_id=None, time_zone="America/New_York")
    _three_touches_this_week(db, w, lid, None, SPRING_OLDEST)
    full = _full(db, w, lid, "email", SPRING_CHECK)
    assert full.codes == ["lead_weekly_cap"], full.reasons
    with GateWorker(db) as gate:
        d = gate.check(lead_id=lid, campaign_id=w.campaign_id, channel="email", at=SPRING_CHECK)
    assert d.decision == "deny", (
        f"GateWorker allowed a 4th touch in 7 days (touch {d.touch_id}): {full.codes}"
    )


def test_company_weekly_cap_fast_path_counts_a_167_hour_week_in_a_dst_session_time_zone(db: Database) -> None:
    w = _world(db, agency_gate={"company_weekly_cap": 3})
    _prime(db, w)
    colleagues = [_lead(db, w, time_zone="America/New_York") for _ in range(3)]
    for lid, at in zip(
        colleagues,
        (SPRING_OLDEST, SPRING_OLDEST + timedelta(days=2), SPRING_OLDEST + timedelta(days=4)),
        strict=True,
    ):
        _sent(db, w, lid, at, NY, w.company_id)
    lid = _lead(db, w, time_zone="America/New_York")
    _fast_denies_in_a_new_york_session(db, w, lid, "company_weekly_cap")


# ---------------------------------------------------------------------------------------------
# 3. The rolling 7 days and the TTL: `at - timedelta(days=7)` on an `at` carrying a ZoneInfo
#    (wall-clock arithmetic in Python) vs 168 hours on the server
# ---------------------------------------------------------------------------------------------

# Monday 2026-11-02 10:00 EST (15:00 UTC), given as an aware instant in the lead's own zone. The US
# fell back on Sunday 2026-11-01, so Python's at - timedelta(days=7) is Monday 2026-10-26 10:00 EDT
# = 14:00 UTC: 169 hours back. The server (session TimeZone UTC) counts 168.
FALL_CHECK = datetime(2026, 11, 2, 10, 0, tzinfo=NY)
FALL_OLDEST = datetime(2026, 10, 26, 14, 30, tzinfo=UTC)  # 168.5 h before the check


def test_lead_weekly_cap_depends_on_the_tzinfo_of_at_fast_path_allows_what_full_check_denies(
    db: Database,
) -> None:
    w = _world(db)
    _prime(db, w)
    lid = _lead(db, w, company_id=None, time_zone="America/New_York")
    _three_touches_this_week(db, w, lid, None, FALL_OLDEST)
    # the same instant, in UTC and in New York: the full check must not depend on the spelling
    full_utc = _full(db, w, lid, "email", FALL_CHECK.astimezone(UTC))
    full_ny = _full(db, w, lid, "email", FALL_CHECK)
    fast = _fast(db, w, lid, "email", FALL_CHECK)
    assert (full_ny.decision, fast.decision) == (full_utc.decision, full_utc.decision), (
        f"one instant, three answers: full check with a UTC at {full_utc.codes or 'allow'}, "
        f"full check with a New York at {full_ny.codes or 'allow'}, fast path {fast.decision}"
    )


def test_reservation_ttl_depends_on_the_tzinfo_of_at(db: Database) -> None:
    # 01:50 EDT on the fall-back night (05:50 UTC); + 900 s on the wall clock is 02:05 EST = 07:05 UTC
    at = datetime(2026, 11, 1, 1, 50, tzinfo=NY)
    w = _world(db, campaign_gate={"windows": {"email": None}})
    _prime(db, w)
    a = _lead(db, w, company_id=None, time_zone="America/New_York")
    b = _lead(db, w, company_id=None, time_zone="America/New_York")
    fast = _fast(db, w, a, "email", at)  # gate_fast_check: expires_at = p_at + 900 s
    with session_scope(db) as s:  # the full check
        full = check_many(s, [CheckRequest(b, w.campaign_id, "email", at=at)])[0]
    assert fast.allowed and full.allowed
    with db.engine.connect() as c:
        ttl = dict(
            c.execute(
                text(
                    "SELECT lead_id, extract(epoch FROM expires_at - at)::int FROM touches WHERE lead_id IN (:a, :b)"
                ),
                {"a": a, "b": b},
            ).all()
        )
    assert ttl == {a: 900, b: 900}, (
        f"reservation TTL in seconds by path (fast lead {a}, full lead {b}): {ttl}"
    )
