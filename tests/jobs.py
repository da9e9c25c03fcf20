"""Running one background job as the cron would: deferred, then picked up by a real worker."""

from __future__ import annotations

from sqlalchemy import text

from leadpool.db import Database
from leadpool.queue import app as queue_app
from leadpool.queue import run_worker


def run_job(db: Database, task: str, *, queue: str = "gate") -> str:
    """Defer ``task`` (a periodic job's ``timestamp`` argument, 0), run a worker on ``queue``
    until no job is left, and return the job's status."""
    with db.engine.connect() as c:
        raw = c.connection.driver_connection
        job_id = queue_app.configure_task(task, connection=raw).defer(timestamp=0)
        raw.commit()
    run_worker(uri=db.uri, until_empty=True, queues=[queue])
    with db.engine.connect() as c:
        return str(
            c.execute(
                text("SELECT status::text FROM procrastinate_jobs WHERE id = :j"), {"j": job_id}
            ).scalar_one()
        )
