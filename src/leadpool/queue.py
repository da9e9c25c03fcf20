"""The job queue: procrastinate on the service's own PostgreSQL (no extra server).

One module-level :data:`app` carries every task; domains register theirs with ``@app.task`` in a
module listed in :data:`TASK_MODULES`. Nothing connects at import time: jobs are deferred on the
caller's own database connection (so a job exists only if the caller's transaction commits), and
the worker gets a connector built from the settings when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any, TypeVar

import procrastinate
from sqlalchemy.orm import Session

from leadpool.config import get_settings
from leadpool.db.engine import Database, libpq_uri, open_database, resolve_uri

T = TypeVar("T")

# Modules that define tasks; the worker imports them before fetching jobs.
TASK_MODULES: list[str] = [
    "leadpool.allocation.refill",
    "leadpool.insights.reenrich",
    "leadpool.gate.tasks",
    "leadpool.events.tasks",
    "leadpool.webhooks.tasks",
]

app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=TASK_MODULES)

STALLED_TASK = "queue.retry_stalled_jobs"
# A worker beats every 10 s (procrastinate's default); a minute of silence is a dead worker
STALLED_AFTER_SECONDS = 60


@app.periodic(cron="*/5 * * * *", periodic_id="every-five-minutes")
@app.task(name=STALLED_TASK, queue="housekeeping", queueing_lock=STALLED_TASK, pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """Put back in the queue every job whose worker died while running it; returns how many.

    A worker killed mid-job (out of memory, a deploy's SIGKILL) leaves its job ``doing`` for
    good, and a job holding a lock (refills and re-enrichment share one) would then hold up every
    later job of that lock. The retried job starts again: each job here is idempotent.
    """
    manager = context.app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS))
    for job in stalled:
        await manager.retry_job(job)
    return len(stalled)


def connector_for(uri: str | None = None) -> procrastinate.PsycopgConnector:
    """A connector to ``uri`` (default: the configured database, starting the embedded one)."""
    conninfo = libpq_uri(uri) if uri else libpq_uri(resolve_uri(get_settings()))
    return procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4)


def defer_in_session(session: Session, task_name: str, **options: Any) -> int:
    """Defer ``task_name`` inside the session's current transaction and return the job id.

    ``options`` are procrastinate's ``configure`` options (``lock``, ``queue``, ``schedule_in``...)
    plus ``task_kwargs``. The job row is written on the session's own psycopg connection, so a
    rollback of the session leaves no job behind.
    """
    raw = session.connection().connection.driver_connection
    deferrer = app.configure_task(task_name, allow_unknown=False, connection=raw, **options)
    return int(deferrer.defer())


def run_job(context: procrastinate.JobContext, run: Callable[..., T], job_id: int) -> T:
    """Run ``run(db, job_id, attempts=...)`` for a task on the configured database, then close it.

    The attempt number lets the job tell a first try from a retry (the refill and re-enrichment
    jobs count credits already spent).
    """
    db: Database = open_database()
    try:
        attempts = context.job.attempts if context.job is not None else 0
        return run(db, job_id, attempts=attempts)
    finally:
        db.dispose()


def run_worker(
    *,
    uri: str | None = None,
    until_empty: bool = False,
    queues: list[str] | None = None,
    concurrency: int = 1,
    periodic: bool = True,
) -> None:
    """Run queued jobs; with ``until_empty`` stop once no job is ready (tests, demos, cron).

    A worker also defers the cron jobs (the gate's every-minute expiry of reservations) when they
    are due; ``periodic=False`` leaves them out, for a simulation whose clock is not the wall
    clock (the expiry job works as of now, which would end the simulated senders' reservations).
    """
    registry = app.periodic_registry
    saved = registry.periodic_tasks
    if not periodic:
        registry.periodic_tasks = {}
    try:
        with app.replace_connector(connector_for(uri)) as worker_app:
            worker_app.run_worker(
                queues=queues,
                concurrency=concurrency,
                wait=not until_empty,
                install_signal_handlers=not until_empty,
                listen_notify=not until_empty,
            )
    finally:
        registry.periodic_tasks = saved


def run_worker_until_stopped(
    *,
    uri: str | None = None,
    queues: list[str] | None = None,
    concurrency: int = 1,
    retry_base: float = 1.0,
    retry_max: float = 60.0,
) -> int:
    """Run the worker until SIGINT or SIGTERM; returns how many times it was started again.

    procrastinate stops a worker by itself when its database connection drops (a restart of the
    server, a failover): the cron jobs (the gate's expiry of reservations) and the refills would
    then stop for good under a supervisor that restarts only failed processes. So a worker that
    stops without having been asked to is started again, after a pause that doubles up to
    ``retry_max`` seconds while it keeps failing.
    """
    log = logging.getLogger(__name__)

    async def supervise() -> int:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        restarts, delay = 0, retry_base
        try:
            while True:
                started = loop.time()
                with app.replace_connector(connector_for(uri)) as worker_app:
                    worker = asyncio.create_task(_work(worker_app, queues, concurrency))
                    asked = asyncio.create_task(stopping.wait())
                    done, _ = await asyncio.wait({worker, asked}, return_when=asyncio.FIRST_COMPLETED)
                    if asked in done:  # graceful: the running job finishes, then the worker stops
                        worker.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await worker
                        return restarts
                    asked.cancel()
                    error = worker.exception()
                if loop.time() - started > 10 * retry_max:
                    delay = retry_base  # it had been running fine: start again at the short pause
                log.warning(
                    "the worker stopped by itself (%s); starting it again in %.0f s",
                    f"{type(error).__name__}: {error}" if error else "its connection was lost",
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=delay)
                if stopping.is_set():
                    return restarts
                restarts += 1
                delay = min(delay * 2, retry_max)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(supervise())


async def _work(worker_app: procrastinate.App, queues: list[str] | None, concurrency: int) -> None:
    options: dict[str, Any] = {"concurrency": concurrency, "wait": True, "install_signal_handlers": False}
    if queues:  # procrastinate's None means every queue, but its type says an iterable
        options["queues"] = queues
    async with worker_app.open_async():
        await worker_app.run_worker_async(**options)


def job_statuses(session: Session, job_ids: list[int]) -> dict[int, str]:
    """procrastinate's status (todo, doing, succeeded, failed, cancelled, aborted) per job id."""
    from sqlalchemy import text

    if not job_ids:
        return {}
    rows = session.execute(
        text("SELECT id, status::text FROM procrastinate_jobs WHERE id = ANY(:ids)"), {"ids": job_ids}
    )
    return {int(r[0]): str(r[1]) for r in rows}
