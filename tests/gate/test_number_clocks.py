"""Texts and calls: the window must be open on the clock of the lead's number (a +1 area code) as
well as in the lead's zone, with the same answer from the full check, the fast path, GateWorker
and check_many; numbers that name no place (other numbering plans, toll-free) change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from tests.gate.factories import World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, GateDecision, GateWorker, check, check_many, fast

# Monday 2 March 2026 (standard time): 15:00 UTC is 09:00 in Chicago and 07:00 in Los Angeles.
MONDAY = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
LA_OPENS = datetime.fromisoformat("2026-03-02T17:00:00+00:00")  # 09:00 in Los Angeles
CHICAGO_CLOSES = datetime.fromisoformat("2026-03-03T02:00:00+00:00")  # 20:00 in Chicago
LOS_ANGELES = "+14155550100"


@pytest.fixture(autouse=True)
def _defaults(fresh_policy: None) -> None:
    """The platform policy's defaults: sms and phone 09:00-20:00, Monday to Friday."""


def _check(db: Database, lead: int, campaign: int, at: datetime, channel: str = "sms") -> GateDecision:
    with session_scope(db) as s:
        return check(s, lead_id=lead, campaign_id=campaign, channel=channel, at=at, reserve=False)


def test_a_text_waits_for_the_numbers_clock_when_it_differs_from_the_leads_zone(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        moved = w.lead(company_id=None, time_zone="America/Chicago", phone=LOS_ANGELES)
        local = w.lead(company_id=None, time_zone="America/Chicago", phone="+13125550100")

    for channel in ("sms", "phone"):
        d = _check(db, moved, w.campaign_id, MONDAY, channel)
        assert d.codes == ["quiet_hours"], channel
        (reason,) = d.reasons
        assert reason.retry_after == LA_OPENS
        assert "clock of the lead's number (America/Los_Angeles, where it is Mon 07:00)" in reason.message
        assert "open in its own zone (America/Chicago)" in reason.message
        assert _check(db, local, w.campaign_id, MONDAY, channel).allowed
    assert _check(db, moved, w.campaign_id, MONDAY, "email").allowed  # email does not reach the number

    assert _check(db, moved, w.campaign_id, LA_OPENS).allowed
    assert _check(db, moved, w.campaign_id, CHICAGO_CLOSES - timedelta(minutes=1)).allowed
    late = _check(db, moved, w.campaign_id, CHICAGO_CLOSES)  # its own zone closes first
    assert late.codes == ["quiet_hours"] and late.reasons[0].retry_after == LA_OPENS + timedelta(days=1)
    assert "in America/Chicago" in late.reasons[0].message


def test_numbers_that_name_no_place_change_nothing(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        new_york = "America/New_York"  # 10:00 at MONDAY
        london_number = w.lead(company_id=None, time_zone=new_york, phone="+442079460000")
        toll_free = w.lead(company_id=None, time_zone=new_york, phone="+18005550100")
        same_clock = w.lead(company_id=None, time_zone="America/Detroit", phone="+12125550100")
        no_zone = w.lead(company_id=None, time_zone=None, phone="+12125550100")
    for lead in (london_number, toll_free, same_clock):
        assert _check(db, lead, w.campaign_id, MONDAY).allowed, lead
    # a number does not stand in for an unknown zone
    assert _check(db, no_zone, w.campaign_id, MONDAY).codes == ["unknown_timezone"]


def test_the_fast_path_worker_and_batch_give_the_full_checks_answer(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        moved = w.lead(company_id=None, time_zone="America/Chicago", phone=LOS_ANGELES)
        local = w.lead(company_id=None, time_zone="America/Chicago", phone="+13125550100")
        detroit = w.lead(company_id=None, time_zone="America/Detroit", phone="+12125550100")
        assert check(s, lead_id=primer, campaign_id=w.campaign_id, channel="linkedin", at=MONDAY).allowed
    assert w.campaign_id in fast._policies  # the campaign's policy is known: the fast path answers
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        kw: dict[str, Any] = {"campaign_id": w.campaign_id, "sender": None, "idempotency_key": None}
        # open in Chicago: before migration 0037 the fast path allowed this at 07:00 on the number
        assert fast.try_allow(dbapi, lead_id=moved, channel="sms", at=MONDAY, **kw) is None
        assert fast.try_allow(dbapi, lead_id=local, channel="sms", at=MONDAY, **kw) is not None
        # the number's zone is not the lead's by name (one clock, though): the full check decides
        assert fast.try_allow(dbapi, lead_id=detroit, channel="sms", at=LA_OPENS, **kw) is None
        assert fast.try_allow(dbapi, lead_id=moved, channel="email", at=MONDAY, **kw) is not None
        s.rollback()
    with GateWorker(db) as gate:
        denied = gate.check(lead_id=moved, campaign_id=w.campaign_id, channel="sms", at=MONDAY)
        allowed = gate.check(lead_id=moved, campaign_id=w.campaign_id, channel="sms", at=LA_OPENS)
        same = gate.check(lead_id=detroit, campaign_id=w.campaign_id, channel="sms", at=LA_OPENS)
    assert denied.codes == ["quiet_hours"] and denied.reasons[0].retry_after == LA_OPENS
    assert allowed.allowed and allowed.touch_id is not None and same.allowed
    tuesday = MONDAY + timedelta(days=1)
    with session_scope(db) as s:
        got = check_many(
            s,
            [
                CheckRequest(moved, w.campaign_id, "phone", None, tuesday, True, None),
                CheckRequest(local, w.campaign_id, "phone", None, tuesday, True, None),
                CheckRequest(moved, w.campaign_id, "email", None, tuesday, True, None),
            ],
        )
    assert [d.codes for d in got] == [["quiet_hours"], [], []]
    assert got[0].reasons[0].retry_after == LA_OPENS + timedelta(days=1)


def test_the_longest_prefix_of_a_number_names_its_clocks(db: Database) -> None:
    with db.engine.connect() as c:
        prefixes = c.execute(text("SELECT leadpool_phone_prefixes('+12085550100')")).scalar_one()
        zones = dict(
            c.execute(
                text("SELECT prefix, zones FROM phone_prefix_clocks WHERE prefix IN ('1', '1212', '12082')")
            )
            .tuples()
            .all()
        )
        outside = c.execute(text("SELECT count(*) FROM phone_prefix_clocks WHERE prefix NOT LIKE '1%'"))
        assert outside.scalar_one() == 0
    assert prefixes[0] == "120855501" and prefixes[-1] == "1" and len(prefixes) == 9
    # +1 itself names no place; a split area code (Idaho's 208) keeps both its clocks
    assert zones == {"1": [], "1212": ["America/New_York"], "12082": ["America/Boise", "America/Los_Angeles"]}
