"""Insights: segment rates with intervals, data quality and send-time suggestions.

The admin gets everything; an agency gets its own figures in full plus the privacy-safe platform
view (cells of at least 50 leads and 3 agencies, see :mod:`leadpool.insights.privacy`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from leadpool.api import tenancy
from leadpool.api.deps import Caller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.errors import InvalidInput
from leadpool.insights.rates import DIMENSIONS
from leadpool.insights.report import DEFAULT_DIMS, insights_report
from leadpool.insights.score import scores_of
from leadpool.insights.suggest import campaign_suggestions

router = APIRouter(prefix="/v1/insights", tags=["insights"], responses=COMMON_RESPONSES)
campaign_router = APIRouter(prefix="/v1/campaigns", tags=["insights"], responses=COMMON_RESPONSES)


@router.get("")
def get_insights(
    session: SessionDep,
    caller: Caller,
    dims: Annotated[
        str,
        Query(
            max_length=300,
            description=f"Comma-separated dimensions (at most 3), any of: {', '.join(DIMENSIONS)}.",
        ),
    ] = ",".join(DEFAULT_DIMS),
) -> dict[str, Any]:
    """Rates (reply, positive, bounce, unsubscribe, conversion) by segment with 95% intervals,
    bounce rate by email_status and data age, reply rate by local hour and weekday, and the best
    local send hour and weekday per segment."""
    wanted = [d.strip() for d in dims.split(",") if d.strip()]
    if len(wanted) > 3:
        raise InvalidInput(f"dims: at most 3 dimensions, got {len(wanted)}")
    return insights_report(session, agency_id=None if caller.is_admin else caller.agency_id, dims=wanted)


@router.get("/leads/{lead_id}/scores")
def lead_scores(
    session: SessionDep, caller: Caller, lead_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> list[dict[str, Any]]:
    """A lead's scores (expected positive-reply probability per channel) and their model version."""
    tenancy.lead(session, caller, lead_id)
    return scores_of(session, lead_id)


@campaign_router.get("/{campaign_id}/suggestions")
def campaign_send_time_suggestions(
    session: SessionDep, caller: Caller, campaign_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> dict[str, Any]:
    """Best local send hour and weekday for the campaign's ICP segment (industries, else
    seniorities), by shrunk reply rate. Admin: from every fact. Agency: ``own`` (its figures) and
    ``platform`` (privacy-safe cells only). Another agency's campaign is a 404."""
    tenancy.campaign(session, caller, campaign_id)
    return campaign_suggestions(session, campaign_id, agency_id=None if caller.is_admin else caller.agency_id)
