"""The housekeeping job that marks reservations past their TTL expired: run by a real procrastinate
worker on the test database, registered on the cron, and as ``leadpool send expire``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from tests.gate.factories import MONDAY_OPEN, World
from tests.jobs import run_job
from typer.testing import CliRunner

from leadpool.cli import app as cli
from leadpool.db import Database, session_scope
from leadpool.gate import check
from leadpool.gate.tasks import EXPIRE_TASK, expire_all
from leadpool.queue import app as queue_app
from leadpool.queue import run_worker

T0 = MONDAY_OPEN


def _reserve(db: Database, leads: int, at_offsets: list[timedelta]) -> list[int]:
    """One reserved touch per offset from T0 (each on a lead of its own)."""
    with session_scope(db) as s:
        w = World(s)
        ids = [w.lead(company_id=None) for _ in range(leads)]
    out = []
    for lid, offset in zip(ids, at_offsets, strict=True):
        with session_scope(db) as s:
            d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=T0 + offset)
            assert d.allowed and d.touch_id is not None
            out.append(d.touch_id)
    return out


def _states(db: Database, ids: list[int]) -> list[str]:
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT id, state FROM touches WHERE id = ANY(:i)"), {"i": ids}).all()
    by_id = {r[0]: r[1] for r in rows}
    return [by_id[i] for i in ids]


def test_expire_all_marks_only_reservations_past_their_ttl_in_chunks(db: Database) -> None:
    # the default TTL is 15 minutes: the first three are past it at T0, the last is not
    ids = _reserve(
        db, 4, [-timedelta(hours=3), -timedelta(hours=2), -timedelta(hours=1), -timedelta(minutes=5)]
    )
    assert expire_all(db, at=T0, chunk=2) == 3  # two chunks: 2, then 1
    assert _states(db, ids) == ["expired", "expired", "expired", "reserved"]
    assert expire_all(db, at=T0) == 0  # nothing left: idempotent
    with db.engine.connect() as c:
        ended = c.execute(
            text("SELECT bool_and(ended_at = expires_at) FROM touches WHERE id = ANY(:i)"), {"i": ids[:3]}
        ).scalar_one()
    assert ended


def test_the_job_runs_on_a_worker_and_is_on_the_cron(db: Database) -> None:
    ids = _reserve(db, 2, [-timedelta(days=400), -timedelta(days=399)])  # long past, whatever now is
    assert (EXPIRE_TASK, "every-minute") in queue_app.periodic_registry.periodic_tasks
    assert run_job(db, EXPIRE_TASK) == "succeeded"
    assert _states(db, ids) == ["expired", "expired"]


def test_send_expire_command(db: Database) -> None:
    ids = _reserve(db, 1, [-timedelta(hours=1)])
    for bad, message in [("yesterday", "is not an ISO 8601 time"), ("2026-03-02T15:00:00", "has no offset")]:
        r = CliRunner().invoke(cli, ["send", "expire", "--at", bad])
        assert r.exit_code != 0 and message in r.output
        assert _states(db, ids) == ["reserved"]  # refused before anything was touched
    r = CliRunner().invoke(cli, ["send", "expire", "--at", T0.isoformat(), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"expired": 1}
    assert _states(db, ids) == ["expired"]


def test_a_worker_without_the_cron_leaves_reservations_alone(db: Database) -> None:
    ids = _reserve(db, 1, [-timedelta(days=400)])
    run_worker(uri=db.uri, until_empty=True, periodic=False)  # what the simulation runs
    with db.engine.connect() as c:
        deferred = c.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"), {"t": EXPIRE_TASK}
        ).scalar_one()
    assert deferred == 0 and _states(db, ids) == ["reserved"]
    assert (EXPIRE_TASK, "every-minute") in queue_app.periodic_registry.periodic_tasks  # put back


def test_expiry_as_of_a_later_time_than_now_expires_only_what_is_past_due_now(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(company_id=None)
    with session_scope(db) as s:  # a reservation made now: its sender may be sending right now
        d = check(s, lead_id=lead, campaign_id=w.campaign_id, channel="linkedin", at=datetime.now(UTC))
        assert d.touch_id is not None
    r = CliRunner().invoke(cli, ["send", "expire", "--at", "9999-12-31T23:59:59+00:00", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"expired": 0}
    assert _states(db, [d.touch_id]) == ["reserved"]
