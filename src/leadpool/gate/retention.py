"""Retention of the gate's decisions: denials older than a retention period are deleted.

Every check writes a decision, and sending workers ask again until they are allowed, so denials
are most of the table (millions a day on a busy platform). What is kept and why:

* every allowed decision, for ever: it is the gate's evidence for a touch, and touches are never
  pruned (an allow without a touch, a dry run's, is kept too: it is as rare as it is small);
* denials for ``LEADPOOL_RETENTION_DENIALS_DAYS`` (default 90) after their ``at``, the instant the
  check was about (normally when it was asked). Their readers: the dashboard (30 days up to a
  scope's latest decision), a lead's timeline (an older denial is no longer in it) and the
  idempotency lookup (a retry under a pruned denial's key decides afresh, as a new key would).

Deleted a chunk per transaction (:data:`DEFAULT_CHUNK` rows), oldest first, on the partial index
``ix_decisions_denied_at`` (migration 0033): ``ix_decisions_at`` leads past every allow ever
made before it reaches the first denial, a scan that grows for ever since allows are kept
(measured: 1.7 s for a chunk behind 2 million old allows, against 0.017 s on the partial index).
Each chunk starts where the previous one ended, and skips rows another run has locked. Gate
checks only insert decisions and read them by (agency, idempotency key), so nothing they do
waits on a chunk, except an insert under the very key a running chunk deletes, for that chunk.

The same run deletes the answers to allocations asked under an idempotency key
(``allocation_requests``, ``leadpool.allocation.idempotency``) stored before the same cutoff, so
an allocation's key is kept as long as a denial's, the shortest-lived of the gate's: both only
identify retries of one request (hours at most), and a retry after the period allocates afresh,
as a new key would. By the database's clock of the first call, oldest first, a chunk per
transaction with an audit row of its own (``AUDIT_ACTION_KEYS``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate.settings import MAX_DAYS, MIN_DAYS, get_retention_settings
from leadpool.models import AuditLog

_log = logging.getLogger(__name__)

DEFAULT_CHUNK = 10_000
AUDIT_ACTION = "decisions.prune_denials"
AUDIT_ACTION_KEYS = "allocation_requests.prune"
# before any decision (a chunk's lower bound: an index range, where "no bound" would be a filter)
_BEGINNING = datetime(1, 1, 1, tzinfo=UTC)

_DELETE_CHUNK = text(
    """
    WITH doomed AS (
        SELECT id FROM decisions
        WHERE NOT allowed AND at < :cutoff AND at >= :since
        ORDER BY at
        LIMIT :n
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM decisions d USING doomed WHERE d.id = doomed.id AND NOT d.allowed RETURNING d.at
    )
    SELECT count(*), max(at) FROM gone
    """
)

_COUNT = text("SELECT count(*) FROM decisions WHERE NOT allowed AND at < :cutoff")

_DELETE_KEYS_CHUNK = text(
    """
    WITH doomed AS (
        SELECT campaign_id, idempotency_key FROM allocation_requests
        WHERE created_at < :cutoff
        ORDER BY created_at
        LIMIT :n
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM allocation_requests r USING doomed
    WHERE r.campaign_id = doomed.campaign_id AND r.idempotency_key = doomed.idempotency_key
    """
)

_COUNT_KEYS = text("SELECT count(*) FROM allocation_requests WHERE created_at < :cutoff")


@dataclass(frozen=True)
class PruneResult:
    older_than_days: int
    cutoff: datetime  # denials with ``at`` before this are (or, in a dry run, would be) deleted
    dry_run: bool
    deleted: int
    would_delete: int | None  # a dry run's count, else None
    chunks: int
    audit_id: int | None  # the run's audit_log row (a run that deleted something)
    allocation_keys_deleted: int = 0  # allocation_requests rows, before the same cutoff
    allocation_keys_would_delete: int | None = None  # a dry run's count, else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "older_than_days": self.older_than_days,
            "cutoff": self.cutoff.astimezone(UTC).isoformat(),
            "dry_run": self.dry_run,
            "deleted": self.deleted,
            "would_delete": self.would_delete,
            "chunks": self.chunks,
            "audit_id": self.audit_id,
            "allocation_keys_deleted": self.allocation_keys_deleted,
            "allocation_keys_would_delete": self.allocation_keys_would_delete,
        }


def check_days(days: int) -> int:
    """A retention period given for one run; the setting has its own, higher floor."""
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidInput(
            f"older_than_days: a whole number of days from {MIN_DAYS} to {MAX_DAYS} (got {days!r}); "
            "denials younger than a week are kept whatever is asked"
        )
    return days


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise InvalidInput("now: needs a UTC offset")
    return now - timedelta(days=days)


def count_denials(session: Session, cutoff: datetime) -> int:
    """How many denials are older than ``cutoff``."""
    return int(session.execute(_COUNT, {"cutoff": cutoff}).scalar_one())


def prune_denials(
    db: Database,
    *,
    older_than_days: int | None = None,
    now: datetime | None = None,
    chunk: int = DEFAULT_CHUNK,
    dry_run: bool = False,
    actor: str = "retention",
    on_chunk: Callable[[int], None] | None = None,
) -> PruneResult:
    """Delete the denials older than ``older_than_days`` (default: the setting) before ``now``.

    A chunk of at most ``chunk`` rows per transaction; ``on_chunk(n)`` after each commits. A run
    that deletes something writes one ``audit_log`` row, in the transaction of its first
    deleting chunk, and brings its counts up to date in each later one: what it says was deleted
    always was, even when the run stops halfway. ``dry_run`` counts and deletes nothing. Then
    the allocations' idempotency keys older than the same cutoff go the same way.
    """
    days = get_retention_settings().denials_days if older_than_days is None else check_days(older_than_days)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise InvalidInput(f"chunk: a positive number of rows (got {chunk!r})")
    started = now or datetime.now(UTC)
    cutoff = cutoff_for(days, started)
    if dry_run:
        with session_scope(db) as session:
            n = count_denials(session, cutoff)
            keys = int(session.execute(_COUNT_KEYS, {"cutoff": cutoff}).scalar_one())
        return PruneResult(days, cutoff, True, 0, n, 0, None, allocation_keys_would_delete=keys)
    total = chunks = 0
    since = _BEGINNING
    audit_id: int | None = None
    while True:
        with session_scope(db) as session:
            n, last = session.execute(_DELETE_CHUNK, {"cutoff": cutoff, "since": since, "n": chunk}).one()
            n = int(n)
            total += n
            chunks += 1
            done = n < chunk  # fewer than asked: none left (or the rest is another run's, locked)
            if n or audit_id is not None:
                audit_id = _audit(session, audit_id, actor, started, days, cutoff, total, chunks, done)
        if on_chunk is not None:
            on_chunk(n)
        if done:
            break
        since = last
    if total:
        _log.info("deleted %d denied decisions older than %s (%d days)", total, cutoff.isoformat(), days)
    keys = _prune_allocation_keys(db, cutoff, chunk, actor, started, days)
    return PruneResult(days, cutoff, False, total, None, chunks, audit_id, allocation_keys_deleted=keys)


def _prune_allocation_keys(
    db: Database, cutoff: datetime, chunk: int, actor: str, started: datetime, days: int
) -> int:
    total = chunks = 0
    audit_id: int | None = None
    while True:
        with session_scope(db) as session:
            deleted = session.execute(_DELETE_KEYS_CHUNK, {"cutoff": cutoff, "n": chunk})
            n = int(deleted.rowcount)  # type: ignore[attr-defined]
            total += n
            chunks += 1
            done = n < chunk
            if n or audit_id is not None:
                audit_id = _audit(
                    session,
                    audit_id,
                    actor,
                    started,
                    days,
                    cutoff,
                    total,
                    chunks,
                    done,
                    action=AUDIT_ACTION_KEYS,
                    table="allocation_requests",
                )
        if done:
            break
    if total:
        _log.info("deleted %d allocation idempotency keys older than %s", total, cutoff.isoformat())
    return total


def _audit(
    session: Session,
    audit_id: int | None,
    actor: str,
    at: datetime,
    days: int,
    cutoff: datetime,
    deleted: int,
    chunks: int,
    complete: bool,
    *,
    action: str = AUDIT_ACTION,
    table: str = "decisions",
) -> int:
    detail = {
        "older_than_days": days,
        "cutoff": cutoff.astimezone(UTC).isoformat(),
        "deleted": deleted,
        "chunks": chunks,
        "complete": complete,
    }
    if audit_id is None:
        row = AuditLog(
            at=at,
            actor=actor.strip() or "unknown",
            action=action,
            subject_type="table",
            subject_id=table,
            detail=detail,
        )
        session.add(row)
        session.flush()
        return int(row.id)
    audit = session.get(AuditLog, audit_id)
    assert audit is not None  # written by this run, in a transaction already committed
    audit.detail = detail
    return audit_id
