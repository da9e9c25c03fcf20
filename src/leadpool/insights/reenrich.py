"""Re-enrichment: leads whose data should be bought again, queued through the refill path.

Three reasons, in priority order: a bounced email with a known new employer (Apollo's employment
history has a current job at another organization: the person moved, a fresh lookup likely finds
the new address), a guessed email, and stale data (enriched longer ago than ``stale_days``). Only
leads nobody has ruled out are proposed. A lead is proposed once per piece of evidence: a bounce
only if it came after the last enrichment, a guessed email only if that guess is older than
``recheck_days`` (otherwise a lead Apollo can still only guess would be bought every day).

Queueing (:func:`queue_reenrichment`) writes a ``refill_jobs`` row of kind ``reenrich`` (no
campaign; the leads in ``lead_ids``) and defers :data:`REENRICH_TASK` on the caller's connection.
The task shares the refill lock, so it runs one at a time with campaign refills, and it spends
from the same daily budget (``LEADPOOL_REFILL_DAILY_CREDIT_BUDGET``, summed from ``refill_jobs``):
it gets what is left today, buys through :func:`leadpool.apollo.enrich.enrich_people` (which
never pays for a person twice in a run, nor for one enriched within the last day) and stops with
``stopped_by_budget`` when the budget runs out. Each person is budgeted at
``enrich.UNPRICED_CREDITS_PER_RECORD`` credits at least.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import procrastinate
from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.allocation.refill import (
    REFILL_LOCK,
    RefillOutcome,
    TransientRetry,
    credits_on_job,
    is_transient,
    refill_possible,
    spent_today,
)
from leadpool.allocation.settings import get_allocation_settings
from leadpool.apollo.enrich import UNPRICED_CREDITS_PER_RECORD
from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.errors import LeadpoolError
from leadpool.queue import app, defer_in_session, run_job

REENRICH_TASK = "insights.reenrich"
# a lead enriched this recently is not bought again, whatever its reason (a second queue run the
# same day, or a refill that just bought it)
PAY_ONCE_WITHIN = timedelta(days=1)

# Leads waiting in a queued re-enrichment job: the jobs' id arrays unnested once, so leaving them
# out is one hashed anti-join (a per-lead ``= ANY(lead_ids)`` compared every lead of the pool
# with every queued id).
_CANDIDATES = """
WITH pending AS MATERIALIZED (
    SELECT DISTINCT p.lead_id
    FROM refill_jobs r JOIN procrastinate_jobs j ON j.id = r.procrastinate_job_id
    CROSS JOIN LATERAL unnest(r.lead_ids) AS p(lead_id)
    WHERE r.kind = 'reenrich' AND r.status IN ('queued', 'running') AND j.status IN ('todo', 'doing')
)
SELECT id, reason FROM (
    SELECT l.id,
        CASE
            WHEN l.email_bounced_at IS NOT NULL
              AND l.email_bounced_at >= coalesce(l.enriched_at, '-infinity'::timestamptz)
              AND EXISTS (
                SELECT 1 FROM jsonb_array_elements(
                    CASE WHEN jsonb_typeof(l.employment_history) = 'array' THEN l.employment_history
                    ELSE '[]'::jsonb END) h
                WHERE h->>'current' = 'true' AND h->>'organization_id' IS NOT NULL
                  AND h->>'organization_id' IS DISTINCT FROM l.organization_id)
                THEN 'bounced_new_employer'
            WHEN l.email_status = 'guessed' AND (l.enriched_at IS NULL OR l.enriched_at < :recheck)
                THEN 'guessed'
            WHEN l.enriched_at IS NULL OR l.enriched_at < :stale THEN 'stale'
        END AS reason,
        l.enriched_at
    FROM leads l
    WHERE l.erased_at IS NULL AND l.unsubscribed_at IS NULL AND l.complained_at IS NULL
      AND l.converted_at IS NULL AND l.blocklisted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM pending p WHERE p.lead_id = l.id)
) c
WHERE reason IS NOT NULL
ORDER BY CASE reason WHEN 'bounced_new_employer' THEN 0 WHEN 'guessed' THEN 1 ELSE 2 END,
    enriched_at NULLS FIRST, id
LIMIT :limit
"""


def reenrichment_candidates(
    session: Session,
    *,
    limit: int = 1000,
    stale_days: int = 365,
    recheck_days: int = 30,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Leads to re-enrich (best first), capped by ``limit`` and by today's remaining credits.

    Leads already waiting in a queued re-enrichment job are left out."""
    at = at or datetime.now(UTC)
    left = get_allocation_settings().refill_daily_credit_budget - spent_today(session, at)
    # as many as enrichment will buy with it: each record is budgeted at no less than
    # UNPRICED_CREDITS_PER_RECORD (Apollo's price may be fractional)
    cap = max(0, min(limit, int(Decimal(left) / Decimal(str(UNPRICED_CREDITS_PER_RECORD)))))
    rows = session.execute(
        text(_CANDIDATES),
        {
            "stale": at - timedelta(days=stale_days),
            "recheck": at - timedelta(days=recheck_days),
            "limit": cap,
        },
    ).all()
    by_reason: dict[str, int] = {}
    for _, reason in rows:
        by_reason[reason] = by_reason.get(reason, 0) + 1
    return {
        "credits_left_today": float(left),
        "limit": cap,
        "by_reason": by_reason,
        "lead_ids": [int(r[0]) for r in rows],
    }


def queue_reenrichment(
    session: Session,
    *,
    limit: int = 1000,
    stale_days: int = 365,
    recheck_days: int = 30,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Queue today's re-enrichment candidates as one refill job of kind ``reenrich``.

    Returns the candidates' summary plus ``refill_job_id`` and ``job_id`` (both None when there
    was nothing to queue). Raises :class:`LeadpoolError` when refill is switched off or no Apollo
    key is configured. Concurrent callers are serialised by a transaction advisory lock so no lead
    lands in two waiting jobs. Flushes; the caller commits (the job exists only if it does).
    """
    if not refill_possible():
        raise LeadpoolError(
            "re-enrichment goes through refill: set LEADPOOL_APOLLO_API_KEY and keep LEADPOOL_REFILL_ENABLED on"
        )
    at = at or datetime.now(UTC)
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('leadpool-reenrich-queue'))"))
    out = reenrichment_candidates(
        session, limit=limit, stale_days=stale_days, recheck_days=recheck_days, at=at
    )
    out |= {"refill_job_id": None, "job_id": None}
    if not out["lead_ids"]:
        return out
    refill_job_id = int(
        session.execute(
            text(
                "INSERT INTO refill_jobs (kind, status, requested, lead_ids, search_params, created_at) "
                "VALUES ('reenrich', 'queued', :n, :ids, CAST(:p AS jsonb), :at) RETURNING id"
            ),
            {
                "n": len(out["lead_ids"]),
                "ids": out["lead_ids"],
                "p": _json({"by_reason": out["by_reason"], "stale_days": stale_days}),
                "at": at,
            },
        ).scalar_one()
    )
    job_id = defer_in_session(
        session, REENRICH_TASK, lock=REFILL_LOCK, task_kwargs={"refill_job_id": refill_job_id}
    )
    session.execute(
        text("UPDATE refill_jobs SET procrastinate_job_id = :j WHERE id = :id"),
        {"j": job_id, "id": refill_job_id},
    )
    return out | {"refill_job_id": refill_job_id, "job_id": job_id}


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj)


def _identities(db: Database, lead_ids: list[int]) -> list[dict[str, Any]]:
    """Who to ask Apollo for, in the job's priority order; leads ruled out since are dropped.

    The Apollo id alone when known (a bounced address must not steer the match)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT apollo_id, email, linkedin_url FROM leads "
                "WHERE id = ANY(:ids) AND erased_at IS NULL AND unsubscribed_at IS NULL "
                "AND complained_at IS NULL AND converted_at IS NULL AND blocklisted_at IS NULL "
                "ORDER BY array_position(CAST(:ids AS bigint[]), id)"
            ),
            {"ids": lead_ids},
        ).all()
    out: list[dict[str, Any]] = []
    for apollo_id, email, linkedin in rows:
        if apollo_id:
            out.append({"id": apollo_id})
        else:
            out.append({k: v for k, v in (("email", email), ("linkedin_url", linkedin)) if v})
    return out


def run_reenrich(db: Database, refill_job_id: int, *, attempts: int = 0, client: Any = None) -> RefillOutcome:
    """Do one re-enrichment job (the worker calls this; tests may too). Idempotent once finished.

    ``enriched`` counts leads rewritten from Apollo's answer; ``credits_consumed`` what was paid,
    booked on the job row call by call (before each call, at its worst case: a try killed mid-call
    still counts it; today's budget counts the calls themselves, ``spent_today``)."""
    from leadpool.apollo.client import ApolloClient
    from leadpool.apollo.enrich import enrich_people

    settings = get_allocation_settings()
    now = datetime.now(UTC)
    with session_scope(db) as s:
        row = s.execute(
            text("SELECT status, lead_ids FROM refill_jobs WHERE id = :id AND kind = 'reenrich' FOR UPDATE"),
            {"id": refill_job_id},
        ).first()
        if row is None:
            raise LeadpoolError(f"re-enrichment job {refill_job_id} not found")
        status, lead_ids = row
        if status in ("done", "failed", "stopped_by_budget"):
            return RefillOutcome(refill_job_id, status, note="already finished")
        s.execute(
            text(
                "UPDATE refill_jobs SET status = 'running', attempts = attempts + 1, error = NULL, "
                "started_at = coalesce(started_at, :now) WHERE id = :id"
            ),
            {"now": now, "id": refill_job_id},
        )
        remaining = settings.refill_daily_credit_budget - spent_today(s, now)
    if remaining <= 0:
        why = "daily credit budget used up before the job started"
        _finish(db, refill_job_id, "stopped_by_budget", why, 0)
        return RefillOutcome(refill_job_id, "stopped_by_budget", note=why)

    own_client = client is None
    if own_client:
        cfg = get_settings()
        client = ApolloClient(
            cfg.apollo_api_key or "", base_url=cfg.apollo_base_url, max_retries=settings.refill_http_retries
        )
    try:
        res = enrich_people(
            db,
            client,
            _identities(db, [int(x) for x in lead_ids or []]),
            max_age=PAY_ONCE_WITHIN,
            credit_budget=float(remaining),
            on_credits=credits_on_job(refill_job_id),
        )
    except Exception as exc:
        retrying = is_transient(exc) and attempts + 1 < settings.refill_max_attempts
        # credits paid before the failure are on the job already (booked call by call)
        partial = getattr(exc, "partial", None)
        got = len(getattr(partial, "enriched_lead_ids", None) or [])
        _finish(
            db,
            refill_job_id,
            "queued" if retrying else "failed",
            f"{type(exc).__name__}: {exc}"[:1000],
            got,
            finished=not retrying,
        )
        raise
    finally:
        if own_client and hasattr(client, "close"):
            client.close()

    credits = Decimal(str(res.credits_consumed))
    final = "stopped_by_budget" if res.stopped_by_budget else "done"
    notes = []
    if res.stopped_by_budget:
        notes.append("daily credit budget reached")
    if res.not_found:
        notes.append(f"{res.not_found} not found by Apollo")
    if res.skipped_already_fresh:
        notes.append(f"{res.skipped_already_fresh} enriched within the last day, not bought again")
    note = "; ".join(notes) or None
    _finish(db, refill_job_id, final, note, len(res.enriched_lead_ids))
    return RefillOutcome(refill_job_id, final, len(res.enriched_lead_ids), 0, credits, note)


def _finish(
    db: Database,
    refill_job_id: int,
    status: str,
    note: str | None,
    enriched: int,
    *,
    finished: bool = True,
) -> None:
    with session_scope(db) as s:
        s.execute(
            text(
                "UPDATE refill_jobs SET status = :st, error = :e, finished_at = :at, "
                "enriched = enriched + :en WHERE id = :id"
            ),
            {
                "st": status,
                "e": note,
                "at": datetime.now(UTC) if finished else None,
                "en": enriched,
                "id": refill_job_id,
            },
        )


@app.task(name=REENRICH_TASK, retry=TransientRetry(), pass_context=True, lock=REFILL_LOCK)
def reenrich_leads(context: procrastinate.JobContext, refill_job_id: int) -> dict[str, Any]:
    """The procrastinate task: run one re-enrichment job against the configured database."""
    out = run_job(context, run_reenrich, refill_job_id)
    return {
        "refill_job_id": out.refill_job_id,
        "status": out.status,
        "enriched": out.enriched,
        "credits_consumed": str(out.credits_consumed),
    }
