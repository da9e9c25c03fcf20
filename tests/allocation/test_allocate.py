"""allocate(): supply order, contactability, ranking, quota cap, ICP compile, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.allocate import allocate
from leadpool.allocation.campaigns import finish_campaign, pause_campaign
from leadpool.db import Database, session_scope
from leadpool.errors import Conflict, InvalidInput
from leadpool.gate.overrides import set_campaign_policy
from leadpool.models import Enrollment, LeadHistory, Ownership


def test_takes_matching_contactable_pool_leads(db: Database) -> None:
    with session_scope(db) as s:
        co = make_company(s, industry="Construction")
        other = make_company(s, industry="banking")
        good = make_leads(s, 3, company_id=co)
        make_leads(s, 2, company_id=other)  # wrong industry
        make_leads(s, 1, company_id=co, email_status="guessed")  # not verified
        make_leads(s, 1, company_id=co, unsubscribed_at=NOW)
        make_leads(s, 1, company_id=co, complained_at=NOW)
        make_leads(s, 1, company_id=co, erased_at=NOW)
        make_leads(s, 1, company_id=co, converted_at=NOW)
        make_leads(s, 1, company_id=co, replied_at=NOW)
        make_leads(s, 1, company_id=co, blocklisted_at=NOW)
        make_leads(s, 1, company_id=co, wrong_person_at=NOW)
        make_leads(s, 1, company_id=co, email_bounced_at=NOW)
        make_leads(s, 1, company_id=co, email=None)
        make_leads(s, 1, company_id=co, cooling_until=NOW + timedelta(days=1))
        make_leads(s, 1, company_id=co, quarantine_until=NOW + timedelta(days=1))
        cooled = make_leads(s, 1, company_id=co, cooling_until=NOW - timedelta(days=1))
        agency = make_agency(s)
        camp = make_campaign(s, agency)
    with session_scope(db) as s:
        res = allocate(s, camp, 50, at=NOW)
    assert sorted(res.lead_ids) == sorted(good + cooled)
    assert res.taken_from_pool == 4 and res.reused == 0 and res.granted == 50 and res.shortfall == 46
    assert res.job_id is None  # no Apollo key configured: no refill possible
    assert res.refill_unavailable == "no Apollo API key is set (LEADPOOL_APOLLO_API_KEY)"
    with session_scope(db) as s:
        owners = dict(s.execute(select(Ownership.lead_id, Ownership.agency_id)).tuples().all())
        assert owners == dict.fromkeys(good + cooled, agency)
        assert (
            s.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.status == "active")) == 4
        )
        actions = (
            s.execute(select(LeadHistory.action, func.count()).group_by(LeadHistory.action)).tuples().all()
        )
        assert dict(actions) == {"acquired": 4, "enrolled": 4}
        hist = s.scalars(select(LeadHistory).where(LeadHistory.action == "acquired")).first()
        assert hist is not None and hist.actor == "allocation" and hist.agency_id == agency
        assert hist.reason == f"campaign {camp} allocation" and hist.at == NOW


def test_linkedin_campaign_does_not_need_an_email(db: Database) -> None:
    with session_scope(db) as s:
        co = make_company(s)
        # a lead without an email has no email status either (Apollo sends null)
        li = make_leads(
            s, 1, company_id=co, email=None, email_status=None, linkedin_url="https://www.linkedin.com/in/x1"
        )
        make_leads(s, 1, company_id=co, email=None, email_status=None)
        camp = make_campaign(s, make_agency(s), channels="linkedin")
    with session_scope(db) as s:
        assert allocate(s, camp, 5, at=NOW).lead_ids == li


def test_the_allowed_email_statuses_rule_the_email_route_only(db: Database) -> None:
    with session_scope(db) as s:
        co = make_company(s)
        on_linkedin = make_leads(
            s, 1, company_id=co, email_status="guessed", linkedin_url="https://www.linkedin.com/in/x2"
        )
        make_leads(s, 1, company_id=co, email_status="guessed")  # email only, and not verified
        agency = make_agency(s)
        both = make_campaign(s, agency, channels="email,linkedin")
        email_only = make_campaign(s, make_agency(s), channels="email")
    with session_scope(db) as s:
        assert allocate(s, email_only, 5, at=NOW).lead_ids == []
        assert allocate(s, both, 5, at=NOW).lead_ids == on_linkedin


def test_ranking_verified_first_then_fit(db: Database) -> None:
    with session_scope(db) as s:
        co = make_company(s)
        stale = make_leads(s, 1, company_id=co, enriched_at=NOW - timedelta(days=400))
        fresh = make_leads(s, 1, company_id=co, enriched_at=NOW - timedelta(days=3))
        guessed = make_leads(s, 1, company_id=co, email_status="guessed", extrapolated_email_confidence=0.95)
        camp = make_campaign(s, make_agency(s), icp={"email_statuses": ["verified", "guessed"]})
        # the gate emails guessed addresses only where the campaign's policy allows them
        set_campaign_policy(s, camp, {"allowed_email_statuses": ["verified", "guessed"]}, actor="ops", at=NOW)
    with session_scope(db) as s:
        first = allocate(s, camp, 1, at=NOW).lead_ids
        second = allocate(s, camp, 1, at=NOW).lead_ids
        third = allocate(s, camp, 1, at=NOW).lead_ids
    assert (first, second, third) == (fresh, stale, guessed)


def test_reuses_own_free_leads_before_the_pool(db: Database) -> None:
    with session_scope(db) as s:
        co = make_company(s)
        make_leads(s, 6, company_id=co)
        agency = make_agency(s)
        first = make_campaign(s, agency)
        second = make_campaign(s, agency)
    with session_scope(db) as s:
        got = allocate(s, first, 4, at=NOW).lead_ids
        finish_campaign(s, first, at=NOW)
    # the finished campaign's leads rest (90 days by default) before any campaign gets them again
    with session_scope(db) as s:
        resting = allocate(s, second, 6, at=NOW + timedelta(days=89))
    assert resting.reused == 0 and resting.taken_from_pool == 2 and not set(got) & set(resting.lead_ids)
    with session_scope(db) as s:
        res = allocate(s, second, 6, at=NOW + timedelta(days=90))
    assert res.reused == 4 and res.taken_from_pool == 0
    assert set(got) <= set(res.lead_ids)


def test_daily_quota_caps_a_call(db: Database) -> None:
    with session_scope(db) as s:
        make_leads(s, 10, company_id=make_company(s))
        camp = make_campaign(s, make_agency(s), daily_quota=3)
    with session_scope(db) as s:
        a = allocate(s, camp, 2, at=NOW)
        b = allocate(s, camp, 5, at=NOW)
        c = allocate(s, camp, 5, at=NOW)
        d = allocate(s, camp, 5, at=NOW + timedelta(days=1))
    assert [len(x.lead_ids) for x in (a, b, c, d)] == [2, 1, 0, 3]
    assert (b.granted, c.granted, c.shortfall) == (1, 0, 0)


def test_campaign_and_agency_must_be_active(db: Database) -> None:
    with session_scope(db) as s:
        agency = make_agency(s)
        draft = make_campaign(s, agency, active=False)
        camp = make_campaign(s, agency)
        pause_campaign(s, camp)
    with session_scope(db) as s, pytest.raises(Conflict, match="is draft"):
        allocate(s, draft, 1)
    with session_scope(db) as s, pytest.raises(Conflict, match="is paused"):
        allocate(s, camp, 1)
    with session_scope(db) as s, pytest.raises(InvalidInput, match="count"):
        allocate(s, camp, -1)


def test_icp_dimensions_compile(db: Database) -> None:
    with session_scope(db) as s:
        good_co = make_company(
            s,
            industry="Construction",
            keywords=["roofing", "commercial"],
            estimated_num_employees=50,
            annual_revenue=5_000_000,
            founded_year=2005,
            latest_funding_stage="Series A",
            technology_uids=["salesforce", "google_analytics"],
            domain="buildright.example.com",
        )
        rival = make_company(
            s,
            industry="construction",
            keywords=["roofing"],
            estimated_num_employees=50,
            organization_revenue=5_000_000,
            founded_year=2005,
            latest_funding_stage="series a",
            technology_uids=["salesforce", "google_analytics"],
            domain="rival.example.com",
        )
        big = make_company(
            s,
            industry="construction",
            keywords=["roofing"],
            estimated_num_employees=5000,
            annual_revenue=5_000_000,
            founded_year=2005,
            latest_funding_stage="Series A",
            technology_uids=["salesforce", "google_analytics"],
        )
        want = make_leads(
            s,
            1,
            company_id=good_co,
            title="VP of Sales",
            seniority="vp",
            departments=["master_sales"],
            country="United States",
            state="Texas",
            city="Austin",
        )
        make_leads(
            s,
            1,
            company_id=good_co,
            title="VP of Sales (intern)",
            seniority="vp",
            departments=["master_sales"],
            country="United States",
            state="Texas",
            city="Austin",
        )
        make_leads(
            s,
            1,
            company_id=good_co,
            title="Engineer",
            seniority="vp",
            departments=["master_sales"],
            country="United States",
            state="Texas",
            city="Austin",
        )
        make_leads(
            s,
            1,
            company_id=good_co,
            title="VP Sales",
            seniority="vp",
            departments=["master_sales"],
            country="United States",
            state="Ohio",
            city="Austin",
        )
        make_leads(
            s,
            1,
            company_id=rival,
            title="VP Sales",
            seniority="vp",
            departments=["master_sales"],
            country="united states",
            state="texas",
            city="austin",
        )
        make_leads(
            s,
            1,
            company_id=big,
            title="VP Sales",
            seniority="vp",
            departments=["master_sales"],
            country="United States",
            state="Texas",
            city="Austin",
        )
        make_leads(
            s,
            1,
            company_id=None,
            title="VP Sales",
            seniority="vp",
            departments=["master_sales"],
            country="United States",
            state="Texas",
            city="Austin",
        )
        icp = {
            "industries": ["construction"],
            "keywords": ["Roofing"],
            "title_terms": ["vp"],
            "seniorities": ["VP"],
            "departments": ["master_sales"],
            "countries": ["united states"],
            "states": ["TEXAS"],
            "cities": ["austin"],
            "employee_count": {"min": 10, "max": 200},
            "revenue": {"min": 1_000_000, "max": 10_000_000},
            "founded_year": {"min": 2000},
            "funding_stages": ["series a"],
            "technologies": {"any_of": ["Salesforce", "hubspot"], "all_of": ["Google Analytics"]},
            "exclude": {"company_domains": ["rival.example.com"], "title_terms": ["intern"]},
        }
        camp = make_campaign(s, make_agency(s), icp=icp)
        camp_all = make_campaign(
            s,
            make_agency(s),
            icp={k: v for k, v in icp.items() if k not in ("exclude", "industries", "employee_count")},
        )
    with session_scope(db) as s:
        assert allocate(s, camp, 10, at=NOW).lead_ids == want
        # without the exclusions and size/industry, the rival's lead also matches (the big
        # company's lead too); the lead without a company never matches company conditions
        assert len(allocate(s, camp_all, 10, at=NOW).lead_ids) == 3


def test_one_active_enrollment_per_lead_is_a_constraint(db: Database) -> None:
    with session_scope(db) as s:
        lead = make_leads(s, 1, company_id=make_company(s))[0]
        agency = make_agency(s)
        c1 = make_campaign(s, agency)
        c2 = make_campaign(s, agency)
        s.add(Enrollment(lead_id=lead, campaign_id=c1, agency_id=agency))
    with pytest.raises(IntegrityError, match="uq_enrollments_active_lead"), session_scope(db) as s:
        s.add(Enrollment(lead_id=lead, campaign_id=c2, agency_id=agency))
    with session_scope(db) as s:
        # and allocation never tries: an enrolled lead is no candidate for a sibling campaign
        assert allocate(s, c2, 5, at=NOW).lead_ids == []


def test_one_owner_per_lead_is_a_constraint(db: Database) -> None:
    with session_scope(db) as s:
        lead = make_leads(s, 1)[0]
        a, b = make_agency(s), make_agency(s)
        s.add(Ownership(lead_id=lead, agency_id=a))
    with pytest.raises(IntegrityError, match="pk_ownerships"), session_scope(db) as s:
        s.add(Ownership(lead_id=lead, agency_id=b))
    with session_scope(db) as s:
        assert s.execute(text("SELECT count(*) FROM ownerships")).scalar_one() == 1


def test_title_terms_match_whole_words(db: Database) -> None:
    with session_scope(db) as s:
        co = make_company(s)
        titles = [
            "CTO",
            "Director of Operations",
            "Marketing Coordinator",
            "VP International Sales",
            "Sales Intern",
        ]
        ids = {t: make_leads(s, 1, company_id=co, title=t)[0] for t in titles}
        agency = make_agency(s)
        chiefs = make_campaign(s, agency, icp={"title_terms": ["cto", "coo"]})
        no_interns = make_campaign(s, make_agency(s), icp={"exclude": {"title_terms": ["intern"]}})
    with session_scope(db) as s:
        assert allocate(s, chiefs, 10, at=NOW).lead_ids == [ids["CTO"]]
        taken = set(allocate(s, no_interns, 10, at=NOW).lead_ids)
    assert ids["VP International Sales"] in taken and ids["Sales Intern"] not in taken
