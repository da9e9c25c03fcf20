"""Company exclusivity, release on cancel, quarantine, stickiness of converted leads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.agencies import cancel_agency, reactivate_agency
from leadpool.allocation.allocate import allocate
from leadpool.allocation.campaigns import resume_campaign
from leadpool.allocation.rounds import allocate_round
from leadpool.db import Database, session_scope
from leadpool.errors import Conflict
from leadpool.gate import check, confirm_sent
from leadpool.models import Campaign, CompanyOwner, Enrollment, Lead, LeadHistory, Ownership


@pytest.fixture
def company_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_EXCLUSIVITY", "company")


def test_company_exclusivity_keeps_the_whole_company(db: Database, company_mode: None) -> None:
    with session_scope(db) as s:
        build = make_company(s, name="BuildRight")
        other = make_company(s)
        sarah = make_leads(s, 1, company_id=build)[0]
        coo = make_leads(s, 1, company_id=build)[0]
        elsewhere = make_leads(s, 2, company_id=other)
        a, b = make_agency(s), make_agency(s)
        ca = make_campaign(s, a)
        cb = make_campaign(s, b)
    with session_scope(db) as s:
        assert allocate(s, ca, 1, at=NOW).lead_ids == [sarah]
    with session_scope(db) as s:
        got_b = allocate(s, cb, 10, at=NOW).lead_ids
    assert coo not in got_b and sorted(got_b) == sorted(elsewhere)
    with session_scope(db) as s:
        # the company row is the agency's: the COO is still there for agency A later
        assert allocate(s, ca, 10, at=NOW).lead_ids == [coo]
        owners = dict(s.execute(select(CompanyOwner.company_id, CompanyOwner.agency_id)).tuples().all())
    assert owners == {build: a, other: b}


def test_person_mode_ignores_companies(db: Database) -> None:
    with session_scope(db) as s:
        co = make_company(s)
        make_leads(s, 2, company_id=co)
        ca, cb = make_campaign(s, make_agency(s)), make_campaign(s, make_agency(s))
    with session_scope(db) as s:
        assert len(allocate(s, ca, 1, at=NOW).lead_ids) == 1
        assert len(allocate(s, cb, 1, at=NOW).lead_ids) == 1
        assert s.execute(text("SELECT count(*) FROM company_owners")).scalar_one() == 0


def test_company_owner_is_unique_in_the_database(db: Database) -> None:
    with session_scope(db) as s:
        co = make_company(s)
        a, b = make_agency(s), make_agency(s)
        s.add(CompanyOwner(company_id=co, agency_id=a))
    with pytest.raises(IntegrityError, match="pk_company_owners"), session_scope(db) as s:
        s.add(CompanyOwner(company_id=co, agency_id=b))


def test_round_respects_company_exclusivity(db: Database, company_mode: None) -> None:
    with session_scope(db) as s:
        companies = [make_company(s) for _ in range(4)]
        for co in companies:
            make_leads(s, 3, company_id=co)
        camps = [make_campaign(s, make_agency(s), daily_quota=100) for _ in range(2)]
    with session_scope(db) as s:
        res = allocate_round(s, at=NOW)
        rows = s.execute(
            text(
                "SELECT l.company_id, count(DISTINCT o.agency_id) FROM ownerships o "
                "JOIN leads l ON l.id = o.lead_id GROUP BY l.company_id"
            )
        ).all()
    assert all(n == 1 for _, n in rows)
    assert sum(len(c.lead_ids) for c in res.campaigns) == 12
    assert {c.campaign_id for c in res.campaigns} == set(camps)


def test_cancel_releases_all_but_converted_and_quarantines(db: Database, company_mode: None) -> None:
    with session_scope(db) as s:
        co1, co2 = make_company(s), make_company(s)
        l1 = make_leads(s, 2, company_id=co1)
        l2 = make_leads(s, 2, company_id=co2, quarantine_until=NOW - timedelta(days=5))
        agency = make_agency(s)
        camp = make_campaign(s, agency)
    with session_scope(db) as s:
        assert len(allocate(s, camp, 10, at=NOW).lead_ids) == 4
        converted = l1[0]
        s.execute(
            text("UPDATE ownerships SET converted_at = :at WHERE lead_id = :l"), {"at": NOW, "l": converted}
        )
        s.execute(text("UPDATE leads SET converted_at = :at WHERE id = :l"), {"at": NOW, "l": converted})
        # a lead that bounced while owned keeps its bounce after release
        s.execute(text("UPDATE leads SET email_bounced_at = :at WHERE id = :l"), {"at": NOW, "l": l2[1]})
    later = NOW + timedelta(days=2)
    with session_scope(db) as s:
        res = cancel_agency(s, agency, at=later)
    assert sorted(res.released_lead_ids) == sorted([l1[1], *l2])
    assert res.kept_converted == 1 and res.enrollments_ended == 4 and res.companies_released == 1
    with session_scope(db) as s:
        assert s.execute(select(Ownership.lead_id, Ownership.agency_id)).tuples().all() == [
            (converted, agency)
        ]
        assert s.scalar(select(Campaign.status).where(Campaign.id == camp)) == "paused"
        assert s.execute(select(Enrollment.status).distinct()).scalars().all() == ["ended"]
        q = dict(s.execute(select(Lead.id, Lead.quarantine_until)).tuples().all())
        for lid in res.released_lead_ids:
            assert q[lid] == later + timedelta(days=30)
        assert q[converted] is None
        bounced = s.get(Lead, l2[1])
        assert bounced is not None and bounced.email_bounced_at == NOW
        released_hist = s.scalars(select(LeadHistory).where(LeadHistory.action == "released")).all()
        assert {h.lead_id for h in released_hist} == set(res.released_lead_ids)
        assert all(h.reason and "quarantined until" in h.reason for h in released_hist)
        assert {
            h.lead_id for h in s.scalars(select(LeadHistory).where(LeadHistory.action == "unenrolled"))
        } == {
            *l1,
            *l2,
        }
        assert s.execute(select(CompanyOwner.company_id)).scalars().all() == [
            co1
        ]  # kept with the converted lead

    with session_scope(db) as s:
        other = make_campaign(s, make_agency(s))
    with session_scope(db) as s:
        # during quarantine nobody gets them
        assert allocate(s, other, 10, at=later + timedelta(days=29)).lead_ids == []
    with session_scope(db) as s:
        # quarantine (30 days) is over, but the ended enrollments' rest (90 days) is not: the later wins
        assert allocate(s, other, 10, at=later + timedelta(days=31)).lead_ids == []
    with session_scope(db) as s:
        # co1 stays with the cancelled agency (its converted lead), so only co2's unbounced lead
        assert allocate(s, other, 10, at=later + timedelta(days=90)).lead_ids == [l2[0]]


def test_reactivating_does_not_give_leads_back(db: Database) -> None:
    with session_scope(db) as s:
        make_leads(s, 3, company_id=make_company(s))
        agency = make_agency(s)
        camp = make_campaign(s, agency)
    with session_scope(db) as s:
        allocate(s, camp, 3, at=NOW)
    with session_scope(db) as s:
        cancel_agency(s, agency, at=NOW)
    with session_scope(db) as s, pytest.raises(Conflict, match="already cancelled"):
        cancel_agency(s, agency, at=NOW)
    with session_scope(db) as s, pytest.raises(Conflict, match="not active"):
        resume_campaign(s, camp)
    with session_scope(db) as s:
        reactivate_agency(s, agency)
        resume_campaign(s, camp)
    with session_scope(db) as s:
        assert s.execute(text("SELECT count(*) FROM ownerships")).scalar_one() == 0
        # the agency's own campaign is not exempt from the quarantine
        assert allocate(s, camp, 3, at=NOW + timedelta(days=1)).lead_ids == []


def test_owned_flag_follows_ownerships_whoever_writes(db: Database) -> None:
    with session_scope(db) as s:
        a, b = make_leads(s, 2)
        agency = make_agency(s)
        s.add(Ownership(lead_id=a, agency_id=agency))
    with session_scope(db) as s:
        flags = dict(s.execute(text("SELECT id, owned FROM leads")).tuples().all())
        assert flags == {a: True, b: False}
        s.execute(text("DELETE FROM ownerships WHERE lead_id = :a"), {"a": a})
        assert s.execute(text("SELECT bool_or(owned) FROM leads")).scalar_one() is False


def test_cancelling_an_agency_cancels_its_live_reservations(db: Database) -> None:
    # a Monday, inside the email window on every US clock (the leads have no zone): 08:00 in Honolulu
    SEND = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    with session_scope(db) as s:
        make_leads(s, 2, company_id=make_company(s))
        agency = make_agency(s)
        camp = make_campaign(s, agency)
    with session_scope(db) as s:
        lead_ids = allocate(s, camp, 2, at=NOW).lead_ids
    with session_scope(db) as s:
        d = check(s, lead_id=lead_ids[0], campaign_id=camp, channel="email", at=SEND)
        assert d.allowed and d.touch_id is not None, d.codes
    with session_scope(db) as s:
        cancel_agency(s, agency, at=SEND + timedelta(minutes=1))
    with session_scope(db) as s:
        assert (
            s.execute(text("SELECT state FROM touches WHERE id = :t"), {"t": d.touch_id}).scalar()
            == "cancelled"
        )
        # the send the cancelled agency was about to make is refused
        with pytest.raises(Conflict, match="is cancelled; it cannot be confirmed"):
            confirm_sent(s, d.touch_id, "msg-1", at=SEND + timedelta(minutes=2))


def test_a_lead_moved_to_another_agencys_company_starts_no_new_campaign(
    db: Database, company_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPOOL_REFILL_ENABLED", "false")
    with session_scope(db) as s:
        x, y = make_company(s), make_company(s)
        mover, stays = make_leads(s, 1, company_id=x)[0], make_leads(s, 1, company_id=x)[0]
        at_y = make_leads(s, 1, company_id=y)[0]
        a, b = make_agency(s), make_agency(s)
        first_a = make_campaign(s, a)
        campaign_b = make_campaign(s, b)
    with session_scope(db) as s:
        assert sorted(allocate(s, first_a, 2, at=NOW).lead_ids) == sorted([mover, stays])
        assert allocate(s, campaign_b, 1, at=NOW).lead_ids == [at_y]
        s.execute(text("UPDATE enrollments SET status = 'ended' WHERE campaign_id = :c"), {"c": first_a})
        # a re-import says the person now works at Y, which B holds
        s.execute(text("UPDATE leads SET company_id = :y WHERE id = :l"), {"y": y, "l": mover})
    with session_scope(db) as s:
        second_a = make_campaign(s, a)
    with session_scope(db) as s:
        # A keeps the person, but its next campaign re-uses only the lead still at its own company
        assert allocate(s, second_a, 5, at=NOW).lead_ids == [stays]
        assert s.scalar(select(Ownership.agency_id).where(Ownership.lead_id == mover)) == a


def test_a_round_in_company_mode_serves_an_agency_whose_candidates_another_took(
    db: Database, company_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPOOL_REFILL_ENABLED", "false")
    with session_scope(db) as s:
        big = make_company(s)
        make_leads(s, 10, company_id=big, enriched_at=NOW)  # the best ranked, all at one company
        for _ in range(10):  # ten more, each at its own company, ranked lower
            make_leads(s, 1, company_id=make_company(s), enriched_at=NOW - timedelta(days=10))
        first = make_campaign(s, make_agency(s), daily_quota=5)
        second = make_campaign(s, make_agency(s), daily_quota=5)
    with session_scope(db) as s:
        result = allocate_round(s, at=NOW)
    assert {c.campaign_id: len(c.lead_ids) for c in result.campaigns} == {first: 5, second: 5}
    assert all(c.shortfall == 0 for c in result.campaigns)
