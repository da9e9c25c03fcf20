"""allocate_round(): proportional split with largest remainder, overlaps, shortfalls."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.rounds import allocate_round, proportional_split
from leadpool.db import Database, session_scope
from leadpool.models import Ownership


def test_split_largest_remainder() -> None:
    assert proportional_split(2000, dict.fromkeys(range(5), 1000)) == dict.fromkeys(range(5), 400)
    # 10 among three equal asks: 3.33 each, the one extra goes to the oldest (smallest key)
    assert proportional_split(10, {1: 5, 2: 5, 3: 5}) == {1: 4, 2: 3, 3: 3}
    # proportional to asks: 100 among 300/100 -> 75/25
    assert proportional_split(100, {1: 300, 2: 100}) == {1: 75, 2: 25}
    # enough for everyone: everyone gets the ask
    assert proportional_split(1000, {1: 300, 2: 100}) == {1: 300, 2: 100}
    # a capped key's excess goes to the others
    assert proportional_split(100, {1: 100, 2: 100}, caps={1: 10, 2: 100}) == {1: 10, 2: 90}
    assert proportional_split(0, {1: 5}) == {1: 0}


def test_five_agencies_share_a_scarce_segment(db: Database) -> None:
    with session_scope(db) as s:
        make_leads(s, 2000, company_id=make_company(s))
        camps = [make_campaign(s, make_agency(s), daily_quota=1000) for _ in range(5)]
    with session_scope(db) as s:
        res = allocate_round(s, at=NOW)
    assert res.supply == 2000
    assert [len(c.lead_ids) for c in res.campaigns] == [400] * 5
    assert [c.shortfall for c in res.campaigns] == [600] * 5
    with session_scope(db) as s:
        per_agency = Counter(s.scalars(select(Ownership.agency_id)))
    assert sorted(per_agency.values()) == [400] * 5
    assert {c.campaign_id for c in res.campaigns} == set(camps)


def test_split_is_proportional_to_asks(db: Database) -> None:
    with session_scope(db) as s:
        make_leads(s, 90, company_id=make_company(s))
        big = make_campaign(s, make_agency(s), daily_quota=200)
        small = make_campaign(s, make_agency(s), daily_quota=100)
    with session_scope(db) as s:
        res = allocate_round(s, at=NOW)
    got = {c.campaign_id: len(c.lead_ids) for c in res.campaigns}
    assert got == {big: 60, small: 30}


def test_overlapping_icps_narrow_campaign_not_starved(db: Database) -> None:
    with session_scope(db) as s:
        texas = make_leads(s, 50, company_id=make_company(s), state="Texas")
        make_leads(s, 50, company_id=make_company(s), state="Ohio")
        broad = make_campaign(s, make_agency(s), daily_quota=100)  # all 100 leads match
        narrow = make_campaign(s, make_agency(s), daily_quota=100, icp={"states": ["texas"]})
    with session_scope(db) as s:
        res = allocate_round(s, at=NOW)
    got = {c.campaign_id: c.lead_ids for c in res.campaigns}
    # the supply (100) split 50/50; the narrow one can only use Texas, the broad one gets Ohio
    assert len(got[broad]) == 50 and len(got[narrow]) == 50
    assert set(got[narrow]) == set(texas)


def test_plenty_means_everyone_gets_the_ask_and_quota_counts(db: Database) -> None:
    with session_scope(db) as s:
        make_leads(s, 100, company_id=make_company(s))
        a = make_campaign(s, make_agency(s), daily_quota=30)
        b = make_campaign(s, make_agency(s), daily_quota=20)
    with session_scope(db) as s:
        first = allocate_round(s, at=NOW)
    with session_scope(db) as s:
        second = allocate_round(s, at=NOW)
    assert {c.campaign_id: len(c.lead_ids) for c in first.campaigns} == {a: 30, b: 20}
    assert [len(c.lead_ids) for c in second.campaigns] == [0, 0]  # daily quotas used up
    assert [c.shortfall for c in second.campaigns] == [0, 0]


def test_sibling_campaigns_of_one_agency_reuse_its_leads_first(db: Database) -> None:
    with session_scope(db) as s:
        make_leads(s, 10, company_id=make_company(s))
        agency = make_agency(s)
        c1 = make_campaign(s, agency, daily_quota=4)
    with session_scope(db) as s:
        allocate_round(s, at=NOW)
        from leadpool.allocation.campaigns import finish_campaign

        finish_campaign(s, c1, at=NOW)
        c2 = make_campaign(s, agency, daily_quota=6)
    with session_scope(db) as s:
        # after c1's leads finished their rest period (default 90 days)
        res = allocate_round(s, at=NOW + timedelta(days=90))
    (r,) = res.campaigns
    assert r.campaign_id == c2 and r.reused == 4 and r.taken_from_pool == 2


def test_a_campaign_whose_stored_icp_no_longer_validates_is_skipped_not_every_agencys_round(
    db: Database,
) -> None:
    """A campaign saved before the ICP limits with a list allocation cannot run (here a title
    term PostgreSQL refuses to compile) once made every round fail, for every agency. The round
    now leaves it out and says why; allocating that campaign alone says what to fix."""
    from sqlalchemy import text
    from typer.testing import CliRunner

    from leadpool.allocation.allocate import allocate
    from leadpool.cli import app
    from leadpool.errors import InvalidInput

    with session_scope(db) as s:
        leads = make_leads(s, 3, company_id=make_company(s))
        a, b = make_agency(s), make_agency(s)
        served = make_campaign(s, a)
        broken = make_campaign(s, b)
        s.execute(
            text("UPDATE campaigns SET icp = CAST(:icp AS jsonb) WHERE id = :id"),
            {"icp": json.dumps({"title_terms": ["ab" * 30_000]}), "id": broken},
        )
    with session_scope(db) as s:
        res = allocate_round(s, at=NOW, refill_shortfall=False)
    assert [c.campaign_id for c in res.campaigns] == [served]
    assert res.skipped == {
        broken: f"campaign {broken} icp.title_terms: item 0: at most 200 characters, got 60000"
    }
    assert res.to_json()["skipped"] == [{"campaign_id": broken, "error": res.skipped[broken]}]
    with session_scope(db) as s:
        assert dict(
            s.execute(select(Ownership.lead_id, Ownership.agency_id)).tuples().all()
        ) == dict.fromkeys(leads, a)
    with session_scope(db) as s, pytest.raises(InvalidInput, match=f"campaign {broken} icp.title_terms"):
        allocate(s, broken, 1, at=NOW)
    shown = CliRunner().invoke(app, ["allocate-round"])
    assert shown.exit_code == 0, shown.output
    assert f"campaign {broken} skipped: campaign {broken} icp.title_terms: item 0" in shown.stdout
