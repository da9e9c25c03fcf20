"""Review of 55a55f3: ``timezone.SPLIT_US_STATES`` leaves out Nevada.

West Wendover, Nevada has been in the Mountain time zone since 1999 (US DOT; tzdata's
``northamerica`` notes it), and Jackpot keeps Mountain time too; the rest of the state is Pacific.
Both towns are under the city dataset's population floor, so, as for Ontario, Oregon (the commit's
own example), a lead there resolves by the state alone: ``America/Los_Angeles`` with source
``state``, a zone the gate trusts for sms and calls. An SMS at 19:30 Pacific, inside the default
9:00-20:00 sms window, reaches West Wendover at 20:30, outside it (the commit's own Maine case). A
state split between zones should be a guess (denied ``unknown_timezone`` for sms/phone), as the
other thirteen are.
"""

from __future__ import annotations

import pytest

from leadpool.ingestion.timezone import resolve_time_zone


@pytest.mark.parametrize("city", ["West Wendover", "Jackpot", None])
def test_a_nevada_location_without_a_known_city_is_a_guess(city: str | None) -> None:
    assert resolve_time_zone(None, "Ontario", "OR", "United States")[1] == "guess"  # the commit's case
    zone, source = resolve_time_zone(None, city, "NV", "United States")
    assert source == "guess" or zone == "America/Denver", (zone, source)
