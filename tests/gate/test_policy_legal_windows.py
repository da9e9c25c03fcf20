"""Agency/campaign overrides that the platform must refuse (legal quiet hours, fail closed on unknown zone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tests.gate.factories import World

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import check
from leadpool.gate.policy import validate_overrides

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Sunday 2026-03-01 08:00 UTC = 03:00 in New York: TCPA (08:00-21:00 local) forbids calls and texts.
SUNDAY_3AM_NY = datetime.fromisoformat("2026-03-01T08:00:00+00:00")

WIDENING = {
    "sms_window_removed": {"windows": {"sms": None}},
    "phone_window_removed": {"windows": {"phone": None}},
    "sms_window_all_night": {"windows": {"sms": {"start": "00:00", "end": "23:59", "days": ALL_DAYS}}},
    "phone_window_from_5am": {"windows": {"phone": {"start": "05:00", "end": "23:00"}}},
    "timezone_no_longer_required": {"timezone_required_channels": []},
}


@pytest.mark.parametrize("level", ["agency", "campaign"])
@pytest.mark.parametrize("name", sorted(WIDENING))
def test_overrides_may_not_widen_legal_sms_phone_limits(name: str, level: Any) -> None:
    with pytest.raises(InvalidInput):
        validate_overrides({"gate": WIDENING[name]}, level=level)


@pytest.mark.parametrize("level", ["agency", "campaign"])
def test_a_stored_widening_override_denies_every_text(db: Database, level: str) -> None:
    # stored before validation refused it: no text goes out at 03:00 on a Sunday, nor to a lead
    # whose zone is unknown; the check fails closed naming the setting
    gate = {"timezone_required_channels": ["phone"], "windows": {"sms": None}}
    with session_scope(db) as s:
        w = World(s, **{f"{level}_gate": gate})
        known = w.lead(company_id=None)  # America/New_York
        unknown = w.lead(company_id=None, time_zone=None)
    for lid in (known, unknown):
        for reserve in (False, True, True):
            with session_scope(db) as s:
                d = check(
                    s,
                    lead_id=lid,
                    campaign_id=w.campaign_id,
                    channel="sms",
                    at=SUNDAY_3AM_NY,
                    reserve=reserve,
                )
            assert d.codes == ["gate_error"] and d.touch_id is None, d.reasons
            assert "windows.sms" in d.reasons[0].message


def test_narrower_windows_and_more_zone_required_channels_are_accepted() -> None:
    validate_overrides(
        {
            "gate": {
                "windows": {"sms": {"start": "10:00", "end": "18:00", "days": ["tue", "wed"]}},
                "timezone_required_channels": ["sms", "phone", "email"],
            }
        },
        level="campaign",
    )
