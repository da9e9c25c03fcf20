"""The number's country standing in for an unknown one, over every spelling of a number and of a
country: the fast path only ever allows what the full check allows, and allocation's consent
filter keeps exactly the leads the gate does not deny no_consent; allocation's lookup uses the
prefix index."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.allocation.pool import consented, leads
from leadpool.db import Database, session_scope
from leadpool.gate import check, fast

T0 = MONDAY_OPEN  # Monday 15:00 UTC
NEEDS = {"email": ("DE", "CA"), "sms": ("CA",)}

PHONES = [
    None,
    "",
    "+",
    "+4930901820",
    "4930901820",
    "+49 30 901820",
    "+14165550100",
    "+1 416 555 0100",
    "+14165550100;ext=12",
    "+18005550100",
    "+18765550100",
    "+77012345678",
    "+73432123456",
    "+81312345678",
    "+999123",
]
COUNTRIES = [None, "", "  ", "Germany", "de", "Atlantis", "United States", "Canada"]
ZONES = [None, "Europe/Berlin"]


@pytest.fixture(autouse=True)
def _defaults(fresh_policy: None) -> None:
    pass


def test_fast_path_full_check_and_allocation_agree_on_every_phone_spelling(db: Database) -> None:
    cases: dict[int, tuple[Any, ...]] = {}
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        for phone, country, zone in itertools.product(PHONES, COUNTRIES, ZONES):
            lid = w.lead(company_id=None, phone=phone, country=country, time_zone=zone)
            cases[lid] = (phone, country, zone)
    with session_scope(db) as s:
        assert check(
            s, lead_id=primer, campaign_id=w.campaign_id, channel="email", at=T0, reserve=False
        ).allowed

    problems = []
    for channel in ("email", "sms"):
        with session_scope(db) as s:
            keep = set(
                s.scalars(
                    select(leads.c.id).where(
                        leads.c.id.in_(list(cases)), consented(w.agency_id, channel, NEEDS[channel], T0)
                    )
                )
            )
        for lid, case in cases.items():
            with session_scope(db) as s:
                d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel=channel, at=T0, reserve=False)
            s = db.sessionmaker()
            try:
                dbapi = s.connection().connection.dbapi_connection
                quick = fast.try_allow(
                    dbapi,
                    lead_id=lid,
                    campaign_id=w.campaign_id,
                    channel=channel,
                    sender=None,
                    at=T0,
                    idempotency_key=None,
                )
            finally:
                s.rollback()
                s.close()
            if quick is not None and not d.allowed:
                problems.append(("fast allows, full denies", channel, case, d.codes))
            if (lid in keep) == ("no_consent" in d.codes):
                problems.append(("allocation disagrees", channel, case, d.codes, lid in keep))
    assert problems == []


def test_allocations_number_lookup_can_use_the_prefix_index(db: Database) -> None:
    """A "C" collation on the longest prefix (an earlier form) kept pk_phone_prefix_regions from
    serving the lookup: a scan of the whole table per candidate without a known country."""
    from sqlalchemy import text

    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(company_id=None, country=None, phone="+4930901820")
    with session_scope(db) as s:
        q = select(leads.c.id).where(leads.c.id == lid, consented(w.agency_id, "email", ("DE", "CA"), T0))
        compiled = str(q.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True}))
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(s.execute(text("EXPLAIN " + compiled)).scalars())
    assert "Seq Scan on phone_prefix_regions" not in plan, plan
