"""Re-enrichment candidates: leads whose data should be bought again, within the credit budget.

Three reasons, in priority order: a bounced email with a known new employer (Apollo's employment
history has a current job at another organization: the person moved, a fresh lookup likely finds
the new address), a guessed email, and stale data (enriched longer ago than ``stale_days``). Only
leads nobody has ruled out are proposed. One credit per lead is assumed (one person enrichment);
the count is capped by what is left of the refill daily credit budget today.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.allocation.refill import spent_today
from leadpool.allocation.settings import get_allocation_settings

_CANDIDATES = """
SELECT id, reason FROM (
    SELECT l.id,
        CASE
            WHEN l.email_bounced_at IS NOT NULL AND EXISTS (
                SELECT 1 FROM jsonb_array_elements(
                    CASE WHEN jsonb_typeof(l.employment_history) = 'array' THEN l.employment_history
                    ELSE '[]'::jsonb END) h
                WHERE h->>'current' = 'true' AND h->>'organization_id' IS NOT NULL
                  AND h->>'organization_id' IS DISTINCT FROM l.organization_id)
                THEN 'bounced_new_employer'
            WHEN l.email_status = 'guessed' THEN 'guessed'
            WHEN l.enriched_at IS NULL OR l.enriched_at < :stale THEN 'stale'
        END AS reason,
        l.enriched_at
    FROM leads l
    WHERE l.erased_at IS NULL AND l.unsubscribed_at IS NULL AND l.complained_at IS NULL
      AND l.converted_at IS NULL AND l.blocklisted_at IS NULL
) c
WHERE reason IS NOT NULL
ORDER BY CASE reason WHEN 'bounced_new_employer' THEN 0 WHEN 'guessed' THEN 1 ELSE 2 END,
    enriched_at NULLS FIRST, id
LIMIT :limit
"""


def reenrichment_candidates(
    session: Session, *, limit: int = 1000, stale_days: int = 365, at: datetime | None = None
) -> dict[str, Any]:
    """Leads to re-enrich (best first), capped by ``limit`` and by today's remaining credits."""
    at = at or datetime.now(UTC)
    left = get_allocation_settings().refill_daily_credit_budget - spent_today(session, at)
    cap = max(0, min(limit, int(left)))
    rows = session.execute(text(_CANDIDATES), {"stale": at - timedelta(days=stale_days), "limit": cap}).all()
    by_reason: dict[str, int] = {}
    for _, reason in rows:
        by_reason[reason] = by_reason.get(reason, 0) + 1
    return {
        "credits_left_today": float(left),
        "limit": cap,
        "by_reason": by_reason,
        "lead_ids": [int(r[0]) for r in rows],
    }
