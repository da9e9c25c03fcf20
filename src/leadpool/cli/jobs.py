"""``leadpool jobs`` and ``leadpool worker``: the job queue (refills and re-enrichment; the worker
also runs the gate's every-minute expiry of reservations)."""

from __future__ import annotations

import importlib

import typer
from rich.table import Table

from leadpool.allocation.refill import list_refill_jobs
from leadpool.cli.common import JsonOption, console, database, handle_errors, print_json
from leadpool.config import check_settings
from leadpool.db import session_scope
from leadpool.queue import run_worker, run_worker_until_stopped

app = typer.Typer(no_args_is_help=True, help="Background jobs (refills) and their status.")


@app.command("list")
def list_cmd(
    status: str | None = typer.Option(None, help="queued, running, done, failed or stopped_by_budget."),
    limit: int = typer.Option(50, min=1, max=10_000, help="Newest first, at most this many."),
    json_out: bool = JsonOption,
) -> None:
    """Refill jobs with credits spent and the queue's own status."""
    with handle_errors(), database() as db, session_scope(db) as s:
        rows = [j.to_json() for j in list_refill_jobs(s, limit=limit, status=status)]
    if json_out:
        print_json(rows)
        return
    table = Table(
        "id", "campaign", "status", "queue", "asked", "enriched", "allocated", "credits", "tries", "note"
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["campaign_id"]) if r["campaign_id"] is not None else r["kind"],
            r["status"],
            r["queue_status"] or "",
            str(r["requested"]),
            str(r["enriched"]),
            str(r["allocated"]),
            str(r["credits_consumed"]),
            str(r["attempts"]),
            (r["error"] or "")[:60],
        )
    console.print(table)


#: jobs one worker runs at once: each holds a database connection of its own while it runs
MAX_CONCURRENCY = 32


def known_queues() -> list[str]:
    """The queues leadpool's tasks run on (procrastinate's own built-in task left out)."""
    from leadpool.queue import TASK_MODULES
    from leadpool.queue import app as queue_app

    for module in TASK_MODULES:  # the task modules register their tasks when imported
        importlib.import_module(module)
    return sorted(
        {
            task.queue
            for name, task in queue_app.tasks.items()
            if not name.startswith(("builtin:", "procrastinate."))
        }
    )


def _check_queues(queues: list[str]) -> list[str]:
    if not queues:
        return queues
    known = known_queues()
    unknown = [q for q in queues if q not in known]
    if unknown:
        raise typer.BadParameter(
            f"no task runs on {', '.join(repr(q) for q in unknown)}; the queues are {', '.join(known)} "
            "(default: refills and re-enrichment)",
            param_hint="'--queue'",
        )
    return queues


def worker_cmd(
    once: bool = typer.Option(False, "--once", help="Run the jobs that are ready, then exit."),
    concurrency: int = typer.Option(
        1, min=1, max=MAX_CONCURRENCY, help=f"Jobs run at the same time (1 to {MAX_CONCURRENCY})."
    ),
    queue: list[str] = typer.Option(
        [],
        "--queue",
        help="Only these queues (repeatable; default every queue): default (refills, re-enrichment), "
        "gate (expiring reservations, time zone data, pruning denials), webhooks (pruning receipts, "
        "reconciling suppression lists), events (the sending-domain guard), "
        "housekeeping (retrying stalled jobs).",
    ),
    json_out: bool = JsonOption,
) -> None:
    """Run queued jobs (procrastinate worker). Ctrl-C stops it cleanly."""
    _check_queues(queue)
    with handle_errors():
        # the jobs read every domain's settings, some once a day: a bad one stops the start here,
        # in one line, rather than failing its job in a log for as long as the worker runs
        check_settings()
    with handle_errors(), database() as db:
        if not json_out:
            console.print("worker started" + (" (until the queue is empty)" if once else ""))
        if once:
            run_worker(uri=db.uri, until_empty=True, queues=queue or None, concurrency=concurrency)
        else:  # until a signal asks it to stop: a lost database connection starts it again
            run_worker_until_stopped(uri=db.uri, queues=queue or None, concurrency=concurrency)
        with session_scope(db) as s:
            jobs = list_refill_jobs(s, limit=20)
    if json_out:
        print_json({"stopped": True, "recent_jobs": [j.to_json() for j in jobs]})
    else:
        console.print("worker stopped")
