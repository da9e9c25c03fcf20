"""Send windows and calendar days in the lead's own time zone (pure functions, DST-correct).

Every instant is an aware ``datetime``. Wall-clock times are turned into instants through
``zoneinfo`` and a round trip via UTC, so a day that is 23 or 25 hours long, or a window start that
falls in a spring-forward gap, still gives the right instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SendWindow:
    """Open from ``start`` (inclusive) to ``end`` (exclusive) local time on ``days`` (0 = Monday)."""

    start: time
    end: time
    days: frozenset[int]

    def describe(self) -> str:
        names = ",".join(WEEKDAYS[d].capitalize() for d in sorted(self.days))
        return f"{self.start:%H:%M}-{self.end:%H:%M} {names}"


# Names zoneinfo loads that are not a place: tzdata's "zone unknown" marker, and the host's own
# clock (never the lead's)
NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})


@lru_cache(maxsize=4096)
def zone_for(name: str | None) -> ZoneInfo | None:
    """The zone for an IANA name, or None when it is missing or not a real zone."""
    if not name or name in NOT_PLACES:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at.isoformat()}: the gate needs an aware instant")
    return at


def local_instant(day: date, wall: time, zone: tzinfo) -> datetime:
    """The first real instant at or after the wall-clock ``day wall`` in ``zone``, in UTC.

    In a spring-forward gap (the wall time does not exist) this is the moment the clocks jump,
    which is when the local day first reaches that wall time.
    """
    naive = datetime.combine(day, wall)
    candidate = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == naive:
        return candidate
    # nonexistent: fold=0 reads it with the pre-jump offset, which lands after the jump; the
    # jump itself is the start of the first local hour that exists on the other side.
    back = candidate.astimezone(zone)
    return back.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def local_date(at: datetime, zone: tzinfo | None) -> date:
    """The calendar day at ``at`` in ``zone`` (UTC when the zone is unknown)."""
    return aware(at).astimezone(zone or UTC).date()


def next_local_midnight(at: datetime, zone: tzinfo | None) -> datetime:
    """When the next local calendar day starts (UTC when the zone is unknown)."""
    z = zone or UTC
    return local_instant(local_date(at, z) + timedelta(days=1), time(0), z)


def is_open(window: SendWindow | None, at: datetime, zone: tzinfo | None) -> bool:
    """Whether ``at`` falls inside the window in ``zone`` (no window: always open)."""
    if window is None:
        return True
    local = aware(at).astimezone(zone or UTC)
    return local.weekday() in window.days and window.start <= local.time().replace(tzinfo=None) < window.end


def next_open(window: SendWindow | None, at: datetime, zone: tzinfo | None) -> datetime | None:
    """The first instant at or after ``at`` when the window is open; None if it never opens."""
    if window is None or is_open(window, at, zone):
        return at
    if not window.days:
        return None
    z = zone or UTC
    today = local_date(at, z)
    for offset in range(9):
        day = today + timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        for opening in _openings(day, window.start, z):
            # a window inside a spring-forward gap never opens that day
            if opening >= at and is_open(window, opening, z):
                return opening
    return None  # unreachable with at least one day, kept for the type checker


#: how long ``next_open_on_all`` searches while the clocks keep their offsets: two weeks hold
#: every weekday twice on every clock
ALL_CLOCKS_SEARCH = timedelta(days=15)
#: how far ahead it looks in all: clocks that share no hour now may share one after a DST change
ALL_CLOCKS_HORIZON = timedelta(days=400)


def open_on_all(window: SendWindow | None, at: datetime, zones: Sequence[tzinfo]) -> bool:
    """Whether ``at`` falls inside the window on every one of ``zones`` (none given: UTC)."""
    return all(is_open(window, at, z) for z in zones or (UTC,))


def next_open_on_all(window: SendWindow | None, at: datetime, zones: Sequence[tzinfo]) -> datetime | None:
    """The first instant at or after ``at`` when the window is open on every one of ``zones``
    (none given: UTC); None when that does not happen within ``ALL_CLOCKS_HORIZON`` (clocks
    further apart than the window is long never share an open hour)."""
    clocks = tuple(zones) or (UTC,)
    start = aware(at)
    while start <= at + ALL_CLOCKS_HORIZON:
        found, t = _search(window, start, clocks)
        if found:
            return t
        if t is None:
            return None  # some clock's window never opens
        week_before = t - timedelta(days=8)
        if any(week_before.astimezone(z).utcoffset() != t.astimezone(z).utcoffset() for z in clocks):
            start = t  # a clock changed late in the search: its new offset has not had a week yet
            continue
        # the clocks share no hour while they keep the offsets they have had all week: search
        # again from the day before the next change of any of them
        change = _next_offset_change(t, clocks, at + ALL_CLOCKS_HORIZON)
        if change is None:
            return None
        start = change - timedelta(days=1)
    return None


def _search(
    window: SendWindow | None, start: datetime, clocks: Sequence[tzinfo]
) -> tuple[bool, datetime | None]:
    """(True, the first instant from ``start`` open on every clock) within ``ALL_CLOCKS_SEARCH``;
    else (False, where the search stopped), or (False, None) when some clock never opens."""
    t = start
    while t <= start + ALL_CLOCKS_SEARCH:
        # until every clock is open at t, some clock is closed from t to its own next opening:
        # the latest of those openings is the earliest instant that can work
        openings = [next_open(window, t, z) for z in clocks]
        if any(o is None for o in openings):
            return False, None
        latest = max(o for o in openings if o is not None)
        if latest == t:
            return True, t
        t = latest
    return False, t


def _next_offset_change(after: datetime, clocks: Sequence[tzinfo], limit: datetime) -> datetime | None:
    """A day (at the hour of ``after``) by which some clock's UTC offset differs from its offset
    at ``after``, the first such within ``limit``; None if none changes by then."""
    offsets = [after.astimezone(z).utcoffset() for z in clocks]
    day = after + timedelta(days=1)
    while day <= limit:
        if any(day.astimezone(z).utcoffset() != o for z, o in zip(clocks, offsets, strict=True)):
            return day
        day += timedelta(days=1)
    return None


def _openings(day: date, wall: time, zone: tzinfo) -> list[datetime]:
    """Every instant the local clock shows ``day wall``: two in a fall-back repeated hour (the
    window opens at the second one too), the jump in a spring-forward gap."""
    first = local_instant(day, wall, zone)
    second = datetime.combine(day, wall).replace(tzinfo=zone, fold=1).astimezone(UTC)
    if second > first and second.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, wall):
        return [first, second]
    return [first]
