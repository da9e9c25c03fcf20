"""Re-enrichment candidates: bounced with a new employer first, then guessed, then stale; budget cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.allocation.factories import make_leads

from leadpool.db import session_scope
from leadpool.insights.reenrich import reenrichment_candidates

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)


def test_candidates_by_reason_and_priority(db, monkeypatch):
    with session_scope(db) as s:
        fresh = make_leads(s, 2, enriched_at=NOW - timedelta(days=10))
        stale = make_leads(s, 2, enriched_at=NOW - timedelta(days=400))
        guessed = make_leads(s, 1, email_status="guessed", enriched_at=NOW - timedelta(days=5))
        moved = make_leads(
            s,
            1,
            organization_id="org-old",
            email_bounced_at=NOW - timedelta(days=1),
            enriched_at=NOW - timedelta(days=5),
            employment_history=[
                {"organization_id": "org-new", "current": True},
                {"organization_id": "org-old", "current": False},
            ],
        )
        stayed = make_leads(
            s,
            1,
            organization_id="org-a",
            email_bounced_at=NOW - timedelta(days=1),
            enriched_at=NOW - timedelta(days=5),
            employment_history=[{"organization_id": "org-a", "current": True}],
        )
        make_leads(s, 1, email_status="guessed", unsubscribed_at=NOW)  # ruled out: never proposed
    with session_scope(db) as s:
        out = reenrichment_candidates(s, at=NOW)
    assert out["lead_ids"] == moved + guessed + stale
    assert out["by_reason"] == {"bounced_new_employer": 1, "guessed": 1, "stale": 2}
    assert not set(fresh + stayed) & set(out["lead_ids"])
    # the remaining daily credit budget caps the list
    monkeypatch.setenv("LEADPOOL_REFILL_DAILY_CREDIT_BUDGET", "2")
    with session_scope(db) as s:
        out = reenrichment_candidates(s, at=NOW)
    assert out["lead_ids"] == moved + guessed and out["limit"] == 2
