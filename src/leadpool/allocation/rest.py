"""Rest periods: an enrollment that ends without a reply rests the lead for every campaign.

The rest is written in the same statement that ends the enrollments (the SQL below is a set of
CTEs over an ``ended`` CTE returning ``id, lead_id, campaign_id, agency_id``), so an enrollment
can never end without its rest. ``leads.rest_until`` only moves later (``greatest``): a rest
never shortens one set before, and it is independent of ``quarantine_until`` (allocation
requires both to be over, so whichever ends later wins). Enrollments ended by a reply,
unsubscribe, complaint, wrong person or conversion (events) start no rest: those have their own
rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from leadpool.allocation.settings import get_allocation_settings
from leadpool.models import REST_REASONS

# append after "WITH ended AS (...)"; needs :rest_at, :rest_until, :rest_reason
REST_CTES = """
, rested AS (
    UPDATE leads SET rest_until = greatest(rest_until, CAST(:rest_until AS timestamptz)), updated_at = now()
    WHERE id IN (SELECT lead_id FROM ended)
), rest_rows AS (
    INSERT INTO rest_periods (lead_id, enrollment_id, campaign_id, agency_id, reason, started_at, until)
    SELECT lead_id, id, campaign_id, agency_id, :rest_reason, :rest_at, :rest_until FROM ended
)
"""


def rest_until(at: datetime) -> datetime:
    """When a rest starting at ``at`` ends (``LEADPOOL_REST_DAYS``, default 90)."""
    return at + timedelta(days=get_allocation_settings().rest_days)


def rest_params(at: datetime, reason: str) -> dict[str, Any]:
    if reason not in REST_REASONS:
        raise ValueError(f"not a rest reason: {reason}")
    return {"rest_at": at, "rest_until": rest_until(at), "rest_reason": reason}
