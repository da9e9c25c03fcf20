"""The webhooks' jobs: one-time delivery tokens too old to matter are forgotten, and the providers'
suppression lists are reconciled (``leadpool.webhooks.reconcile``), hourly.

A signed delivery older than its provider's tolerance is refused as stale whatever the receipts
say, so a receipt older than twice the longest tolerance can never again be what stops a replay
(``prune_receipts``). Without this job ``webhook_receipts`` gains a row per signed delivery for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import procrastinate

from leadpool.config import job_settings
from leadpool.db import open_database, session_scope
from leadpool.errors import LeadpoolError
from leadpool.queue import app
from leadpool.webhooks import prune_receipts
from leadpool.webhooks.reconcile import ReconcileSettings, reconcile

PRUNE_TASK = "webhooks.prune_receipts"


@app.periodic(cron="17 * * * *", periodic_id="hourly")
@app.task(name=PRUNE_TASK, queue="webhooks", pass_context=True)
def prune_receipts_job(context: procrastinate.JobContext, timestamp: int) -> int:
    """The procrastinate task (``timestamp``: when the cron fired; receipts are pruned as of now)."""
    db = open_database()
    try:
        with session_scope(db) as session:
            return prune_receipts(session, now=datetime.now(UTC))
    finally:
        db.dispose()


RECONCILE_TASK = "webhooks.reconcile_suppressions"


@app.periodic(cron="41 * * * *", periodic_id="hourly")
@app.task(
    name=RECONCILE_TASK,
    queue="webhooks",
    lock=RECONCILE_TASK,
    queueing_lock=RECONCILE_TASK,
    pass_context=True,
)
def reconcile_suppressions_job(context: procrastinate.JobContext, timestamp: int) -> list[dict[str, Any]]:
    """Read every configured provider's suppression lists since its high-water mark and record what
    webhooks missed (``leadpool.webhooks.reconcile``). Hourly: a lost delivery is caught within the
    hour, and a run that finds nothing new is a few requests. Fails (after every provider ran) when
    one of them failed, so the job's status shows it."""
    settings = job_settings(ReconcileSettings, "LEADPOOL_RECONCILE_")
    db = open_database()
    try:
        summaries = reconcile(db, settings=settings)
    finally:
        db.dispose()
    failed = [s.error for s in summaries if s.error]
    if failed:
        raise LeadpoolError("; ".join(e for e in failed if e))
    return [s.as_dict() for s in summaries]
