"""Separate processes allocating at once never share a lead and never lose one."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads
from tests.interleaving import run_processes

from leadpool.db import Database, session_scope

pytestmark = pytest.mark.slow


def _worker(uri: str, i: int, plan: dict[str, Any], barrier: Any, out: Any) -> None:
    from leadpool.allocation.allocate import allocate
    from leadpool.allocation.rounds import allocate_round

    campaign_id, round_mode = plan["campaigns"][i], i in plan["rounds"]
    db = Database.from_uri(uri, pool_size=1)
    got: list[int] = []
    barrier.wait()
    try:
        while True:
            with session_scope(db) as s:
                if round_mode:
                    res = allocate_round(s, at=NOW)
                    ids = [lid for c in res.campaigns for lid in c.lead_ids]
                else:
                    ids = allocate(s, campaign_id, 7, at=NOW).lead_ids
            got += ids
            if not ids:
                break
    finally:
        db.dispose()
        out.put(got)


def _run(db: Database, campaigns: list[int], rounds: tuple[int, ...] = ()) -> list[list[int]]:
    """One process per campaign allocating to it until it gets nothing (those in ``rounds`` run
    allocation rounds instead), all starting at once."""
    plan = {"campaigns": campaigns, "rounds": rounds}
    return run_processes(_worker, len(campaigns), db.uri, plan, barrier=True)


def _sweep(db: Database, campaigns: list[int]) -> list[int]:
    """After the race: what is still free goes out now. A process stops at its first empty answer,
    which can come while a rival holds the last leads locked (and under company exclusivity the
    rival may then leave them to the company's owner), so 'lost' means not obtainable at all."""
    from leadpool.allocation.allocate import allocate

    got: list[int] = []
    with session_scope(db) as s:
        for c in campaigns:
            got += allocate(s, c, 10_000, at=NOW).lead_ids
    return got


def _check(db: Database, results: list[list[int]], leads: list[int]) -> None:
    handed = Counter(lid for r in results for lid in r)
    assert max(handed.values()) == 1, "a lead was handed out twice"
    assert set(handed) == set(leads), "a lead was lost"
    with session_scope(db) as s:
        owners = s.execute(text("SELECT count(*), count(DISTINCT lead_id) FROM ownerships")).one()
        enrolled = s.execute(
            text("SELECT count(*), count(DISTINCT lead_id) FROM enrollments WHERE status = 'active'")
        ).one()
        acquired = s.execute(text("SELECT count(*) FROM lead_history WHERE action = 'acquired'")).scalar_one()
    assert tuple(owners) == (len(leads), len(leads))
    assert tuple(enrolled) == (len(leads), len(leads))
    assert acquired == len(leads)


def test_processes_never_share_or_lose_a_lead(db: Database) -> None:
    with session_scope(db) as s:
        companies = [make_company(s) for _ in range(20)]
        leads = [lid for co in companies for lid in make_leads(s, 15, company_id=co)]
        campaigns = [make_campaign(s, make_agency(s), daily_quota=10_000) for _ in range(6)]
    results = _run(db, campaigns)
    results.append(_sweep(db, campaigns))
    _check(db, results, leads)
    assert all(results[:-1]), "every process got some leads"


def test_company_exclusivity_under_concurrency(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_EXCLUSIVITY", "company")
    with session_scope(db) as s:
        companies = [make_company(s) for _ in range(40)]
        leads = [lid for co in companies for lid in make_leads(s, 5, company_id=co)]
        campaigns = [make_campaign(s, make_agency(s), daily_quota=10_000) for _ in range(5)]
    results = _run(db, campaigns)
    results.append(_sweep(db, campaigns))
    _check(db, results, leads)
    with session_scope(db) as s:
        split = s.execute(
            text(
                "SELECT l.company_id FROM ownerships o JOIN leads l ON l.id = o.lead_id "
                "GROUP BY l.company_id HAVING count(DISTINCT o.agency_id) > 1"
            )
        ).all()
        mismatched = s.execute(
            text(
                "SELECT count(*) FROM ownerships o JOIN leads l ON l.id = o.lead_id "
                "JOIN company_owners co ON co.company_id = l.company_id WHERE co.agency_id <> o.agency_id"
            )
        ).scalar_one()
    assert split == [] and mismatched == 0


def test_rounds_and_single_allocations_race_safely(db: Database) -> None:
    with session_scope(db) as s:
        leads = make_leads(s, 300, company_id=make_company(s))
        campaigns = [make_campaign(s, make_agency(s), daily_quota=10_000) for _ in range(4)]
    results = _run(db, campaigns, rounds=(0,))
    results.append(_sweep(db, campaigns))
    _check(db, results, leads)
