"""Ending an enrollment without a reply: the sending engine's "sequence finished" (or the agency's
"removed"). The lead then rests for every campaign of every agency (docs/allocation.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import exists, or_, select

from leadpool.allocation import campaigns as campaign_service
from leadpool.api import tenancy
from leadpool.api.deps import Caller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import EnrollmentEnded, EnrollmentEndRequest
from leadpool.errors import NotFound
from leadpool.limits import MAX_ID
from leadpool.models import Enrollment, Lead

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], responses=COMMON_RESPONSES)
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID)]
LeadId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post("/{campaign_id}/leads/{lead_id}/end", response_model=EnrollmentEnded)
def end_enrollment(
    campaign_id: CampaignId, lead_id: LeadId, body: EnrollmentEndRequest, session: SessionDep, caller: Caller
) -> EnrollmentEnded:
    """End the lead's active enrollment in the campaign (its sequence finished, or it was removed);
    the lead then rests: no campaign of any agency enrolls or touches it until ``rest_until``.
    Idempotent: without an active enrollment nothing changes (``ended: false``). A lead that does
    not exist is 404; so, for an agency, is a lead it neither holds nor ever enrolled in this
    campaign (as if absent: the answer tells nothing about other agencies' leads)."""
    tenancy.campaign(session, caller, campaign_id)
    if not caller.is_admin:
        # ever enrolled here, ended too: a retry after the lead left the agency stays idempotent
        enrolled_here = exists().where(Enrollment.lead_id == Lead.id, Enrollment.campaign_id == campaign_id)
        visible = or_(tenancy.owned_by_caller(caller), enrolled_here)
        if session.scalar(select(Lead.id).where(Lead.id == lead_id, visible)) is None:
            raise NotFound(f"lead {lead_id} not found")
    res = campaign_service.end_enrollment(
        session, campaign_id, lead_id, reason=body.reason, actor=caller.actor
    )
    return EnrollmentEnded.model_validate(res.as_dict())
