"""The gate's housekeeping jobs: reservations past their TTL are marked expired, every minute;
the fast path's zone list is checked against zoneinfo again, every day.

An expired reservation stops counting at once (every count compares ``expires_at`` with the
check's instant) and checks mark a lead's stale ones lazily; this job does it for the leads no
check comes back to, so a touch's state says what it is and the partial index of reserved touches
stays small. ``leadpool worker`` defers it from the cron; ``leadpool send expire`` runs it once.
"""

from __future__ import annotations

from datetime import datetime

import procrastinate

from leadpool.db import Database, open_database, session_scope
from leadpool.gate.check import expire_reservations
from leadpool.gate.zones import refresh_gate_zones
from leadpool.queue import app

EXPIRE_TASK = "gate.expire_reservations"
ZONES_TASK = "gate.refresh_time_zones"


def expire_all(db: Database, *, at: datetime | None = None, chunk: int = 10_000) -> int:
    """Mark every reservation past its TTL at ``at`` (default now) expired, a chunk per transaction."""
    total = 0
    while True:
        with session_scope(db) as session:
            n = expire_reservations(session, at=at, limit=chunk)
        total += n
        if n < chunk:
            return total


@app.periodic(cron="* * * * *", periodic_id="every-minute")
@app.task(name=EXPIRE_TASK, queue="gate", pass_context=True)
def expire_reservations_job(context: procrastinate.JobContext, timestamp: int) -> int:
    """The procrastinate task (``timestamp``: when the cron fired; the job expires as of now)."""
    db = open_database()
    try:
        return expire_all(db)
    finally:
        db.dispose()


@app.periodic(cron="17 3 * * *", periodic_id="daily")
@app.task(name=ZONES_TASK, queue="gate", pass_context=True)
def refresh_time_zones_job(context: procrastinate.JobContext, timestamp: int) -> dict[str, list[str]]:
    """The zones whose offsets the server and zoneinfo agree on, a year ahead (``leadpool.gate.zones``):
    tz data changes with upgrades, and the horizon moves."""
    db = open_database()
    try:
        with db.engine.begin() as conn:
            added, removed = refresh_gate_zones(conn)
        return {"added": added, "removed": removed}
    finally:
        db.dispose()
