"""Campaigns of the calling agency: create, list, read, activate/pause/resume, allocate, leads.

An agency sees only its own campaigns; the admin may read and act on every campaign.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from leadpool.allocation import allocate as allocation_service
from leadpool.allocation import campaigns as campaign_service
from leadpool.allocation.icp import ICP
from leadpool.api import metrics, tenancy
from leadpool.api.deps import AgencyCaller, Caller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import (
    AllocateRequest,
    Allocation,
    Campaign,
    CampaignCreate,
    CampaignLead,
    PolicyOverride,
    PolicyView,
)
from leadpool.gate import overrides
from leadpool.limits import MAX_ID
from leadpool.models import Campaign as CampaignRow

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], responses=COMMON_RESPONSES)
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID)]


def campaign_out(row: CampaignRow) -> Campaign:
    return Campaign.model_validate(row, from_attributes=True)


def _icp(data: dict[str, object]) -> ICP:
    try:
        return ICP.model_validate(data)
    except ValidationError as e:
        # name the offending part as a body field (icp.employee_count.min), like any other field
        raise RequestValidationError(
            [{**err, "loc": ("body", "icp", *err["loc"])} for err in e.errors()]
        ) from e


@router.post("", response_model=Campaign, status_code=201)
def create_campaign(body: CampaignCreate, session: SessionDep, caller: AgencyCaller) -> Campaign:
    """Create a draft campaign for the calling agency."""
    assert caller.agency_id is not None
    row = campaign_service.create_campaign(
        session,
        agency_id=caller.agency_id,
        name=body.name.strip(),
        channels=list(dict.fromkeys(body.channels)),
        icp=_icp(body.icp),
        daily_quota=body.daily_quota,
    )
    return campaign_out(row)


@router.get("", response_model=list[Campaign])
def list_campaigns(session: SessionDep, caller: Caller) -> list[Campaign]:
    rows = session.scalars(tenancy.campaigns(caller).order_by(CampaignRow.id))
    return [campaign_out(r) for r in rows]


@router.get("/{campaign_id}", response_model=Campaign)
def get_campaign(campaign_id: CampaignId, session: SessionDep, caller: Caller) -> Campaign:
    return campaign_out(tenancy.campaign(session, caller, campaign_id))


@router.get("/{campaign_id}/policy", response_model=PolicyView)
def get_policy(campaign_id: CampaignId, session: SessionDep, caller: Caller) -> PolicyView:
    """The campaign's gate policy override, its agency's, and the policy its checks use."""
    tenancy.campaign(session, caller, campaign_id)
    return PolicyView.model_validate(overrides.campaign_policy(session, campaign_id).as_dict())


@router.put("/{campaign_id}/policy", response_model=PolicyView)
def put_policy(
    campaign_id: CampaignId, body: PolicyOverride, session: SessionDep, caller: Caller
) -> PolicyView:
    """Replace the campaign's gate policy override (null: remove it); it holds from the next check.
    Refused (422, naming the field) when not valid: person caps may only be lowered, legal windows
    only narrowed, consent only added, ``agency_daily_cap`` only lowered below the agency's. Audited;
    removing it (null) is never refused."""
    tenancy.campaign(session, caller, campaign_id)
    view = overrides.set_campaign_policy(
        session, campaign_id, body.overrides, actor=caller.actor, at=datetime.now(UTC)
    )
    return PolicyView.model_validate(view.as_dict())


@router.post("/{campaign_id}/activate", response_model=Campaign)
def activate(campaign_id: CampaignId, session: SessionDep, caller: Caller) -> Campaign:
    tenancy.campaign(session, caller, campaign_id)
    return campaign_out(campaign_service.activate_campaign(session, campaign_id))


@router.post("/{campaign_id}/pause", response_model=Campaign)
def pause(campaign_id: CampaignId, session: SessionDep, caller: Caller) -> Campaign:
    tenancy.campaign(session, caller, campaign_id)
    return campaign_out(campaign_service.pause_campaign(session, campaign_id))


@router.post("/{campaign_id}/resume", response_model=Campaign)
def resume(campaign_id: CampaignId, session: SessionDep, caller: Caller) -> Campaign:
    tenancy.campaign(session, caller, campaign_id)
    return campaign_out(campaign_service.resume_campaign(session, campaign_id))


@router.post("/{campaign_id}/allocate", response_model=Allocation)
def allocate(
    campaign_id: CampaignId, body: AllocateRequest, session: SessionDep, caller: Caller
) -> Allocation:
    """Give the campaign up to ``count`` leads (capped by its daily quota): the agency's own
    matching leads first, then free pool leads. A shortfall queues a refill job. Under an
    ``idempotency_key`` already used on the campaign: that request's answer (``replayed``), with
    nothing allocated or queued again; 409 when it asked for another count."""
    tenancy.campaign(session, caller, campaign_id)
    result = allocation_service.allocate(
        session, campaign_id, body.count, idempotency_key=body.idempotency_key
    )
    if not result.replayed:  # a replay is the same allocation, not another one
        metrics.ALLOCATIONS.inc()
        metrics.ALLOCATED_LEADS.labels(origin="reused").inc(result.reused)
        metrics.ALLOCATED_LEADS.labels(origin="pool").inc(result.taken_from_pool)
        metrics.ALLOCATION_SHORTFALL.inc(result.shortfall)
    return Allocation(
        allocated=list(result.lead_ids),
        reused=result.reused,
        taken_from_pool=result.taken_from_pool,
        shortfall=result.shortfall,
        job_id=result.job_id,
        refill_unavailable=result.refill_unavailable,
        replayed=result.replayed,
    )


@router.get("/{campaign_id}/leads", response_model=list[CampaignLead])
def campaign_leads(
    campaign_id: CampaignId,
    session: SessionDep,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[CampaignLead]:
    """The campaign's enrollments (active and ended), newest first; a lead the agency no longer
    holds is listed by id only."""
    rows = tenancy.campaign_enrollments(session, caller, campaign_id, limit=limit, offset=offset)
    return [
        CampaignLead(
            lead_id=enrollment.lead_id,
            name=lead.name if lead else None,
            title=lead.title if lead else None,
            email=lead.email if lead else None,
            country=lead.country if lead else None,
            enrollment_status=enrollment.status,
            enrolled_at=enrollment.enrolled_at,
        )
        for enrollment, lead in rows
    ]
