"""The gate's housekeeping jobs: reservations past their TTL are marked expired, every minute;
the fast path's zone list is checked against zoneinfo again (and the place tables against the
installed libraries), and denials older than their retention period are deleted
(``leadpool.gate.retention``), every day.

An expired reservation stops counting at once (every count compares ``expires_at`` with the
check's instant) and checks mark a lead's stale ones lazily; this job does it for the leads no
check comes back to, so a touch's state says what it is and the partial index of reserved touches
stays small. ``leadpool worker`` defers it from the cron; ``leadpool send expire`` runs it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import procrastinate

from leadpool.config import job_settings
from leadpool.db import Database, open_database, session_scope
from leadpool.gate.check import expire_reservations
from leadpool.gate.places import place_rows, refresh_places
from leadpool.gate.retention import prune_denials
from leadpool.gate.settings import get_retention_settings
from leadpool.gate.zones import refresh_gate_zones
from leadpool.ingestion.timezone import release_index
from leadpool.queue import app

EXPIRE_TASK = "gate.expire_reservations"
ZONES_TASK = "gate.refresh_time_zones"
PRUNE_TASK = "gate.prune_denials"


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
def refresh_time_zones_job(context: procrastinate.JobContext, timestamp: int) -> dict[str, Any]:
    """The zones whose offsets the server and zoneinfo agree on, a year ahead (``leadpool.gate.zones``):
    tz data changes with upgrades, and the horizon moves. With them, the countries and clocks the
    gate reads in SQL, as the installed libraries now say (``leadpool.gate.places``)."""
    db = open_database()
    try:
        with db.engine.begin() as conn:
            added, removed = refresh_gate_zones(conn)
        # after the zone list is committed, so that a failure reading the libraries (the city
        # index needs a writable cache directory) never undoes it; read outside any transaction
        try:
            rows = place_rows()
        finally:
            release_index()  # the next import reads it again; until then it is 40 MB for nothing
        with db.engine.begin() as conn:
            places = refresh_places(conn, rows)
        return {"added": added, "removed": removed, "places": places}
    finally:
        db.dispose()


# 04:29 UTC: late evening in the Americas, before Europe's send windows open
@app.periodic(cron="29 4 * * *", periodic_id="daily")
@app.task(name=PRUNE_TASK, queue="gate", pass_context=True)
def prune_denials_job(context: procrastinate.JobContext, timestamp: int) -> dict[str, Any]:
    """Delete the denials older than ``LEADPOOL_RETENTION_DENIALS_DAYS`` as of now, a chunk per
    transaction; a day's run deletes about a day's denials."""
    days = job_settings(get_retention_settings, "LEADPOOL_RETENTION_").denials_days
    db = open_database()
    try:
        return prune_denials(db, older_than_days=days, actor=PRUNE_TASK).as_dict()
    finally:
        db.dispose()
