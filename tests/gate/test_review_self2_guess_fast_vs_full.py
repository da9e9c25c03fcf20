"""Review of 55a55f3 / migration 0027: the fast path and the full check on a guessed zone.

Coverage (these pass): gate_fast_check's new join condition must send a guessed zone on a channel
that needs the lead's time to the full check, which denies ``unknown_timezone``; on a channel that
does not, both read the guessed zone alike. The channels that need a zone come from the campaign's
resolved policy (here: email added), so the fast path's ``p_tz_required`` must follow it too.
"""

from __future__ import annotations

from typing import Any

from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, GateWorker, check, check_many

from .test_fast_vs_full import _lead, _prime, _world


def _full(db: Database, w: World, lead_id: int, channel: str) -> Any:
    with session_scope(db) as s:
        return check_many(s, [CheckRequest(lead_id, w.campaign_id, channel, at=MONDAY_OPEN, reserve=False)])[
            0
        ]


def test_a_campaign_that_needs_a_zone_for_email_denies_a_guess_on_every_path(db: Database) -> None:
    w = _world(db, campaign_gate={"timezone_required_channels": ["sms", "phone", "email"]})
    _prime(db, w)
    lid = _lead(db, w, company_id=None, time_zone="America/New_York", time_zone_source="guess")
    assert _full(db, w, lid, "email").codes == ["unknown_timezone"]
    with session_scope(db) as s:
        fast = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=MONDAY_OPEN)
    assert fast.codes == ["unknown_timezone"], (fast.decision, fast.touch_id)
    with GateWorker(db) as gate:
        d = gate.check(lead_id=lid, campaign_id=w.campaign_id, channel="email", at=MONDAY_OPEN)
    assert d.codes == ["unknown_timezone"], (d.decision, d.touch_id)


def test_a_guess_is_read_alike_for_email_and_denied_alike_for_sms_with_the_default_policy(
    db: Database,
) -> None:
    w = _world(db)
    _prime(db, w)
    lid = _lead(db, w, company_id=None, time_zone="America/New_York", time_zone_source="guess")
    assert _full(db, w, lid, "sms").codes == ["unknown_timezone"]
    assert _full(db, w, lid, "email").allowed
    with session_scope(db) as s:
        sms = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="sms", at=MONDAY_OPEN)
        email = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=MONDAY_OPEN)
    assert sms.codes == ["unknown_timezone"]
    assert email.allowed and email.touch_id is not None
