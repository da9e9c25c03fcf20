"""The events' jobs: the sending-domain guard's sweep (``leadpool.events.sending_domains``), hourly.

Hourly: the guard measures a week of sends, and the mailbox and campaign guards already react at
each bounce or complaint; an hour more of a failing domain is a few dozen sends per mailbox at most.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import procrastinate

from leadpool.config import job_settings
from leadpool.db import open_database, session_scope
from leadpool.events.sending_domains import sweep
from leadpool.events.settings import EventSettings
from leadpool.queue import app

DOMAIN_GUARD_TASK = "events.sending_domain_guard"


@app.periodic(cron="23 * * * *", periodic_id="hourly")
@app.task(
    name=DOMAIN_GUARD_TASK,
    queue="events",
    lock=DOMAIN_GUARD_TASK,
    queueing_lock=DOMAIN_GUARD_TASK,
    pass_context=True,
)
def sending_domain_guard_job(context: procrastinate.JobContext, timestamp: int) -> list[dict[str, Any]]:
    """Measure the sending domains as of now and pause those over a limit; returns the domains it paused."""
    settings = job_settings(EventSettings, "LEADPOOL_EVENTS_")
    db = open_database()
    try:
        with session_scope(db) as session:
            return [r.as_dict() for r in sweep(session, settings, now=datetime.now(UTC)) if r.paused]
    finally:
        db.dispose()
