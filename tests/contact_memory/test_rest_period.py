"""Rest periods end to end: allocation services, events and the gate together."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.agencies import cancel_agency
from leadpool.allocation.allocate import allocate
from leadpool.allocation.campaigns import end_enrollment, finish_campaign
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.events import EventIn, record_event
from leadpool.gate import check
from leadpool.models import Enrollment, Lead, RestPeriod

REST = timedelta(days=90)


def _world(db: Database, n: int = 1) -> tuple[list[int], int, int, int, int]:
    with session_scope(db) as s:
        leads = make_leads(s, n, company_id=make_company(s), linkedin_url=None, time_zone="America/New_York")
        for i, lid in enumerate(leads):
            s.execute(
                text("UPDATE leads SET linkedin_url = :u WHERE id = :id"),
                {"u": f"https://www.linkedin.com/in/rest-{lid}-{i}", "id": lid},
            )
        a = make_agency(s)
        b = make_agency(s)
        c1 = make_campaign(s, a, channels="email,linkedin")
        c2 = make_campaign(s, a, channels="email,linkedin")
        c3 = make_campaign(s, b, channels="email,linkedin")
    return leads, a, c1, c2, c3


def test_finished_sequence_rests_the_lead_for_every_campaign_of_every_agency(db: Database) -> None:
    (lid,), a, c1, c2, c3 = _world(db)
    with session_scope(db) as s:
        assert allocate(s, c1, 1, at=NOW).lead_ids == [lid]
    t_end = NOW + timedelta(days=10)
    with session_scope(db) as s:
        res = end_enrollment(s, c1, lid, reason="sequence_finished", at=t_end, actor="engine")
    assert res.ended and res.rest_until == t_end + REST
    with session_scope(db) as s:
        again = end_enrollment(s, c1, lid, at=t_end + timedelta(hours=1))  # idempotent
        assert not again.ended and again.rest_until is None
        assert s.get(Lead, lid).rest_until == t_end + REST  # type: ignore[union-attr]
        (rp,) = s.scalars(select(RestPeriod)).all()
        assert (rp.reason, rp.campaign_id, rp.agency_id, rp.until) == (
            "sequence_finished",
            c1,
            a,
            t_end + REST,
        )
    # the same agency's sibling campaign does not get it while it rests...
    with session_scope(db) as s:
        assert allocate(s, c2, 5, at=t_end + REST - timedelta(minutes=1)).lead_ids == []
    # ...and an enrollment written around allocation is still denied by the gate
    with session_scope(db) as s:
        s.add(Enrollment(lead_id=lid, campaign_id=c2, agency_id=a, status="active"))
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=c2, channel="linkedin", at=t_end + timedelta(days=1))
    assert d.codes == ["rest_period"] and d.reasons[0].retry_after == t_end + REST
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=c2, channel="linkedin", at=t_end + REST)
    assert d.allowed, d.reasons
    # another agency: the cancel starts a new rest, which outlasts the 30-day quarantine
    t_cancel = t_end + REST + timedelta(days=1)
    with session_scope(db) as s:
        released = cancel_agency(s, a, at=t_cancel)
    assert released.released_lead_ids == [lid]
    with session_scope(db) as s:
        lead = s.get(Lead, lid)
        assert lead is not None and lead.rest_until == t_cancel + REST
        assert lead.quarantine_until == t_cancel + timedelta(days=30)
        assert allocate(s, c3, 5, at=t_cancel + timedelta(days=31)).lead_ids == []
    with session_scope(db) as s:
        assert allocate(s, c3, 5, at=t_cancel + REST).lead_ids == [lid]


def test_campaign_finish_rests_and_rest_only_moves_later(db: Database) -> None:
    leads, _, c1, _, _ = _world(db, 2)
    with session_scope(db) as s:
        assert sorted(allocate(s, c1, 2, at=NOW).lead_ids) == sorted(leads)
        # one lead is removed by the agency first, later the campaign finishes
        assert end_enrollment(s, c1, leads[0], reason="removed", at=NOW + timedelta(days=5)).ended
        finish_campaign(s, c1, at=NOW + timedelta(days=2))
    with session_scope(db) as s:
        rest = dict(s.execute(select(Lead.id, Lead.rest_until)).tuples().all())
        reasons = dict(s.execute(select(RestPeriod.lead_id, RestPeriod.reason)).tuples().all())
    # the finish happened "earlier" than the removal: the removal's rest stays (greatest wins)
    assert rest[leads[0]] == NOW + timedelta(days=5) + REST
    assert rest[leads[1]] == NOW + timedelta(days=2) + REST
    assert reasons == {leads[0]: "removed", leads[1]: "campaign_finished"}


def test_an_enrollment_ended_by_a_reply_starts_no_rest(db: Database) -> None:
    (lid,), _, c1, _, _ = _world(db)
    with session_scope(db) as s:
        allocate(s, c1, 1, at=NOW)
        out = record_event(
            s,
            EventIn(
                type="reply",
                lead_id=lid,
                occurred_at=NOW + timedelta(days=1),
                source="t",
                provider_event_id="r1",
                category="interested",
            ),
            at=NOW + timedelta(days=1),
        )
        assert "enrollment:ended" in out.effects
    with session_scope(db) as s:
        assert s.get(Lead, lid).rest_until is None  # type: ignore[union-attr]
        assert s.scalars(select(RestPeriod)).all() == []


def test_end_enrollment_refuses_bad_input(db: Database) -> None:
    (lid,), _, c1, _, _ = _world(db)
    with session_scope(db) as s, pytest.raises(InvalidInput, match="sequence_finished"):
        end_enrollment(s, c1, lid, reason="replied")
    with session_scope(db) as s, pytest.raises(NotFound):
        end_enrollment(s, 999999, lid)
