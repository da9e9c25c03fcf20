"""Refill jobs end to end: deferred with the allocation, run by the procrastinate worker against
the fake Apollo server, budgeted, retried on 5xx, visible in the job list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from tests import fake_apollo
from tests.allocation.factories import make_agency, make_campaign
from tests.fake_apollo import serving

from leadpool.allocation.allocate import allocate
from leadpool.allocation.refill import (
    REFILL_TASK,
    TransientRetry,
    _budget_left,
    list_refill_jobs,
    run_refill,
    spent_today,
)
from leadpool.apollo.client import ApolloClient
from leadpool.apollo.errors import ApolloRequestError, ApolloUnavailable
from leadpool.apollo.fake import FakeApollo
from leadpool.db import Database, session_scope
from leadpool.queue import run_worker

KEY = "refill-test-key"


@pytest.fixture(scope="module")
def construction_people() -> list[dict[str, Any]]:
    people = fake_apollo.construction_people()
    assert len(people) >= 25
    return people


@pytest.fixture
def fake(
    construction_people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, db: Database
) -> Iterator[FakeApollo]:
    with serving(construction_people, monkeypatch, KEY) as server:
        yield server


def _campaign(db: Database, quota: int = 50) -> int:
    with session_scope(db) as s:
        return make_campaign(s, make_agency(s), icp={"industries": ["construction"]}, daily_quota=quota)


def _paid(s: Any, at: datetime, credits: int | None) -> None:
    """A paid Apollo response as the client stores it: what the day's budget is summed from."""
    s.execute(
        text(
            "INSERT INTO raw_payloads (endpoint, credits_consumed, body, body_sha256, fetched_at) "
            "VALUES ('people/bulk_match', :cr, '{}', 'x', :t)"
        ),
        {"cr": credits, "t": at},
    )


def _jobs(db: Database) -> list[tuple[Any, ...]]:
    with session_scope(db) as s:
        return [
            # refill jobs only: a worker also defers the gate's every-minute expiry job from the cron
            tuple(r)
            for r in s.execute(
                text("SELECT id, status::text, attempts FROM procrastinate_jobs WHERE task_name = :t"),
                {"t": REFILL_TASK},
            )
        ]


def test_shortfall_defers_a_job_that_completes_the_allocation(db: Database, fake: FakeApollo) -> None:
    camp = _campaign(db)
    with session_scope(db) as s:
        res = allocate(s, camp, 10)
    assert res.lead_ids == [] and res.shortfall == 10 and res.job_id is not None
    with session_scope(db) as s:
        # a second shortfall while one is queued does not pile up another job
        again = allocate(s, camp, 10)
    assert (again.refill_job_id, again.job_id) == (res.refill_job_id, res.job_id)
    assert len(_jobs(db)) == 1

    run_worker(uri=db.uri, until_empty=True)

    assert _jobs(db) == [(res.job_id, "succeeded", 1)]  # procrastinate counts finished tries
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
        owned = s.execute(text("SELECT count(*) FROM ownerships")).scalar_one()
        hist = s.execute(text("SELECT DISTINCT actor FROM lead_history")).scalars().all()
    assert view.status == "done" and view.queue_status == "succeeded"
    assert view.requested == 10 and view.allocated == 10 and owned == 10
    assert view.enriched >= 10 and view.credits_consumed == Decimal(str(fake.credits_charged)) > 0
    assert hist == [f"refill:{view.id}"]
    searched = [r for r in fake.request_log if r.endpoint == "mixed_people/api_search"]
    assert searched and searched[0].params.get("q_keywords") == "construction"


def test_rolled_back_allocation_leaves_no_job(db: Database, fake: FakeApollo) -> None:
    camp = _campaign(db)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), session_scope(db) as s:
        res = allocate(s, camp, 5)
        assert res.job_id is not None
        raise Boom
    assert _jobs(db) == []
    with session_scope(db) as s:
        assert s.execute(text("SELECT count(*) FROM refill_jobs")).scalar_one() == 0


def test_credit_budget_stops_a_job(db: Database, fake: FakeApollo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_REFILL_DAILY_CREDIT_BUDGET", "3")
    camp = _campaign(db)
    with session_scope(db) as s:
        first = allocate(s, camp, 10)
    run_worker(uri=db.uri, until_empty=True)
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
    assert view.id == first.refill_job_id
    assert view.status == "stopped_by_budget" and view.queue_status == "succeeded"
    assert view.credits_consumed <= 3 and fake.credits_charged <= 3
    assert 0 < view.allocated <= 3 and view.error and "budget" in view.error

    # the day's budget is spent: the next job stops before buying anything
    charged = fake.credits_charged
    with session_scope(db) as s:
        second = allocate(s, camp, 10)
    assert second.job_id is not None and second.job_id != first.job_id
    run_worker(uri=db.uri, until_empty=True)
    with session_scope(db) as s:
        newest = list_refill_jobs(s)[0]
    assert newest.status == "stopped_by_budget" and newest.credits_consumed == 0
    assert fake.credits_charged == charged


def test_one_agency_spends_at_most_its_share_of_the_day(
    db: Database, fake: FakeApollo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agency may create campaigns and ask for as many leads as it likes; its refills stop at
    its share of the day's credits, and the next agency's still buy."""
    monkeypatch.setenv("LEADPOOL_REFILL_DAILY_CREDIT_BUDGET", "8")
    monkeypatch.setenv("LEADPOOL_REFILL_AGENCY_DAILY_CREDIT_SHARE", "0.25")
    greedy, other = _campaign(db), _campaign(db)
    with session_scope(db) as s:
        first = allocate(s, greedy, 10)
    run_worker(uri=db.uri, until_empty=True)
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
    assert view.id == first.refill_job_id and view.status == "stopped_by_budget"
    assert 0 < view.credits_consumed <= 2 and view.error and "share of the daily credit budget" in view.error
    with session_scope(db) as s:
        again = allocate(s, greedy, 10)  # a second job of the same agency buys nothing more today
    run_worker(uri=db.uri, until_empty=True)
    with session_scope(db) as s:
        newest = list_refill_jobs(s)[0]
    assert newest.id == again.refill_job_id and newest.status == "stopped_by_budget"
    assert newest.credits_consumed == 0 and "share" in (newest.error or "")
    with session_scope(db) as s:
        theirs = allocate(s, other, 10)
    run_worker(uri=db.uri, until_empty=True)
    with session_scope(db) as s:
        job = next(j for j in list_refill_jobs(s) if j.id == theirs.refill_job_id)
    assert job.credits_consumed > 0 and job.allocated > 0


def test_server_errors_are_retried_by_the_queue(db: Database, fake: FakeApollo) -> None:
    camp = _campaign(db)
    with session_scope(db) as s:
        res = allocate(s, camp, 5)
    fake.fail_next(1, status=503)
    run_worker(uri=db.uri, until_empty=True)
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
        status, attempts = s.execute(
            text("SELECT status::text, attempts FROM procrastinate_jobs WHERE id = :j"), {"j": res.job_id}
        ).one()
    # first try failed with a 503: our row waits for the retry, procrastinate has it scheduled
    if status == "todo":
        assert view.status == "queued" and view.error and "503" in view.error and attempts == 1
        run_worker(uri=db.uri, until_empty=True)
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
    assert view.status == "done" and view.allocated == 5 and view.attempts == 2
    assert view.queue_status == "succeeded"


def test_retry_policy() -> None:
    strategy = TransientRetry()

    class FakeJob:
        attempts = 0

    transient = ApolloUnavailable("down", endpoint="people/bulk_match", http_status=503)
    permanent = ApolloRequestError("bad", endpoint="people/bulk_match", http_status=422)
    assert strategy.get_retry_decision(exception=transient, job=FakeJob()) is not None  # type: ignore[arg-type]
    assert strategy.get_retry_decision(exception=permanent, job=FakeJob()) is None  # type: ignore[arg-type]
    FakeJob.attempts = 4  # the fifth try was the last (LEADPOOL_REFILL_MAX_ATTEMPTS default 5)
    assert strategy.get_retry_decision(exception=transient, job=FakeJob()) is None  # type: ignore[arg-type]


def test_permanent_error_fails_the_job_row(db: Database, fake: FakeApollo) -> None:
    camp = _campaign(db)
    with session_scope(db) as s:
        res = allocate(s, camp, 5)
    assert res.refill_job_id is not None
    bad = ApolloClient("wrong-key", base_url=fake.base_url, max_retries=0)
    with pytest.raises(Exception, match="apollo"):
        run_refill(db, res.refill_job_id, client=bad)
    bad.close()
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
    assert view.status == "failed" and view.error and view.finished_at is not None


def test_credits_paid_before_a_failure_count_against_the_budget(db: Database, fake: FakeApollo) -> None:
    camp = _campaign(db, quota=15)
    with session_scope(db) as s:
        res = allocate(s, camp, 15)
    assert res.refill_job_id is not None
    # the search page and the first bulk_match go through (and are paid); the second bulk_match fails
    fake.fail_next(1, status=422, after=2)
    client = ApolloClient(KEY, base_url=fake.base_url, max_retries=0)
    with pytest.raises(ApolloRequestError):
        run_refill(db, res.refill_job_id, client=client)
    client.close()
    assert fake.credits_charged > 0
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
    assert view.status == "failed"
    assert view.credits_consumed == Decimal(str(fake.credits_charged))
    assert view.enriched > 0


def test_the_daily_budget_counts_each_paid_call_on_its_own_day(db: Database) -> None:
    """A job started before midnight and retried after it pays today: today's budget shrinks,
    yesterday's does not grow. The ledger is the paid responses, stored as each arrives."""
    today = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)
    yesterday = today - timedelta(hours=1)
    with session_scope(db) as s:
        camp = make_campaign(s, make_agency(s))
        s.execute(
            text(
                "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested, credits_consumed, started_at) "
                "SELECT id, agency_id, 'done', 30, 27, :t FROM campaigns WHERE id = :c"
            ),
            {"c": camp, "t": yesterday},
        )
        for at, credits in ((yesterday, 7), (today, 20), (today, None), (today, 0)):
            _paid(s, at, credits)
    with session_scope(db) as s:
        assert spent_today(s, today) == Decimal(20)
        assert spent_today(s, yesterday) == Decimal(7)


def test_a_larger_shortfall_widens_the_queued_job(db: Database, fake: FakeApollo) -> None:
    camp = _campaign(db, quota=100)
    with session_scope(db) as s:
        first = allocate(s, camp, 1)
    with session_scope(db) as s:
        second = allocate(s, camp, 50)
    assert (first.shortfall, second.shortfall) == (1, 50)
    assert second.refill_job_id == first.refill_job_id  # one job per campaign
    with session_scope(db) as s:
        assert s.execute(text("SELECT requested FROM refill_jobs")).scalars().all() == [50]
    with session_scope(db) as s:  # a smaller one later does not shrink it
        allocate(s, camp, 3)
        assert s.execute(text("SELECT requested FROM refill_jobs")).scalars().all() == [50]


def test_an_agencys_share_counts_credits_a_retried_job_paid_after_midnight(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job of the agency started at 23:30 and retried (429, backoff) after midnight pays 20
    credits today: its share counts the job today too (a review found it counted by the day the
    job started only, so the agency could spend its whole share again)."""
    monkeypatch.setenv("LEADPOOL_REFILL_DAILY_CREDIT_BUDGET", "40")
    monkeypatch.setenv("LEADPOOL_REFILL_AGENCY_DAILY_CREDIT_SHARE", "0.5")  # 20 credits a day
    today = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)
    yesterday = today - timedelta(hours=1)
    with session_scope(db) as s:
        agency = make_agency(s)
        camp = make_campaign(s, agency)
        s.execute(
            text(
                "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested, credits_consumed, started_at) "
                "VALUES (:c, :a, 'running', 30, 27, :t)"
            ),
            {"c": camp, "a": agency, "t": yesterday},
        )
        for at, credits in ((yesterday, 7), (today, 20)):
            _paid(s, at, credits)
    with session_scope(db) as s:
        assert spent_today(s, today) == Decimal(20)  # the platform knows the agency's job paid 20 today
        left, limit = _budget_left(s, agency, today)
    assert left <= 0, (
        f"agency may still spend {left} today ({limit}) although its job paid its whole share today"
    )
