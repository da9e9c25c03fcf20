"""Which zones the fast path reads itself (``gate_time_zones``): those whose offsets agree.

The fast path (``gate_fast_check``) turns an instant into the lead's local time with the
database server's time-zone data, the full check with Python's ``zoneinfo``. The two are shipped
separately (the embedded server carries its own copy, newer or older than the host's; any other
server has its own), and where they disagree about a zone's offsets the fast path would allow a
send in what the full check calls quiet hours (seen: America/Vancouver in January 2027, a full
hour apart). So the list holds the names both know whose UTC offsets agree at every instant
sampled from a few weeks back to a year ahead (daily, and every half hour around each of
zoneinfo's changes); a lead in any other zone is decided by the full check, which costs speed,
never a wrong answer. Rebuilt by a migration and every day by the worker (tz data changes with
package and server upgrades, and the horizon moves).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Connection

from leadpool.gate.windows import NOT_PLACES

LOOKBACK = timedelta(days=35)  # back-dated checks (a reservation's TTL, a late confirmation)
HORIZON = timedelta(days=400)  # scheduled checks, and a year of DST changes

# as gate_fast_check reads names (migration 0022): an abbreviation set could shadow a zone name
_MISMATCHES = """
SELECT DISTINCT v.n FROM unnest(CAST(:n AS text[]), CAST(:e AS float8[]), CAST(:o AS int[])) AS v(n, e, o)
WHERE extract(epoch FROM (to_timestamp(v.e) AT TIME ZONE v.n) - (to_timestamp(v.e) AT TIME ZONE 'UTC')) <> v.o
"""


def _samples(zone: ZoneInfo, start: datetime, days: int) -> list[tuple[float, int]]:
    """(epoch, zoneinfo's UTC offset in seconds): daily, and every 30 minutes for two days from
    the sample before each change (so a change at another hour, or a day apart, shows)."""
    out: list[tuple[float, int]] = []
    prev: tuple[datetime, int] | None = None
    for d in range(days):
        t = start + timedelta(days=d)
        off = int(t.astimezone(zone).utcoffset().total_seconds())  # type: ignore[union-attr]
        out.append((t.timestamp(), off))
        if prev is not None and off != prev[1]:
            for k in range(1, 96):
                u = prev[0] + timedelta(minutes=30 * k)
                out.append((u.timestamp(), int(u.astimezone(zone).utcoffset().total_seconds())))  # type: ignore[union-attr]
        prev = (t, off)
    return out


def agreeing_zones(conn: Connection, now: datetime | None = None) -> set[str]:
    """Names both zoneinfo and the server know whose offsets agree over the sampled range."""
    server = set(conn.execute(text("SELECT name FROM pg_timezone_names")).scalars())
    names = sorted((zoneinfo.available_timezones() & server) - NOT_PLACES)
    start = ((now or datetime.now(UTC)) - LOOKBACK).replace(hour=12, minute=0, second=0, microsecond=0)
    days = (LOOKBACK + HORIZON).days
    n: list[str] = []
    e: list[float] = []
    o: list[int] = []
    for name in names:
        for epoch, off in _samples(ZoneInfo(name), start, days):
            n.append(name)
            e.append(epoch)
            o.append(off)
    conn.execute(text("SET LOCAL timezone_abbreviations = 'Default'"))
    differ = set(conn.execute(text(_MISMATCHES), {"n": n, "e": e, "o": o}).scalars())
    return set(names) - differ


def refresh_gate_zones(conn: Connection, now: datetime | None = None) -> tuple[list[str], list[str]]:
    """Make ``gate_time_zones`` the agreeing names; returns (added, removed)."""
    keep = agreeing_zones(conn, now)
    have = set(conn.execute(text("SELECT name FROM gate_time_zones")).scalars())
    removed, added = sorted(have - keep), sorted(keep - have)
    if removed:
        conn.execute(text("DELETE FROM gate_time_zones WHERE name = ANY(CAST(:n AS text[]))"), {"n": removed})
    if added:
        conn.execute(
            text(
                "INSERT INTO gate_time_zones (name) SELECT unnest(CAST(:n AS text[])) ON CONFLICT DO NOTHING"
            ),
            {"n": added},
        )
    return added, removed
