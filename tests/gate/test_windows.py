"""Send windows and local days: DST transitions, weekends, next opening (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from leadpool.gate import windows
from leadpool.gate.policy import GatePolicy
from leadpool.gate.windows import SendWindow

NY = windows.zone_for("America/New_York")
LONDON = windows.zone_for("Europe/London")
SMS = GatePolicy().window_for("sms")
EMAIL = GatePolicy().window_for("email")


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def test_default_windows() -> None:
    assert SendWindow(time(9), time(20), frozenset(range(5))) == SMS
    assert SendWindow(time(7), time(19), frozenset(range(5))) == EMAIL
    assert GatePolicy().window_for("linkedin") is None
    assert windows.is_open(None, utc("2026-03-07T03:00:00"), NY)  # linkedin: any time


def test_open_and_closed_in_new_york_across_spring_forward() -> None:
    # 2026-03-06 (Fri) is EST (UTC-5); 2026-03-09 (Mon) is EDT (UTC-4)
    assert windows.is_open(SMS, utc("2026-03-06T14:00:00"), NY)  # 09:00 EST
    assert not windows.is_open(SMS, utc("2026-03-06T13:59:00"), NY)  # 08:59 EST
    assert windows.is_open(SMS, utc("2026-03-09T13:00:00"), NY)  # 09:00 EDT
    assert not windows.is_open(SMS, utc("2026-03-09T12:59:00"), NY)  # 08:59 EDT
    assert not windows.is_open(SMS, utc("2026-03-10T00:00:00"), NY)  # 20:00 EDT: end is exclusive
    # Friday 20:00 EST -> next opening is Monday 09:00 EDT, which is 13:00 UTC (not 14:00)
    assert windows.next_open(SMS, utc("2026-03-07T01:00:00"), NY) == utc("2026-03-09T13:00:00")


def test_fall_back_in_new_york() -> None:
    # 2026-11-01 is a Sunday; Monday 2026-11-02 is EST again
    assert windows.next_open(EMAIL, utc("2026-10-31T12:00:00"), NY) == utc("2026-11-02T12:00:00")
    assert windows.next_open(EMAIL, utc("2026-10-30T10:00:00"), NY) == utc("2026-10-30T11:00:00")  # EDT


def test_london_across_both_transitions() -> None:
    # clocks go forward on Sunday 2026-03-29 and back on Sunday 2026-10-25
    assert windows.next_open(SMS, utc("2026-03-27T21:00:00"), LONDON) == utc("2026-03-30T08:00:00")  # BST
    assert windows.next_open(SMS, utc("2026-10-23T20:00:00"), LONDON) == utc("2026-10-26T09:00:00")  # GMT
    assert windows.is_open(EMAIL, utc("2026-03-30T06:00:00"), LONDON)  # 07:00 BST


def test_weekend_and_late_evening() -> None:
    saturday_noon = utc("2026-03-07T17:00:00")
    assert not windows.is_open(EMAIL, saturday_noon, NY)
    assert windows.next_open(EMAIL, saturday_noon, NY) == utc("2026-03-09T11:00:00")
    # unknown zone: UTC is used
    assert windows.next_open(EMAIL, utc("2026-03-02T19:30:00"), None) == utc("2026-03-03T07:00:00")
    assert windows.next_open(EMAIL, utc("2026-03-02T06:00:00"), None) == utc("2026-03-02T07:00:00")


def test_window_start_in_a_spring_forward_gap_opens_at_the_jump() -> None:
    w = SendWindow(time(2, 30), time(5), frozenset(range(7)))
    # 2026-03-08 02:30 does not exist in New York; the day first reaches it at 03:00 EDT = 07:00 UTC
    assert windows.next_open(w, utc("2026-03-08T06:00:00"), NY) == utc("2026-03-08T07:00:00")


def test_local_date_and_next_midnight_are_dst_correct() -> None:
    assert windows.local_date(utc("2026-03-03T03:00:00"), NY) == date(2026, 3, 2)
    assert windows.local_date(utc("2026-03-03T03:00:00"), None) == date(2026, 3, 3)
    # the day of the jump is 23 hours long: midnight after 2026-03-08 is 04:00 UTC (EDT)
    assert windows.next_local_midnight(utc("2026-03-08T12:00:00"), NY) == utc("2026-03-09T04:00:00")
    assert windows.next_local_midnight(utc("2026-03-07T12:00:00"), NY) == utc("2026-03-08T05:00:00")
    assert windows.next_local_midnight(utc("2026-10-25T12:00:00"), LONDON) == utc("2026-10-26T00:00:00")


def test_unknown_zone_names() -> None:
    assert windows.zone_for(None) is None
    assert windows.zone_for("") is None
    assert windows.zone_for("Mars/Olympus_Mons") is None
    assert windows.zone_for("../etc/passwd") is None


def test_a_window_on_several_clocks_opens_when_the_last_one_opens_and_closes_with_the_first() -> None:
    honolulu = windows.zone_for("Pacific/Honolulu")
    assert honolulu is not None and NY is not None and LONDON is not None
    both = (NY, honolulu)
    # Monday 2026-03-02: 07:00 in Honolulu is 17:00 UTC, 19:00 in New York is 00:00 UTC
    assert not windows.open_on_all(EMAIL, utc("2026-03-02T16:59:00"), both)
    assert windows.next_open_on_all(EMAIL, utc("2026-03-02T15:00:00"), both) == utc("2026-03-02T17:00:00")
    assert windows.open_on_all(EMAIL, utc("2026-03-02T23:59:00"), both)
    assert windows.next_open_on_all(EMAIL, utc("2026-03-03T00:00:00"), both) == utc("2026-03-03T17:00:00")
    # Friday after New York's close: Honolulu is open until Saturday 05:00 UTC, New York is not
    # again before Monday
    assert windows.next_open_on_all(EMAIL, utc("2026-03-07T00:30:00"), both) == utc("2026-03-09T17:00:00")
    # one clock, or none (UTC): the same as next_open
    for at in ("2026-03-07T01:00:00", "2026-03-08T06:00:00", "2026-10-31T12:00:00"):
        assert windows.next_open_on_all(SMS, utc(at), (NY,)) == windows.next_open(SMS, utc(at), NY)
        assert windows.next_open_on_all(SMS, utc(at), ()) == windows.next_open(SMS, utc(at), None)
    assert windows.next_open_on_all(None, utc("2026-03-07T01:00:00"), both) == utc("2026-03-07T01:00:00")


def test_clocks_further_apart_than_the_window_is_long_never_share_an_hour() -> None:
    tokyo = windows.zone_for("Asia/Tokyo")
    assert tokyo is not None and LONDON is not None
    office = SendWindow(time(9), time(17), frozenset(range(5)))  # 8 hours; Tokyo is 9 ahead in winter
    at = utc("2026-01-05T08:00:00")
    assert not windows.open_on_all(office, at, (LONDON, tokyo))
    assert windows.next_open_on_all(office, at, (LONDON, tokyo)) is None
    # in British summer time Tokyo is 8 hours ahead: still no hour (the window's end is exclusive)
    assert windows.next_open_on_all(office, utc("2026-06-01T08:00:00"), (LONDON, tokyo)) is None
    longer = SendWindow(time(9), time(18), frozenset(range(5)))
    assert windows.next_open_on_all(longer, utc("2026-06-01T00:00:00"), (LONDON, tokyo)) == utc(
        "2026-06-01T08:00:00"
    )  # 09:00 London, 17:00 Tokyo
