"""Refill: when a campaign's allocation falls short, buy matching people from Apollo and finish it.

Flow: :func:`request_refill` (called inside the allocation's transaction) writes a
``refill_jobs`` row and defers the procrastinate task on the same connection, so a rolled-back
allocation leaves no job. The worker runs :func:`refill_campaign`: it first allocates what the
pool can already serve (on a retry, what earlier tries bought), then searches Apollo with the
ICP's parameters for the rest of the shortfall only, enriching only people not already fresh in
the pool (``leadpool.apollo.enrich.search_and_enrich``, which imports through the ingestion),
then allocates that rest. The credits are on the job as they are spent: each paid call is booked
on it (at its worst case, before it is sent) with the call's raw payload booking, so a worker
killed mid-call leaves them counted on both.

Budget: all refill jobs together may spend ``LEADPOOL_REFILL_DAILY_CREDIT_BUDGET`` credits per UTC
day, and one agency's jobs ``LEADPOOL_REFILL_AGENCY_DAILY_CREDIT_SHARE`` of it (half: one agency's
campaigns cannot use up every agency's day); each job gets what is left of both and stops when it
is used up (status ``stopped_by_budget``).
Refill jobs share one procrastinate lock, so they run one at a time and the budget arithmetic is
never raced. Rate limits and server errors (429, 5xx, network) are retried with exponential
backoff by the task's retry strategy; anything else fails the job at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import procrastinate
import psycopg
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from leadpool.allocation import pool
from leadpool.allocation.icp import to_apollo_search
from leadpool.allocation.settings import get_allocation_settings
from leadpool.apollo.errors import ApolloUnavailable, ChargeUncertain, RateLimited
from leadpool.config import get_settings
from leadpool.db import Database, refusals, session_scope
from leadpool.errors import InvalidInput, LeadpoolError
from leadpool.models import REFILL_STATUSES
from leadpool.queue import app, defer_in_session, job_statuses, run_job

if TYPE_CHECKING:
    from leadpool.allocation.allocate import AllocationResult

REFILL_TASK = "allocation.refill"
REFILL_LOCK = "leadpool-refill"


def refill_possible() -> bool:
    """Refill needs it switched on and an Apollo API key to spend credits with."""
    return refill_unavailable() is None


def refill_unavailable() -> str | None:
    """Why a shortfall cannot be refilled from Apollo, in words; None when it can."""
    if not get_allocation_settings().refill_enabled:
        return "refill is switched off (LEADPOOL_REFILL_ENABLED)"
    if not get_settings().apollo_api_key:
        return "no Apollo API key is set (LEADPOOL_APOLLO_API_KEY)"
    return None


def refill_for(session: Session, target: pool.Target, result: AllocationResult, at: datetime) -> None:
    """Defer (or widen) the refill for an allocation's shortfall, or say in the result why none."""
    requested = request_refill(session, target, result.shortfall, at)
    if requested is None:
        result.refill_unavailable = refill_unavailable()
    else:
        result.refill_job_id, result.job_id = requested


def request_refill(
    session: Session, target: pool.Target, shortfall: int, at: datetime
) -> tuple[int, int] | None:
    """Defer a refill for ``shortfall`` leads, unless one is already waiting or running for the
    campaign (then that one is returned). Returns ``(refill_job_id, procrastinate_job_id)``.

    The caller holds the campaign's row lock, so two allocations cannot both defer one.
    """
    if shortfall <= 0 or not refill_possible():
        return None
    # pending = ours says so AND the queue still has it to do (a job whose worker died or that
    # failed outside our bookkeeping must not block refills for good)
    existing = session.execute(
        text(
            "SELECT r.id, r.procrastinate_job_id FROM refill_jobs r "
            "JOIN procrastinate_jobs j ON j.id = r.procrastinate_job_id "
            "WHERE r.campaign_id = :c AND r.status IN ('queued', 'running') "
            "AND j.status IN ('todo', 'doing') ORDER BY r.id LIMIT 1"
        ),
        {"c": target.campaign_id},
    ).first()
    if existing is not None:
        # one job per campaign: a larger shortfall since it was queued widens it (the caller holds
        # the campaign's lock); a running job keeps its size, and the next shortfall asks again
        session.execute(
            text(
                "UPDATE refill_jobs SET requested = greatest(requested, :n) "
                "WHERE id = :id AND status = 'queued'"
            ),
            {"n": shortfall, "id": existing[0]},
        )
        return int(existing[0]), int(existing[1])
    params = to_apollo_search(target.icp, target.channels)
    refill_job_id = int(
        session.execute(
            text(
                "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested, search_params, created_at) "
                "VALUES (:c, :a, 'queued', :n, CAST(:p AS jsonb), :at) RETURNING id"
            ),
            {
                "c": target.campaign_id,
                "a": target.agency_id,
                "n": shortfall,
                "p": _json(params),
                "at": at,
            },
        ).scalar_one()
    )
    job_id = defer_in_session(
        session, REFILL_TASK, lock=REFILL_LOCK, task_kwargs={"refill_job_id": refill_job_id}
    )
    session.execute(
        text("UPDATE refill_jobs SET procrastinate_job_id = :j WHERE id = :id"),
        {"j": job_id, "id": refill_job_id},
    )
    return refill_job_id, job_id


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj)


def is_transient(exc: BaseException) -> bool:
    """A 429, a 5xx or a network failure: worth trying again later (the client has already
    retried a few times within the call; this is the slower, job-level backoff). A paid call that
    may have been charged is not: running the job again would buy the same people again."""
    if isinstance(exc, ChargeUncertain):
        return False
    if isinstance(exc, RateLimited | ApolloUnavailable | httpx.TransportError):
        return True
    status = getattr(exc, "http_status", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


def retry_delay(exc: BaseException, attempts: int) -> float:
    """Exponential backoff (base x 2^attempts), at least the error's ``retry_after`` (set on
    RateLimited: Apollo's Retry-After, or the time until its rate window reopens)."""
    base = get_allocation_settings().refill_retry_base_seconds * float(1 << min(attempts, 16))
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float):
        base = max(base, float(retry_after))
    return base


class TransientRetry(procrastinate.BaseRetryStrategy):
    """Retry 429/5xx/network errors with exponential backoff, up to the configured attempts."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not is_transient(exception):
            return None
        if job.attempts + 1 >= get_allocation_settings().refill_max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": int(retry_delay(exception, job.attempts))})


@dataclass
class RefillOutcome:
    refill_job_id: int
    status: str
    enriched: int = 0
    allocated: int = 0
    credits_consumed: Decimal = Decimal(0)
    note: str | None = None


def spent_today(session: Session, at: datetime) -> Decimal:
    """Credits Apollo charged on ``at``'s UTC day (refills and re-enrichment: every paid call).

    Summed from the raw payloads: each paid call booked at its worst case before it is sent (so
    a worker killed during the call still counts it), replaced by the response with its credits
    when it arrives. So the day is the call's (not the job's start: a retry after midnight) and a
    run that failed half-way still counts what it paid. The job rows' ``credits_consumed`` are
    its report.
    """
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    value = session.execute(
        text(
            "SELECT coalesce(sum(credits_consumed), 0) FROM raw_payloads "
            "WHERE credits_consumed > 0 AND fetched_at >= :d AND fetched_at < :e"
        ),
        {"d": day, "e": day + timedelta(days=1)},
    ).scalar_one()
    return Decimal(value)


def agency_spent_today(session: Session, agency_id: int, at: datetime) -> Decimal:
    """Credits the agency's refill jobs that ran on ``at``'s UTC day have spent (their reports,
    booked call by call as the raw payloads are: a try killed mid-call counts its call too).

    A job's report is not split by day: one started before midnight and retried after it counts
    whole on both days, so the share errs towards stopping (the platform's own ledger is exact)."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # a job not finished counts while the queue still runs or retries it; one the queue gave up on
    # (a worker that died with it: nothing could mark it) counts on the day it started only, not
    # against the agency's share for ever
    value = session.execute(
        text(
            "SELECT coalesce(sum(r.credits_consumed), 0) FROM refill_jobs r "
            "LEFT JOIN procrastinate_jobs j ON j.id = r.procrastinate_job_id "
            "WHERE r.agency_id = :a AND r.started_at < :e AND (r.finished_at >= :d OR "
            "(r.finished_at IS NULL AND (r.started_at >= :d OR r.procrastinate_job_id IS NULL "
            "OR j.status IN ('todo', 'doing'))))"
        ),
        {"a": agency_id, "d": day, "e": day + timedelta(days=1)},
    ).scalar_one()
    return Decimal(value)


def _budget_left(session: Session, agency_id: int, at: datetime) -> tuple[Decimal, str]:
    """What a job of this agency may still spend today, and which limit that is, in words."""
    settings = get_allocation_settings()
    platform = settings.refill_daily_credit_budget - spent_today(session, at)
    share = settings.refill_daily_credit_budget * settings.refill_agency_daily_credit_share
    agency = share - agency_spent_today(session, agency_id, at)
    if agency < platform:
        return agency, f"agency {agency_id}'s share of the daily credit budget ({share:g} credits)"
    return platform, "daily credit budget"


def _finish(session: Session, refill_job_id: int, status: str, at: datetime, **values: Any) -> None:
    _let_go(session, refill_job_id)
    sets = ", ".join(f"{k} = :{k}" for k in values)
    session.execute(
        text(
            f"UPDATE refill_jobs SET status = :status, finished_at = :at{', ' + sets if sets else ''} "
            "WHERE id = :id"
        ),
        {"status": status, "at": at, "id": refill_job_id, **values},
    )


def run_refill(db: Database, refill_job_id: int, *, attempts: int = 0, client: Any = None) -> RefillOutcome:
    """Do one refill job (the worker calls this; tests may too). Idempotent once finished."""
    settings = get_allocation_settings()
    now = datetime.now(UTC)
    with session_scope(db) as s:
        row = s.execute(
            text(
                "SELECT r.status, r.campaign_id, r.requested, r.search_params, c.status, a.status, r.allocated, "
                "r.agency_id "
                "FROM refill_jobs r JOIN campaigns c ON c.id = r.campaign_id "
                "JOIN agencies a ON a.id = r.agency_id WHERE r.id = :id FOR UPDATE OF r"
            ),
            {"id": refill_job_id},
        ).first()
        if row is None:
            raise LeadpoolError(f"refill job {refill_job_id} not found")
        status, campaign_id, requested, params, campaign_status, agency_status, done_before, agency_id = row
        if status in ("done", "failed", "stopped_by_budget"):
            return RefillOutcome(refill_job_id, status, note="already finished")
        if campaign_status != "active" or agency_status != "active":
            why = f"campaign {campaign_id} is {campaign_status}, agency is {agency_status}"
            _finish(s, refill_job_id, "failed", now, error=why)
            return RefillOutcome(refill_job_id, "failed", note=why)
        s.execute(
            text(
                "UPDATE refill_jobs SET status = 'running', attempts = attempts + 1, error = NULL, "
                "started_at = coalesce(started_at, :now) WHERE id = :id"
            ),
            {"now": now, "id": refill_job_id},
        )
        remaining, limit = _budget_left(s, int(agency_id), now)

    try:
        return _proceed(
            db,
            refill_job_id,
            int(campaign_id),
            int(requested) - int(done_before or 0),
            params or {},
            remaining,
            limit,
            client,
        )
    except Exception as exc:
        # whatever failed (Apollo, a lost connection, a deadlock victim), the job does not stay
        # 'running': its credits would count against the agency's share on every later day
        retrying = is_transient(exc) and attempts + 1 < settings.refill_max_attempts
        with contextlib.suppress(SQLAlchemyError), session_scope(db) as s:
            if not retrying:  # a job tried again keeps what it bought held (until held_until)
                _let_go(s, refill_job_id)
            s.execute(
                text("UPDATE refill_jobs SET status = :st, error = :e, finished_at = :at WHERE id = :id"),
                {
                    "st": "queued" if retrying else "failed",
                    "e": _failure(exc),
                    "at": None if retrying else datetime.now(UTC),
                    "id": refill_job_id,
                },
            )
        raise


def _failure(exc: BaseException) -> str:
    """The job's error text: a database error by its class and SQLSTATE only (its message may
    quote a statement's values)."""
    if isinstance(exc, SQLAlchemyError | psycopg.Error):  # the importer's are psycopg's own
        return refusals.failed(exc)
    return f"{type(exc).__name__}: {exc}"[:1000]


def _proceed(
    db: Database,
    refill_job_id: int,
    campaign_id: int,
    missing: int,
    params: dict[str, Any],
    remaining: Decimal,
    limit: str,
    client: Any,
) -> RefillOutcome:
    """The job once it is marked running: what the pool serves, then what is bought."""
    from leadpool.allocation.allocate import allocate

    settings = get_allocation_settings()

    # Take what the pool can already serve before buying anything: on a retry, the people an
    # earlier try bought (and that still match and are free) are in the pool, so only the rest
    # of the shortfall is searched for; it also leaves out the part the campaign's quota left
    # today would not grant anyway.
    actor = f"refill:{refill_job_id}"
    # ``missing``: what earlier tries of this job did not allocate
    if missing <= 0:
        with session_scope(db) as s:
            _finish(s, refill_job_id, "done", datetime.now(UTC), error=None)
        return RefillOutcome(refill_job_id, "done")
    try:
        with session_scope(db) as s:
            first = allocate(s, campaign_id, missing, refill_shortfall=False, actor=actor)
            _add_counts(s, refill_job_id, allocated=len(first.lead_ids))
    except LeadpoolError as e:
        with session_scope(db) as s:
            _finish(s, refill_job_id, "failed", datetime.now(UTC), error=e.message)
        return RefillOutcome(refill_job_id, "failed", note=e.message)
    allocated = len(first.lead_ids)
    want = first.shortfall
    if want <= 0:
        with session_scope(db) as s:
            _finish(s, refill_job_id, "done", datetime.now(UTC), error=None)
        return RefillOutcome(refill_job_id, "done", allocated=allocated)
    if remaining <= 0:
        with session_scope(db) as s:
            why = f"{want} still short: {limit} used up before the job searched"
            _finish(s, refill_job_id, "stopped_by_budget", datetime.now(UTC), error=why)
        return RefillOutcome(refill_job_id, "stopped_by_budget", allocated=allocated, note=why)

    try:
        enriched, credits, stopped, reason = _search_and_enrich(
            db,
            params,
            want,
            remaining,
            (settings.refill_max_pages, settings.refill_max_known_pages),
            timedelta(days=settings.refill_max_age_days),
            client,
            refill_job_id,
            campaign_id,
        )
    except Exception as exc:
        # credits paid before the failure are on the job already (booked call by call); the
        # people bought are counted here, its status where run_refill catches this
        partial = getattr(exc, "partial", None)
        got = len(getattr(partial, "enriched_lead_ids", None) or [])
        if got:
            with session_scope(db) as s:
                _add_counts(s, refill_job_id, enriched=got)
        raise

    with session_scope(db) as s:
        _add_counts(s, refill_job_id, enriched=enriched)  # its credits are on it already
    with session_scope(db) as s:
        note: str | None = None
        try:
            # what was granted but not found in the pool before the search
            result = allocate(s, campaign_id, want, refill_shortfall=False, actor=actor)
            allocated += len(result.lead_ids)
            _add_counts(s, refill_job_id, allocated=len(result.lead_ids))
            short = result.shortfall
        except LeadpoolError as e:
            note, short = e.message, want
        final = "stopped_by_budget" if stopped and short > 0 else "done"
        if note is None and short > 0:
            why = f"{limit} reached" if stopped else _SHORT_BECAUSE.get(reason, _SHORT_BECAUSE["exhausted"])
            note = f"{short} still short: {why}"
        _finish(s, refill_job_id, final, datetime.now(UTC), error=note)
    return RefillOutcome(refill_job_id, final, enriched, allocated, credits, note)


# why a job that searched is still short, by the search's stop reason (the budget's says itself)
_SHORT_BECAUSE = {
    "exhausted": "Apollo had no more matching people",
    "want": "of the people bought, not all matched the campaign (Apollo's search is broader than the "
    "ICP); the next refill buys more",
    "pages": "the job read its search pages (LEADPOOL_REFILL_MAX_PAGES, LEADPOOL_REFILL_MAX_KNOWN_PAGES); "
    "Apollo may have more",
}


def _add_counts(session: Session, refill_job_id: int, **counts: Any) -> None:
    """Add to the job's running totals (``allocated``, ``enriched``, ``credits_consumed``): they
    sum over all its tries."""
    sets = ", ".join(f"{k} = {k} + :{k}" for k in counts)
    session.execute(text(f"UPDATE refill_jobs SET {sets} WHERE id = :id"), {"id": refill_job_id, **counts})


def credits_on_job(refill_job_id: int) -> Callable[[Session, Decimal], None]:
    """The job's share of each paid call, booked in the transaction that books the call in
    ``raw_payloads`` (its worst case before it is sent, the difference once its answer is stored):
    at the end of a try would miss a try killed mid-call, and the agency's share with it."""

    def add(session: Session, credits: Decimal) -> None:
        _add_counts(session, refill_job_id, credits_consumed=credits)

    return add


def hold_for(campaign_id: int, refill_job_id: int) -> Callable[[psycopg.Cursor[Any], list[int]], None]:
    """Hold the free leads each import batch of the job stores for its campaign, in that batch's
    transaction: allocated to the campaign only at the job's end, they were free pool leads
    meanwhile, and another campaign's allocation took what this agency paid for."""
    until = datetime.now(UTC) + timedelta(minutes=get_allocation_settings().refill_hold_minutes)

    def hold(cur: psycopg.Cursor[Any], lead_ids: list[int]) -> None:
        cur.execute(
            "INSERT INTO refill_holds (lead_id, campaign_id, refill_job_id, held_until) "
            "SELECT l.id, %s, %s, %s FROM leads l WHERE l.id = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM ownerships o WHERE o.lead_id = l.id) "
            # a hold past its time (its job's worker died) is taken over; a live one stays
            "ON CONFLICT (lead_id) DO UPDATE SET campaign_id = EXCLUDED.campaign_id, "
            "refill_job_id = EXCLUDED.refill_job_id, held_until = EXCLUDED.held_until "
            "WHERE refill_holds.held_until <= now()",
            (campaign_id, refill_job_id, until, lead_ids),
        )

    return hold


def _let_go(session: Session, refill_job_id: int) -> None:
    """The job's holds end with it (its last allocation took what it could in this transaction)."""
    session.execute(text("DELETE FROM refill_holds WHERE refill_job_id = :j"), {"j": refill_job_id})


def _search_and_enrich(
    db: Database,
    params: dict[str, Any],
    want: int,
    budget: Decimal,
    pages: tuple[int, int],
    max_age: timedelta,
    client: Any,
    refill_job_id: int,
    campaign_id: int,
) -> tuple[int, Decimal, bool, str]:
    from leadpool.apollo.client import ApolloClient
    from leadpool.apollo.enrich import search_and_enrich

    own_client = client is None
    if own_client:
        cfg = get_settings()
        client = ApolloClient(
            cfg.apollo_api_key or "",
            base_url=cfg.apollo_base_url,
            max_retries=get_allocation_settings().refill_http_retries,
        )
    try:
        res = search_and_enrich(
            db,
            client,
            params,
            want=want,
            max_pages=pages[0],
            max_known_pages=pages[1],
            max_age=max_age,
            credit_budget=float(budget),
            on_credits=credits_on_job(refill_job_id),
            on_leads=hold_for(campaign_id, refill_job_id),
        )
    finally:
        if own_client and hasattr(client, "close"):
            client.close()
    return (
        len(res.enriched_lead_ids),
        Decimal(str(res.credits_consumed)),
        bool(res.stopped_by_budget),
        res.stop_reason,
    )


@app.task(name=REFILL_TASK, retry=TransientRetry(), pass_context=True, lock=REFILL_LOCK)
def refill_campaign(context: procrastinate.JobContext, refill_job_id: int) -> dict[str, Any]:
    """The procrastinate task: run one refill job against the configured database."""
    out = run_job(context, run_refill, refill_job_id)
    return {
        "refill_job_id": out.refill_job_id,
        "status": out.status,
        "enriched": out.enriched,
        "allocated": out.allocated,
        "credits_consumed": str(out.credits_consumed),
    }


@dataclass
class RefillJobView:
    id: int
    kind: str  # 'campaign' (a shortfall) or 'reenrich' (known leads bought again; no campaign)
    campaign_id: int | None
    agency_id: int | None
    status: str
    queue_status: str | None
    requested: int
    enriched: int
    allocated: int
    credits_consumed: Decimal
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    job_id: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_refill_jobs(
    session: Session, *, limit: int = 50, status: str | None = None, agency_id: int | None = None
) -> list[RefillJobView]:
    """Newest first, with procrastinate's own status of the job next to ours.

    ``agency_id``: that agency's jobs only (re-enrichment jobs belong to no agency), read newest
    first from ``ix_refill_jobs_agency_id_id``; None: every job."""
    if status is not None and status not in REFILL_STATUSES:
        raise InvalidInput(f"status: {status!r} is not one of {', '.join(REFILL_STATUSES)}")
    where = ["(CAST(:st AS text) IS NULL OR status = :st)"]
    if agency_id is not None:
        where.append("agency_id = :ag")
    rows = session.execute(
        text(
            "SELECT id, campaign_id, agency_id, status, requested, enriched, allocated, credits_consumed, "
            "attempts, error, created_at, started_at, finished_at, procrastinate_job_id, kind FROM refill_jobs "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT :lim"
        ),
        {"st": status, "lim": limit, "ag": agency_id},
    ).all()
    queue = job_statuses(session, [int(r[13]) for r in rows if r[13] is not None])
    return [
        RefillJobView(
            id=int(r[0]),
            kind=str(r[14]),
            campaign_id=None if r[1] is None else int(r[1]),
            agency_id=None if r[2] is None else int(r[2]),
            status=str(r[3]),
            queue_status=queue.get(int(r[13])) if r[13] is not None else None,
            requested=int(r[4]),
            enriched=int(r[5]),
            allocated=int(r[6]),
            credits_consumed=Decimal(r[7]),
            attempts=int(r[8]),
            error=r[9],
            created_at=r[10],
            started_at=r[11],
            finished_at=r[12],
            job_id=None if r[13] is None else int(r[13]),
        )
        for r in rows
    ]
