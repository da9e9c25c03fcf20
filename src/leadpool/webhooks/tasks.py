"""The webhooks' housekeeping job: one-time delivery tokens too old to matter are forgotten, hourly.

A signed delivery older than its provider's tolerance is refused as stale whatever the receipts
say, so a receipt older than twice the longest tolerance can never again be what stops a replay
(``prune_receipts``). Without this job ``webhook_receipts`` gains a row per signed delivery for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate

from leadpool.db import open_database, session_scope
from leadpool.queue import app
from leadpool.webhooks import prune_receipts

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
