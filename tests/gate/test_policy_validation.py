"""Overrides that validate_overrides accepts but that the gate cannot (or must not) apply."""

from __future__ import annotations

import pytest
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import CheckRequest, check, check_many
from leadpool.gate.policy import validate_overrides

BAD = {
    # times with a UTC offset: accepted, then every full check of the campaign raises TypeError
    "window_with_offset": {"windows": {"email": {"start": "07:00+05:00", "end": "19:00+05:00"}}},
    "window_start_naive_end_aware": {"windows": {"email": {"start": "07:00", "end": "19:00Z"}}},
    # a cap that PostgreSQL's int cannot hold: every check of the campaign becomes gate_error
    "agency_cap_overflows_int": {"agency_daily_cap": 10**12},
    "sender_cap_overflows_int": {"sender_daily_caps": {"email": 3_000_000_000}},
    # spec: verified only, unless the campaign allows guessed/extrapolated
    "email_status_invalid_allowed": {"allowed_email_statuses": ["verified", "invalid"]},
    "email_status_null_allowed": {"allowed_email_statuses": ["verified", ""]},
    "email_status_bounced_allowed": {"allowed_email_statuses": ["bounced", "unavailable"]},
    # a window that never opens (quiet_hours forever, with no retry_after)
    "window_with_no_days": {"windows": {"email": {"days": []}}},
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_validate_overrides_refuses_with_invalid_input(name: str) -> None:
    with pytest.raises(InvalidInput):
        validate_overrides({"gate": BAD[name]}, level="campaign")


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_stored_override_the_platform_refuses_fails_closed(db: Database, name: str) -> None:
    # written before validation refused it (or straight into the database): every check of the
    # campaign, fast path included, is a gate_error deny naming the setting; nothing is reserved
    with session_scope(db) as s:
        w = World(s, campaign_gate=BAD[name])
        lid = w.lead(company_id=None, email_status=None)
    for channel in ("linkedin", "email", "linkedin"):  # a second single check could take the fast path
        with session_scope(db) as s:
            d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel=channel, at=MONDAY_OPEN)
        assert d.codes == ["gate_error"] and d.touch_id is None, d.reasons
        assert "invalid gate policy in campaign settings" in d.reasons[0].message
    with session_scope(db) as s:
        (many,) = check_many(s, [CheckRequest(lid, w.campaign_id, "email", at=MONDAY_OPEN)])
    assert many.codes == ["gate_error"] and many.touch_id is None
