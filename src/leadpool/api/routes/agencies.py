"""Agencies (admin only): create (the API key is shown once), list, cancel, rotate the key, and
their gate policy override."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Path

from leadpool.allocation import agencies as agency_service
from leadpool.api.auth import issue_agency_key
from leadpool.api.deps import AdminCaller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import (
    Agency,
    AgencyCancelled,
    AgencyCreate,
    AgencyCreated,
    PolicyOverride,
    PolicyView,
)
from leadpool.gate import overrides
from leadpool.limits import MAX_ID
from leadpool.models import Agency as AgencyRow

router = APIRouter(prefix="/v1/agencies", tags=["agencies"], responses=COMMON_RESPONSES)


def agency_out(row: AgencyRow) -> Agency:
    return Agency.model_validate(row, from_attributes=True)


@router.post("", response_model=AgencyCreated, status_code=201)
def create_agency(body: AgencyCreate, session: SessionDep, caller: AdminCaller) -> AgencyCreated:
    """Create an agency and its API key. The key is in this response only; keep it."""
    row = agency_service.create_agency(session, body.name)
    key = issue_agency_key(session, row)
    return AgencyCreated(**agency_out(row).model_dump(), api_key=key)


@router.get("", response_model=list[Agency])
def list_agencies(session: SessionDep, caller: AdminCaller) -> list[Agency]:
    return [agency_out(a) for a in agency_service.list_agencies(session)]


@router.post("/{agency_id}/cancel", response_model=AgencyCancelled)
def cancel_agency(
    session: SessionDep, caller: AdminCaller, agency_id: int = Path(ge=1, le=MAX_ID)
) -> AgencyCancelled:
    """Cancel the agency: its enrollments end and its leads return to the pool (after quarantine),
    except converted leads, which it keeps."""
    result = agency_service.cancel_agency(session, agency_id, actor=caller.actor)
    row = agency_service.get_agency(session, agency_id)
    return AgencyCancelled(
        **agency_out(row).model_dump(),
        released=len(result.released_lead_ids),
        kept=result.kept_converted,
        enrollments_ended=result.enrollments_ended,
        quarantine_until=result.quarantine_until,
    )


@router.post("/{agency_id}/rotate-key", response_model=AgencyCreated)
def rotate_key(
    session: SessionDep, caller: AdminCaller, agency_id: int = Path(ge=1, le=MAX_ID)
) -> AgencyCreated:
    """Give the agency a new API key, shown in this response only; the old one stops working at
    once (a leaked key, a member leaving, an agency cancelled for good)."""
    row = agency_service.get_agency(session, agency_id)
    key = issue_agency_key(session, row)
    return AgencyCreated(**agency_out(row).model_dump(), api_key=key)


@router.get("/{agency_id}/policy", response_model=PolicyView)
def get_policy(
    session: SessionDep, caller: AdminCaller, agency_id: int = Path(ge=1, le=MAX_ID)
) -> PolicyView:
    """The agency's gate policy override and the policy its campaigns start from."""
    return PolicyView.model_validate(overrides.agency_policy(session, agency_id).as_dict())


@router.put("/{agency_id}/policy", response_model=PolicyView)
def put_policy(
    body: PolicyOverride, session: SessionDep, caller: AdminCaller, agency_id: int = Path(ge=1, le=MAX_ID)
) -> PolicyView:
    """Replace the agency's gate policy override (null: remove it); it holds from the next check of
    each of its campaigns. Refused (422) when not valid, or when one of its campaigns' own
    overrides would no longer be valid over it. Audited."""
    view = overrides.set_agency_policy(
        session, agency_id, body.overrides, actor=caller.actor, at=datetime.now(UTC)
    )
    return PolicyView.model_validate(view.as_dict())
