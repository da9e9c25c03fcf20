"""A paid call is booked before it is sent, so what Apollo may charge for it is never left out.

Booked only once its answer came back, a call whose worker was killed meanwhile (SIGKILL, out of
memory, a node lost) was paid for and counted nowhere: the day's budget could be overspent by a
call per kill, and the agency's share missed what the killed try had paid. Here the fake Apollo
takes (and charges for) the first bulk_match and holds its answer, so the books can be read, and
the worker killed, while the call is in flight.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from tests.allocation.factories import make_agency, make_campaign
from tests.fake_apollo import HeldApollo, kill_worker_during_the_call, serving

from leadpool.allocation.allocate import allocate
from leadpool.allocation.refill import (
    RefillOutcome,
    _budget_left,
    agency_spent_today,
    run_refill,
    spent_today,
)
from leadpool.apollo.errors import ApolloRequestError, ChargeUncertain
from leadpool.apollo.generate import generate_people
from leadpool.db import Database, session_scope

KEY = "booked-first-key"
SHORT = 5  # the shortfall refilled: one bulk_match of 5 people
WORST = Decimal("6.25")  # its worst case: no answer has shown the price yet, so 1.25 a person
SHARE = Decimal(50)  # the agency's share of a day's budget of 100


@dataclass(frozen=True)
class Books:
    """What the budgets count while, or after, a refill job pays."""

    day: Decimal  # spent_today: the day's budget
    agency: Decimal  # agency_spent_today: the agency's share
    job: Decimal  # the job's credits_consumed
    calls: list[tuple[int, Decimal, bool, str | None]]  # bulk_match rows: id, credits, empty body, outcome


@pytest.fixture(scope="module")
def construction() -> list[dict[str, Any]]:
    people = [
        p
        for p in generate_people(600, 7, duplicate_rate=0.0)
        if p["email_status"] == "verified"
        and p.get("email")
        and (p.get("organization") or {}).get("industry") == "construction"
    ]
    assert len(people) >= 2 * SHORT
    return people


@pytest.fixture
def held(
    construction: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, db: Database
) -> Iterator[HeldApollo]:
    with serving(
        construction, monkeypatch, KEY, fake_class=HeldApollo, LEADPOOL_REFILL_DAILY_CREDIT_BUDGET="100"
    ) as server:
        assert isinstance(server, HeldApollo)
        try:
            yield server
        finally:
            server.release.set()


def _refill_job(db: Database) -> tuple[int, int]:
    """A campaign short of SHORT leads (the pool is empty): its refill job, and its agency."""
    with session_scope(db) as s:
        agency = make_agency(s)
        camp = make_campaign(s, agency, icp={"industries": ["construction"]}, daily_quota=50)
    with session_scope(db) as s:
        res = allocate(s, camp, SHORT)
    assert res.refill_job_id is not None and res.shortfall == SHORT
    return res.refill_job_id, agency


def _books(db: Database, refill_job_id: int, agency: int) -> Books:
    now = datetime.now(UTC)
    with session_scope(db) as s:
        job = s.execute(
            text("SELECT credits_consumed FROM refill_jobs WHERE id = :id"), {"id": refill_job_id}
        ).scalar_one()
        calls = s.execute(
            text(
                "SELECT id, credits_consumed, body = '', response_headers -> '_leadpool' ->> 'outcome' "
                "FROM raw_payloads WHERE endpoint = 'people/bulk_match' ORDER BY id"
            )
        ).all()
        return Books(
            spent_today(s, now), agency_spent_today(s, agency, now), Decimal(job), [tuple(c) for c in calls]
        )


def _wait_for_the_call(fake: HeldApollo, worker: Future[Any]) -> None:
    deadline = time.monotonic() + 120
    while not fake.arrived.wait(0.05):
        if worker.done() or time.monotonic() > deadline:
            pytest.fail("the worker never sent its bulk_match")


def _refill_while_held(
    db: Database, fake: HeldApollo, refill_job_id: int, agency: int
) -> tuple[Books, Future[RefillOutcome]]:
    """Run the job in a thread; the books while Apollo holds the answer, and the job once it ends."""
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(run_refill, db, refill_job_id)
        try:
            _wait_for_the_call(fake, run)
            during = _books(db, refill_job_id, agency)
        finally:
            fake.release.set()
        run.exception(60)  # wait for it
    return during, run


def test_a_worker_killed_during_a_paid_call_leaves_it_counted(db: Database, held: HeldApollo) -> None:
    """(a) The worker is killed (SIGKILL) while Apollo holds the bulk_match it has charged for:
    the day's budget, the job's credits and the agency's share all count the call's worst case."""
    job, agency = _refill_job(db)
    kill_worker_during_the_call(held, "leadpool.allocation.refill:run_refill", job)
    assert held.credits_charged == SHORT  # Apollo was paid, and no answer ever came back
    books = _books(db, job, agency)
    assert (books.day, books.job, books.agency) == (WORST, WORST, WORST)
    ((_id, credits, empty, outcome),) = books.calls
    assert credits == WORST and empty and outcome is not None and outcome.startswith("in flight")
    with session_scope(db) as s:
        left, _limit = _budget_left(s, agency, datetime.now(UTC))
    assert left == SHARE - WORST  # the job's next try (and the agency's next job) pays from the rest


def test_an_answered_call_replaces_its_booking(db: Database, held: HeldApollo) -> None:
    """(b) In flight, the call is counted once at its worst case; answered, it is counted once at
    what Apollo charged (less: 1 credit a person), and no booking is left."""
    job, agency = _refill_job(db)
    during, run = _refill_while_held(db, held, job, agency)
    ((booking, credits, empty, outcome),) = during.calls
    assert (during.day, during.job, during.agency, credits) == (WORST, WORST, WORST, WORST)
    assert empty and outcome is not None and outcome.startswith("in flight")

    out = run.result()
    assert out.status == "done" and out.credits_consumed == SHORT == held.credits_charged
    after = _books(db, job, agency)
    ((answer, credits, empty, outcome),) = after.calls
    assert answer != booking and credits == SHORT and not empty and outcome is None
    assert (after.day, after.job, after.agency) == (SHORT, SHORT, SHORT)


def test_a_call_whose_answer_is_lost_keeps_its_booking_as_the_lost_call(
    db: Database, held: HeldApollo
) -> None:
    """(c) Apollo answers the held call with a 502 (ChargeUncertain): the booking becomes the lost
    call's one row at the worst case, counted once on the day and on the job."""
    held.fail_next(1, status=502, after=1)  # the search page goes through, the bulk_match fails
    job, agency = _refill_job(db)
    during, run = _refill_while_held(db, held, job, agency)
    ((booking, _credits, _empty, _outcome),) = during.calls
    assert (during.day, during.job) == (WORST, WORST)

    assert isinstance(run.exception(), ChargeUncertain)
    after = _books(db, job, agency)
    ((lost, credits, empty, outcome),) = after.calls
    assert lost == booking and credits == WORST and empty
    assert outcome == "no usable answer; charged at most the credits booked"
    assert (after.day, after.job, after.agency) == (WORST, WORST, WORST)
    with session_scope(db) as s:
        headers = s.execute(
            text("SELECT response_headers FROM raw_payloads WHERE id = :p"), {"p": lost}
        ).scalar()
        status = s.execute(text("SELECT status FROM refill_jobs WHERE id = :j"), {"j": job}).scalar()
    assert status == "failed" and "502" in headers["_leadpool"]["error"]


def test_a_call_apollo_refused_unbooks_it(db: Database, held: HeldApollo) -> None:
    """Apollo refuses the held call (422: it charged nothing): the booking is taken back, from the
    day and from the job."""
    held.fail_next(1, status=422, after=1)
    job, agency = _refill_job(db)
    during, run = _refill_while_held(db, held, job, agency)
    assert (during.day, during.job, len(during.calls)) == (WORST, WORST, 1)

    assert isinstance(run.exception(), ApolloRequestError)
    after = _books(db, job, agency)
    assert (after.day, after.job, after.agency, after.calls) == (0, 0, 0, [])
