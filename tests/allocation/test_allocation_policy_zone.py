"""Review: allocation reachability and company exclusivity (commit cfcee94)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.allocate import allocate
from leadpool.db import Database, session_scope
from leadpool.gate import check
from leadpool.gate.overrides import set_campaign_policy
from leadpool.models import CompanyOwner


def test_zone_requirement_follows_the_campaigns_own_gate_policy(db: Database) -> None:
    """A campaign (or agency) may add channels to timezone_required_channels (policy.py only
    forbids removing sms/phone). The gate then refuses a zone-less lead on that channel for good
    (unknown_timezone), but allocation's reachable() reads only platform_policy(), so it still
    hands the campaign such leads: they sit enrolled, lost to every other agency -- the very
    failure commit cfcee94 meant to prevent."""
    with session_scope(db) as s:
        co = make_company(s)
        (no_zone,) = make_leads(s, 1, company_id=co, time_zone=None)
        (zoned,) = make_leads(s, 1, company_id=co, time_zone="America/Chicago")
        agency = make_agency(s)
        camp = make_campaign(s, agency, channels="email", daily_quota=10)
        s.execute(
            text("UPDATE campaigns SET settings = CAST(:s AS jsonb) WHERE id = :c"),
            {"s": '{"gate": {"timezone_required_channels": ["sms", "phone", "email"]}}', "c": camp},
        )
    with session_scope(db) as s:
        d = check(s, lead_id=no_zone, campaign_id=camp, channel="email", at=NOW, reserve=False)
        assert "unknown_timezone" in d.codes  # precondition: the gate refuses it for good
    with session_scope(db) as s:
        got = allocate(s, camp, 10, at=NOW).lead_ids
    assert no_zone not in got, "allocated a lead the campaign's gate policy can never let it email"
    assert got == [zoned]


def test_company_claimed_by_an_agency_stays_open_to_it_when_another_agency_owns_a_mover(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Company mode: every person at a company belongs to the agency that FIRST got someone there
    (issue 3). Agency A claimed company X. Later an import moves a lead agency B owns into X.
    The new colleague test in pool_candidates (pool.py ~166-175) is applied even when the company
    is claimed by the allocating agency itself, so A can no longer be given anyone at its own
    company (and B cannot either): the company is frozen for everybody."""
    monkeypatch.setenv("LEADPOOL_EXCLUSIVITY", "company")
    with session_scope(db) as s:
        x = make_company(s, name="BuildRight")
        y = make_company(s, name="Elsewhere")
        (sarah,) = make_leads(s, 1, company_id=x)
        (mover,) = make_leads(s, 1, company_id=y)
        a, b = make_agency(s), make_agency(s)
        ca = make_campaign(s, a, icp={}, daily_quota=1)
        cb = make_campaign(s, b, icp={}, daily_quota=1)
    with session_scope(db) as s:
        assert allocate(s, ca, 1, at=NOW).lead_ids == [sarah]
    with session_scope(db) as s:
        assert allocate(s, cb, 1, at=NOW).lead_ids == [mover]
    with session_scope(db) as s:
        # a job change: the re-import moves B's lead to A's company
        s.execute(text("UPDATE leads SET company_id = :x WHERE id = :l"), {"x": x, "l": mover})
        (coo,) = make_leads(s, 1, company_id=x)
        ca2 = make_campaign(s, a, icp={}, daily_quota=5)
    with session_scope(db) as s:
        assert s.scalar(select(CompanyOwner.agency_id).where(CompanyOwner.company_id == x)) == a
    with session_scope(db) as s:
        got = allocate(s, ca2, 5, at=NOW).lead_ids
    assert coo in got, "agency A, which holds company X, is no longer given X's COO"


def test_an_icp_that_widens_email_statuses_gets_only_what_its_gate_policy_sends_to(db: Database) -> None:
    """docs/allocation.md says to add extrapolated to the ICP "to widen"; the gate still refused
    those emails (verified only, unless the campaign's policy allows more), so an email-only
    campaign was given leads it could never email, lost to every other agency. A campaign that
    can reach them another way still gets them; one whose policy allows them gets them."""
    with session_scope(db) as s:
        co = make_company(s)
        extrapolated = make_leads(s, 2, company_id=co, email_status="extrapolated")
        (verified,) = make_leads(s, 1, company_id=co)
        agency = make_agency(s)
        wide = {"email_statuses": ["verified", "extrapolated"]}
        email_only = make_campaign(s, agency, icp=wide, channels="email", daily_quota=10)
        also_linkedin = make_campaign(s, agency, icp=wide, channels="email,linkedin", daily_quota=10)
    with session_scope(db) as s:
        d = check(s, lead_id=extrapolated[0], campaign_id=email_only, channel="email", at=NOW, reserve=False)
        assert "email_unverified" in d.codes  # the gate's word, before allocation is asked
        assert allocate(s, email_only, 10, at=NOW).lead_ids == [verified]
    with session_scope(db) as s:
        s.execute(
            text("UPDATE leads SET linkedin_url = 'https://www.linkedin.com/in/p-' || id WHERE id = :i"),
            {"i": extrapolated[0]},
        )
    with session_scope(db) as s:
        assert allocate(s, also_linkedin, 10, at=NOW).lead_ids == [extrapolated[0]]
    with session_scope(db) as s:
        set_campaign_policy(
            s, email_only, {"allowed_email_statuses": ["verified", "extrapolated"]}, actor="ops", at=NOW
        )
    with session_scope(db) as s:
        assert allocate(s, email_only, 10, at=NOW).lead_ids == [extrapolated[1]]


def test_allocation_reads_email_statuses_in_any_case_as_the_gate_does(db: Database) -> None:
    """A lead stored 'Extrapolated' (a JSON import keeps Apollo's spelling) is one the gate sends to
    (it compares in any case); allocation matched the status exactly and never gave it out (a
    reviewer's test)."""
    with session_scope(db) as s:
        co = make_company(s)
        (lead,) = make_leads(s, 1, company_id=co, email_status="Extrapolated")
        s.execute(text("UPDATE leads SET linkedin_url = NULL, phone = NULL WHERE id = :i"), {"i": lead})
        agency = make_agency(s)
        camp = make_campaign(
            s, agency, icp={"email_statuses": ["extrapolated"]}, channels="email", daily_quota=10
        )
    with session_scope(db) as s:
        policy = {"allowed_email_statuses": ["verified", "extrapolated"]}
        set_campaign_policy(s, camp, policy, actor="ops", at=NOW)
    with session_scope(db) as s:
        got = allocate(s, camp, 10, at=NOW).lead_ids
    with session_scope(db) as s:
        d = check(s, lead_id=lead, campaign_id=camp, channel="email", at=NOW, reserve=False)
        assert "email_unverified" not in d.codes  # the gate sends to it
    assert got == [lead]
