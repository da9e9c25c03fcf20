"""A refill job that fails after it paid (its connection lost while it allocates what it bought,
a deadlock victim, a statement cancelled) is finished as failed: left 'running', its credits
counted against the agency's share of the daily budget on every later day, and ``jobs list``
showed it running for good."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from tests.allocation.factories import make_agency, make_campaign
from tests.fake_apollo import HeldApollo, construction_people, serving

from leadpool.allocation.allocate import allocate
from leadpool.allocation.refill import agency_spent_today, run_refill
from leadpool.db import Database, session_scope

KEY = "refill-failure-key"


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch, db: Database) -> Iterator[HeldApollo]:
    people = construction_people()
    with serving(people, monkeypatch, KEY, fake_class=HeldApollo) as server:
        assert isinstance(server, HeldApollo)
        yield server


def _waiting_on_a_lock(db: Database) -> int | None:
    with db.engine.connect() as watch:
        for _ in range(600):
            pid = watch.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() LIMIT 1"
                )
            ).scalar()
            watch.rollback()  # pg_stat_activity is read once per transaction
            if pid is not None:
                return int(pid)
            time.sleep(0.05)
    return None


def test_a_job_whose_connection_is_lost_after_it_paid_is_failed_and_counts_on_its_day_only(
    db: Database, held: HeldApollo
) -> None:
    with session_scope(db) as s:
        agency = make_agency(s)
        campaign = make_campaign(s, agency, icp={"industries": ["construction"]}, daily_quota=50)
    with session_scope(db) as s:
        job = allocate(s, campaign, 5).refill_job_id
    assert job is not None

    failed: list[BaseException] = []

    def worker() -> None:
        try:
            run_refill(db, job)
        except BaseException as e:  # noqa: BLE001 - asserted below
            failed.append(e)

    thread = threading.Thread(target=worker)
    thread.start()
    holder = db.engine.connect()
    try:
        assert held.arrived.wait(60), "the job never sent its bulk_match"
        # the job has allocated what the pool had and paid; its allocation of what it bought
        # waits on the campaign's row, and its connection is lost there
        # (NO KEY UPDATE: the holds the job's import writes may still share the row)
        holder.execute(text("SELECT 1 FROM campaigns WHERE id = :c FOR NO KEY UPDATE"), {"c": campaign})
        held.release.set()
        pid = _waiting_on_a_lock(db)
        assert pid is not None, "the job never waited for the campaign"
        with db.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    finally:
        held.release.set()
        holder.rollback()
        holder.close()
        thread.join(60)
    assert failed and isinstance(failed[0], OperationalError), failed

    with session_scope(db) as s:
        status, finished, credits, error = s.execute(
            text("SELECT status, finished_at, credits_consumed, error FROM refill_jobs WHERE id = :i"),
            {"i": job},
        ).one()
        today = agency_spent_today(s, agency, datetime.now(UTC))
        in_a_week = agency_spent_today(s, agency, datetime.now(UTC) + timedelta(days=7))
    assert credits > 0
    assert (status, finished is not None) == ("failed", True)
    assert error.startswith("the database failed (OperationalError")  # no statement quoted
    assert (today, in_a_week) == (credits, 0)


def test_a_job_a_dead_worker_left_running_counts_on_the_day_it_started_only(db: Database) -> None:
    """No process could mark it (killed with its worker), and the queue gave up on it and has
    since forgotten it (no such procrastinate job)."""
    with session_scope(db) as s:
        agency = make_agency(s)
        campaign = make_campaign(s, agency)
        started = datetime.now(UTC) - timedelta(days=3)
        s.execute(
            text(
                "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested, search_params, "
                "created_at, started_at, credits_consumed, procrastinate_job_id) "
                "VALUES (:c, :a, 'running', 5, '{}', :at, :at, 7, -1)"
            ),
            {"c": campaign, "a": agency, "at": started},
        )
    with session_scope(db) as s:
        assert agency_spent_today(s, agency, started) == 7
        assert agency_spent_today(s, agency, datetime.now(UTC)) == 0
