"""People a refill job buys for campaign A are held for A from the import batch that stores them
until the job allocates them at its end: another agency's allocation meanwhile (the search may take
minutes under Apollo's rate limit) does not take what A's job paid for. A hold past its time, or
of a job that ended, holds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from tests.allocation.factories import make_agency, make_campaign, make_company, make_leads
from tests.fake_apollo import construction_people, serving

from leadpool.allocation import refill as refill_mod
from leadpool.allocation.allocate import allocate
from leadpool.allocation.refill import hold_for, run_refill
from leadpool.apollo.errors import RateLimited
from leadpool.apollo.fake import FakeApollo
from leadpool.db import Database, session_scope

KEY = "refill-holds-key"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, db: Database) -> Iterator[FakeApollo]:
    people = construction_people()
    with serving(people, monkeypatch, KEY) as server:
        yield server


def test_another_agency_does_not_take_what_a_refill_bought(
    db: Database, fake: FakeApollo, monkeypatch: pytest.MonkeyPatch
) -> None:
    icp = {"industries": ["construction"]}
    with session_scope(db) as s:
        camp_a = make_campaign(s, make_agency(s), icp=icp, daily_quota=50)
        camp_b = make_campaign(s, make_agency(s), icp=icp, daily_quota=50)
    with session_scope(db) as s:
        res = allocate(s, camp_a, 10)  # pool empty: a refill job for A
    assert res.shortfall == 10 and res.refill_job_id is not None

    real = refill_mod._search_and_enrich
    taken_by_b: list[int] = []

    def search_then_b_allocates(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)  # bought and imported (committed)
        # agency B's ordinary request arrives now, on its own connection
        with session_scope(db) as s:
            taken_by_b.extend(allocate(s, camp_b, 10).lead_ids)
        return out

    monkeypatch.setattr(refill_mod, "_search_and_enrich", search_then_b_allocates)
    outcome = run_refill(db, res.refill_job_id)
    with db.engine.connect() as c:
        credits, allocated = c.execute(
            text("SELECT credits_consumed, allocated FROM refill_jobs WHERE id = :i"),
            {"i": res.refill_job_id},
        ).one()
        a_owned = c.execute(
            text("SELECT count(*) FROM enrollments WHERE campaign_id = :c"), {"c": camp_a}
        ).scalar_one()
        holds_left = c.execute(text("SELECT count(*) FROM refill_holds")).scalar_one()
    assert credits > 0 and allocated == 10 and holds_left == 0
    assert not taken_by_b and a_owned == 10, (
        f"A's refill paid {credits} credits; A got {a_owned} leads ({outcome.status}: {outcome.note}); "
        f"B took {len(taken_by_b)} of the people A's job bought"
    )


def test_a_hold_past_its_time_holds_nothing(db: Database) -> None:
    """A worker that died with its job: the leads go back to everyone when the hold ends."""
    with session_scope(db) as s:
        camp_a = make_campaign(s, make_agency(s), daily_quota=50)
        camp_b = make_campaign(s, make_agency(s), daily_quota=50)
        leads = make_leads(s, 4, company_id=make_company(s))
        job = s.execute(
            text(
                "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested) "
                "SELECT id, agency_id, 'running', 4 FROM campaigns WHERE id = :c RETURNING id"
            ),
            {"c": camp_a},
        ).scalar_one()
        for lead, minutes in zip(leads, (-5, -1, 30, 60), strict=True):
            s.execute(
                text(
                    "INSERT INTO refill_holds (lead_id, campaign_id, refill_job_id, held_until) "
                    "VALUES (:l, :c, :j, now() + make_interval(mins => :m))"
                ),
                {"l": lead, "c": camp_a, "j": job, "m": minutes},
            )
    with session_scope(db) as s:
        taken = allocate(s, camp_b, 4, refill_shortfall=False).lead_ids
    assert sorted(taken) == sorted(leads[:2])
    with session_scope(db) as s:
        assert sorted(allocate(s, camp_a, 4, refill_shortfall=False).lead_ids) == sorted(leads[2:])


def test_a_retried_job_keeps_holding_what_it_bought(
    db: Database, fake: FakeApollo, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(db) as s:
        camp_a = make_campaign(s, make_agency(s), daily_quota=50)
        camp_b = make_campaign(s, make_agency(s), daily_quota=50)
    with session_scope(db) as s:
        res = allocate(s, camp_a, 4)  # empty pool: a refill job for A
    job = res.refill_job_id
    assert job is not None
    bought: list[int] = []

    def buy_then_rate_limited(*args: Any, **kwargs: Any) -> Any:
        # stands for the search: its import batches stored and held 4 people, then Apollo's 429
        # the import batches of the search store 4 people and hold them for A (in their transaction)
        with session_scope(db) as s:
            bought.extend(make_leads(s, 4, company_id=make_company(s)))
        raw = db.engine.raw_connection()
        try:
            with raw.driver_connection.cursor() as cur:
                hold_for(camp_a, job)(cur, bought)
            raw.driver_connection.commit()
        finally:
            raw.close()
        # then Apollo keeps answering 429: a transient error, the job is retried later
        raise RateLimited("rate limited", endpoint="mixed_people/api_search", http_status=429, retry_after=60)

    monkeypatch.setattr(refill_mod, "_search_and_enrich", buy_then_rate_limited)
    with pytest.raises(RateLimited):
        run_refill(db, job, attempts=0)
    with db.engine.connect() as c:
        status = c.execute(text("SELECT status FROM refill_jobs WHERE id = :j"), {"j": job}).scalar_one()
        holds = c.execute(
            text("SELECT count(*) FROM refill_holds WHERE refill_job_id = :j"), {"j": job}
        ).scalar_one()
    assert status == "queued"  # retried: the job has not ended
    # B's ordinary allocation during the retry's backoff
    with session_scope(db) as s:
        taken_by_b = allocate(s, camp_b, 4, refill_shortfall=False).lead_ids
    assert holds == 4 and not taken_by_b, (
        f"job {job} is queued for a retry but holds {holds} of the 4 people it bought; "
        f"B took {len(taken_by_b)} of them"
    )


def test_a_hold_past_its_time_is_taken_over_by_the_next_job(db: Database) -> None:
    with session_scope(db) as s:
        camp_a = make_campaign(s, make_agency(s), daily_quota=50)
        camp_b = make_campaign(s, make_agency(s), daily_quota=50)
        (lead,) = make_leads(s, 1, company_id=make_company(s))
        jobs = [
            s.execute(
                text(
                    "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested) "
                    "SELECT id, agency_id, 'running', 1 FROM campaigns WHERE id = :c RETURNING id"
                ),
                {"c": c},
            ).scalar_one()
            for c in (camp_a, camp_b)
        ]
        s.execute(
            text(
                "INSERT INTO refill_holds (lead_id, campaign_id, refill_job_id, held_until) "
                "VALUES (:l, :c, :j, now() - interval '1 minute')"
            ),
            {"l": lead, "c": camp_a, "j": jobs[0]},
        )
    raw = db.engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:
            hold_for(camp_b, jobs[1])(cur, [lead])
        raw.driver_connection.commit()
    finally:
        raw.close()
    with session_scope(db) as s:
        held = s.execute(text("SELECT campaign_id, refill_job_id FROM refill_holds")).all()
    assert [tuple(r) for r in held] == [(camp_b, jobs[1])]
