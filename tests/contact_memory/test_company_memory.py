"""Company pauses and the weekly company budget, end to end through record_event and the gate."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate import check, confirm_sent
from leadpool.models import CompanyPause

T0 = MONDAY_OPEN


class Company:
    """One company with people owned and enrolled by two different agencies."""

    def __init__(self, s: Session) -> None:
        self.id = f.company(s)
        self.agencies = [f.agency(s), f.agency(s)]
        self.campaigns = [f.campaign(s, a) for a in self.agencies]

    def person(self, s: Session, k: int = 0) -> int:
        lid = f.lead(s, company_id=self.id)
        f.own(s, lid, self.agencies[k])
        f.enroll(s, lid, self.campaigns[k], self.agencies[k])
        return lid


def _event(s: Session, lead_id: int, kind: str, at: datetime, pid: str) -> list[str]:
    etype = kind if kind in ("unsubscribe", "complaint") else "reply"
    out = record_event(
        s,
        EventIn(
            type=etype,  # type: ignore[arg-type]
            lead_id=lead_id,
            occurred_at=at,
            source="test",
            provider_event_id=pid,
            category=kind if etype == "reply" else None,  # type: ignore[arg-type]
        ),
        at=at,
    )
    return out.effects


def _codes(s: Session, c: Company, lid: int, k: int, at: datetime) -> list[str]:
    return check(s, lead_id=lid, campaign_id=c.campaigns[k], channel="linkedin", at=at, reserve=False).codes


def test_a_not_interested_reply_pauses_every_colleague_for_90_days_for_every_agency(db: Database) -> None:
    with session_scope(db) as s:
        c = Company(s)
        ceo, coo, cfo = c.person(s, 0), c.person(s, 0), c.person(s, 1)
        elsewhere = f.World(s).lead()
    t = T0 - timedelta(hours=1)
    with session_scope(db) as s:
        assert "company:paused" in _event(s, ceo, "not_interested", t, "ni-1")
    with session_scope(db) as s:
        d = check(s, lead_id=cfo, campaign_id=c.campaigns[1], channel="linkedin", at=T0)
        assert d.codes == ["company_paused"]
        assert d.reasons[0].retry_after == t + timedelta(days=90)
        assert "not interested" in d.reasons[0].message
        assert _codes(s, c, coo, 0, T0) == ["company_paused"]
        # the replier follows the reply rules, not the company pause
        assert set(_codes(s, c, ceo, 0, T0)) == {"not_enrolled", "cooling"}  # 12 months, not for good
        other_company = check(s, lead_id=elsewhere, campaign_id=c.campaigns[0], channel="linkedin", at=T0)
        assert "company_paused" not in other_company.codes
        assert _codes(s, c, coo, 0, t + timedelta(days=90) - timedelta(seconds=1)) == ["company_paused"]
        assert _codes(s, c, coo, 0, t + timedelta(days=90)) == []


@pytest.mark.parametrize(
    ("kind", "days"), [("interested", 14), ("other", 14), ("unsubscribe", 30), ("complaint", 30)]
)
def test_pause_lengths(db: Database, kind: str, days: int) -> None:
    with session_scope(db) as s:
        c = Company(s)
        a, b = c.person(s, 0), c.person(s, 1)
    with session_scope(db) as s:
        _event(s, a, kind, T0, f"{kind}-1")
    with session_scope(db) as s:
        d = check(s, lead_id=b, campaign_id=c.campaigns[1], channel="linkedin", at=T0 + timedelta(days=1))
        assert d.codes == ["company_paused"] and d.reasons[0].retry_after == T0 + timedelta(days=days)
        if kind in ("unsubscribe", "complaint"):
            # only the person who opted out is suppressed; the colleague is paused, not suppressed
            assert "unsubscribed" not in d.codes and "complained" not in d.codes


def test_longest_pause_wins_whatever_the_order_and_replays_add_nothing(db: Database) -> None:
    with session_scope(db) as s:
        c = Company(s)
        a, b, x = c.person(s, 0), c.person(s, 0), c.person(s, 1)
    with session_scope(db) as s:
        # the not-interested reply arrives first but happened later than the interested one
        _event(s, a, "not_interested", T0 - timedelta(days=1), "late")
        _event(s, b, "interested", T0 - timedelta(days=2), "early")
        assert _event(s, b, "interested", T0 - timedelta(days=2), "early") == []  # a duplicate
    with session_scope(db) as s:
        assert len(s.scalars(select(CompanyPause)).all()) == 2
        d = check(s, lead_id=x, campaign_id=c.campaigns[1], channel="linkedin", at=T0, reserve=False)
        assert d.reasons[0].retry_after == T0 - timedelta(days=1) + timedelta(days=90)
        # b's own reply does not pause b, but a's pause does
        d = check(s, lead_id=b, campaign_id=c.campaigns[0], channel="linkedin", at=T0, reserve=False)
        assert "company_paused" in d.codes


def test_out_of_office_and_wrong_person_pause_nobody_and_a_lead_without_company_neither(
    db: Database,
) -> None:
    with session_scope(db) as s:
        c = Company(s)
        a, b = c.person(s, 0), c.person(s, 1)
        loner = f.lead(s, company_id=None)
    with session_scope(db) as s:
        _event(s, a, "out_of_office", T0 - timedelta(hours=1), "ooo")
        _event(s, a, "wrong_person", T0 - timedelta(hours=1), "wp")
        _event(s, loner, "not_interested", T0 - timedelta(hours=1), "loner")
    with session_scope(db) as s:
        assert s.scalars(select(CompanyPause)).all() == []
        assert _codes(s, c, b, 1, T0) == []


def test_the_pause_follows_the_company_the_lead_belongs_to_at_check_time(db: Database) -> None:
    with session_scope(db) as s:
        c = Company(s)
        a, b = c.person(s, 0), c.person(s, 1)
    with session_scope(db) as s:
        _event(s, a, "not_interested", T0 - timedelta(hours=1), "ni")
    with session_scope(db) as s:
        f.set_lead(s, b, company_id=f.company(s))  # b moved to another company
    with session_scope(db) as s:
        assert _codes(s, c, b, 1, T0) == []


def _sent(s: Session, lead_id: int, campaign_id: int, at: datetime) -> None:
    d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="linkedin", at=at)
    assert d.touch_id is not None, d.reasons
    confirm_sent(s, d.touch_id, f"m-{d.touch_id}", at=at)


def test_weekly_company_budget_across_agencies(db: Database) -> None:
    with session_scope(db) as s:
        c = Company(s)
        people = [c.person(s, k % 2) for k in range(7)]
    first = T0 - timedelta(days=6)
    with session_scope(db) as s:
        # five touches on five days, by two agencies, to five different people
        for i in range(5):
            _sent(s, people[i], c.campaigns[i % 2], first + timedelta(days=i))
    with session_scope(db) as s:
        d = check(s, lead_id=people[5], campaign_id=c.campaigns[1], channel="linkedin", at=T0)
        assert d.codes == ["company_weekly_cap"], d.reasons
        assert d.reasons[0].retry_after == first + timedelta(days=7)
        assert "5 touch(es)" in d.reasons[0].message
    with session_scope(db) as s:
        assert check(
            s, lead_id=people[6], campaign_id=c.campaigns[0], channel="linkedin", at=first + timedelta(days=7)
        ).allowed


def test_an_agency_may_lower_the_weekly_budget_but_not_raise_it(db: Database) -> None:
    from leadpool.errors import InvalidInput
    from leadpool.gate import validate_overrides

    validate_overrides({"gate": {"company_weekly_cap": 2}}, level="agency")
    with pytest.raises(InvalidInput, match="company_weekly_cap"):
        validate_overrides({"gate": {"company_weekly_cap": 6}}, level="campaign")


def test_a_late_reply_to_a_touch_pauses_the_company_it_was_sent_to(db: Database) -> None:
    from sqlalchemy import text

    with session_scope(db) as s:
        x, y = f.company(s), f.company(s)
        a = f.agency(s)
        campaign = f.campaign(s, a)
        anna, bob = f.lead(s, company_id=x), f.lead(s, company_id=x)
        for lead in (anna, bob):
            f.own(s, lead, a)
        f.enroll(s, anna, campaign, a)
        d = check(s, lead_id=anna, campaign_id=campaign, channel="linkedin", at=T0)
        assert d.touch_id is not None
        confirm_sent(s, d.touch_id, "msg-anna", at=T0)
    with session_scope(db) as s:  # a re-import moves Anna to Y; Bob is enrolled at X
        f.set_lead(s, anna, company_id=y)
        f.enroll(s, bob, campaign, a)
    with session_scope(db) as s:  # then her reply to the touch sent while she was at X arrives
        reply = EventIn(
            type="reply",
            provider_message_id="msg-anna",
            occurred_at=T0 + timedelta(hours=2),
            source="test",
            provider_event_id="r-late",
            category="not_interested",
            lead_id=anna,
        )
        record_event(s, reply, at=T0 + timedelta(days=2))
    with session_scope(db) as s:
        assert s.execute(text("SELECT company_id FROM company_pauses")).scalars().all() == [x]
        codes = check(
            s, lead_id=bob, campaign_id=campaign, channel="linkedin", at=T0 + timedelta(days=3), reserve=False
        ).codes
    assert "company_paused" in codes
