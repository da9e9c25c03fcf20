"""A job whose worker died mid-job goes back to the queue (run by a real worker)."""

from __future__ import annotations

from sqlalchemy import text

from leadpool.db import Database
from leadpool.gate.tasks import EXPIRE_TASK
from leadpool.queue import STALLED_TASK, run_worker
from leadpool.queue import app as queue_app


def _status(db: Database, job_id: int) -> tuple[str, int]:
    with db.engine.connect() as c:
        row = c.execute(
            text("SELECT status::text, attempts FROM procrastinate_jobs WHERE id = :j"), {"j": job_id}
        ).one()
    return row[0], row[1]


def test_a_job_left_doing_by_a_dead_worker_is_retried_and_runs(db: Database) -> None:
    assert (STALLED_TASK, "every-five-minutes") in queue_app.periodic_registry.periodic_tasks
    with db.engine.connect() as c:
        raw = c.connection.driver_connection
        # a job a worker took, then died running: its worker row is gone (pruned), the job doing
        orphan = queue_app.configure_task(EXPIRE_TASK, connection=raw, lock="refill").defer(timestamp=0)
        raw.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL WHERE id = %s", (orphan,)
        )
        # a job behind it on the same lock: it cannot start while the orphan holds the lock
        behind = queue_app.configure_task(EXPIRE_TASK, connection=raw, lock="refill").defer(timestamp=1)
        raw.commit()
    run_worker(uri=db.uri, until_empty=True, periodic=False)
    assert _status(db, orphan)[0] == "doing" and _status(db, behind)[0] == "todo"  # stuck
    with db.engine.connect() as c:
        raw = c.connection.driver_connection
        sweep = queue_app.configure_task(STALLED_TASK, connection=raw).defer(timestamp=0)
        raw.commit()
    run_worker(uri=db.uri, until_empty=True, periodic=False)
    assert _status(db, sweep)[0] == "succeeded"
    assert _status(db, orphan)[0] == "succeeded" and _status(db, behind)[0] == "succeeded"
