"""Jobs (admin): refill jobs with the queue's status of each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from leadpool.allocation.refill import list_refill_jobs
from leadpool.api.deps import AdminCaller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import Job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=COMMON_RESPONSES)


@router.get("", response_model=list[Job])
def list_jobs(
    session: SessionDep,
    caller: AdminCaller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
) -> list[Job]:
    """Newest first."""
    return [
        Job.model_validate(j.to_json() | {"credits_consumed": float(j.credits_consumed)})
        for j in list_refill_jobs(session, limit=limit, status=status)
    ]
