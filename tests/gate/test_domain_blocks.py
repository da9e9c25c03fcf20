"""Blocked domains: the platform's list holds for everyone, an agency's for its campaigns only; by
email domain (or a parent) or company domain; adding one ends the enrollments it covers; lifting
one lets the gate allow again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.gate import GateWorker, check, fast
from leadpool.models import AuditLog, Company, Enrollment
from leadpool.privacy.domains import block_domain, blocked_domains, canonical_domain, unblock_domain

T0 = MONDAY_OPEN


def _codes(db: Database, lead: int, campaign: int, channel: str = "linkedin") -> list[str]:
    with session_scope(db) as s:
        return check(s, lead_id=lead, campaign_id=campaign, channel=channel, at=T0, reserve=False).codes


def _company_domain(db: Database, company_id: int) -> str:
    with session_scope(db) as s:
        c = s.get(Company, company_id)
        assert c is not None and c.domain
        return c.domain


def test_a_platform_block_covers_email_domains_their_subdomains_and_company_domains(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        at_acme = w.lead(company_id=None, email="jane@acme.com")
        at_sub = w.lead(company_id=None, email="raj@uk.acme.com")
        lookalike = w.lead(company_id=None, email="li@notacme.com")
        by_company = w.lead(email="kim@gmail.com")  # the company's domain names the organisation
    with session_scope(db) as s:
        blocked = block_domain(s, "https://www.ACME.com/about", reason="competitor", actor="ops:kim")
        block_domain(s, _company_domain(db, w.company_id), reason="partner", actor="ops:kim")
    assert blocked.domain == "acme.com" and blocked.agency_id is None and blocked.enrollments_ended == 2
    for lead in (at_acme, at_sub, by_company):  # the ended enrollment rests the lead too
        assert _codes(db, lead, w.campaign_id) == ["not_enrolled", "domain_blocked", "rest_period"], lead
    assert _codes(db, lookalike, w.campaign_id) == []
    with session_scope(db) as s:
        ended = s.scalars(select(Enrollment.end_reason).where(Enrollment.status == "ended")).all()
    assert sorted(ended) == ["domain_blocked"] * 3


def test_an_agency_block_holds_for_that_agency_only_and_can_be_lifted(db: Database) -> None:
    with session_scope(db) as s:
        a, b = World(s), World(s)
        mine = a.lead(company_id=None, email="cto@client.example")
        theirs = b.lead(company_id=None, email="cfo@client.example")
    with session_scope(db) as s:
        done = block_domain(s, "client.example", reason="our client", actor="agency:a", agency_id=a.agency_id)
    assert done.enrollments_ended == 1  # only agency A's
    assert _codes(db, mine, a.campaign_id) == ["not_enrolled", "domain_blocked", "rest_period"]
    assert _codes(db, theirs, b.campaign_id) == []
    with session_scope(db) as s:
        d = check(s, lead_id=mine, campaign_id=a.campaign_id, channel="email", at=T0, reserve=False)
    assert "agency's list" in next(r.message for r in d.reasons if r.code == "domain_blocked")

    with session_scope(db) as s:
        again = block_domain(s, "CLIENT.example", reason="twice", actor="agency:a", agency_id=a.agency_id)
        assert not again.created and again.reason == "our client"
        assert [x.domain for x in blocked_domains(s, agency_id=b.agency_id)] == []
        lifted = unblock_domain(s, "client.example", actor="agency:a", agency_id=a.agency_id)
        assert lifted.removed and not lifted.created
        with pytest.raises(NotFound, match=r"client\.example"):
            unblock_domain(s, "client.example", actor="agency:a", agency_id=a.agency_id)
        f.enroll(s, mine, a.campaign_id, a.agency_id)
    assert _codes(db, mine, a.campaign_id) == ["rest_period"]  # what any ending starts, block or not
    with session_scope(db) as s:
        actions = s.scalars(
            select(AuditLog.action).where(AuditLog.subject_type == "domain").order_by(AuditLog.id)
        ).all()
    assert actions == ["domain.block", "domain.unblock"]


def test_the_fast_path_and_a_sending_worker_give_the_same_deny(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        lead = w.lead(company_id=None, email="a@deep.sub.acme.com")
    with session_scope(db) as s:  # this process learns the campaign's policy
        assert check(s, lead_id=primer, campaign_id=w.campaign_id, channel="linkedin", at=T0).allowed
    with session_scope(db) as s:
        block_domain(s, "acme.com", reason="competitor", actor="ops")
        f.enroll(s, lead, w.campaign_id, w.agency_id)  # enrolled again after the block ended it
        f.set_lead(s, lead, rest_until=None)  # and its rest over
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        got = fast.try_allow(
            dbapi,
            lead_id=lead,
            campaign_id=w.campaign_id,
            channel="email",
            sender=None,
            at=T0,
            idempotency_key=None,
        )
    assert got is None
    with GateWorker(db) as gate:
        d = gate.check(lead_id=lead, campaign_id=w.campaign_id, channel="email", at=T0)
    assert d.codes == ["domain_blocked"]


def test_allocation_hands_no_campaign_a_lead_at_a_blocked_domain(db: Database) -> None:
    from leadpool.allocation.allocate import allocate

    with session_scope(db) as s:
        agency = f.agency(s)
        other = f.agency(s)
        campaign = f.campaign(s, agency, channels=("email", "linkedin"))
        other_campaign = f.campaign(s, other, channels=("email", "linkedin"))
        blocked = f.lead(s, email="x@rival.example")
        free = f.lead(s, email="y@fine.example")
        block_domain(s, "rival.example", reason="our client", actor="a", agency_id=agency)
    with session_scope(db) as s:
        got = allocate(s, campaign, 10, refill_shortfall=False)
    assert blocked not in got.lead_ids and free in got.lead_ids
    with session_scope(db) as s:
        assert (
            blocked in allocate(s, other_campaign, 10, refill_shortfall=False).lead_ids
        )  # another agency's list


@pytest.mark.parametrize("bad", ["", "acme", "com", "not a domain", "http://", "a..b.com", "-x.com"])
def test_a_block_must_name_a_domain(db: Database, bad: Any) -> None:
    with pytest.raises(InvalidInput, match="domain"):
        canonical_domain(bad)
    with session_scope(db) as s:
        with pytest.raises(InvalidInput):
            block_domain(s, bad, reason="r", actor="a")
        assert s.execute(text("SELECT count(*) FROM domain_blocks")).scalar_one() == 0


def test_a_block_needs_a_reason_and_an_actor(db: Database) -> None:
    with session_scope(db) as s:
        with pytest.raises(InvalidInput, match="reason"):
            block_domain(s, "acme.com", reason=" ", actor="a")
        with pytest.raises(InvalidInput, match="actor"):
            block_domain(s, "acme.com", reason="r", actor="")
