"""Pool statistics (admin): totals and breakdowns by industry, country, seniority, email status;
the platform blocklist (admin)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from leadpool.api.deps import AdminCaller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import BlocklistRequest, BlocklistResult, PoolStats
from leadpool.models import Ownership
from leadpool.pool import pool_stats
from leadpool.privacy.blocklist import blocklist

router = APIRouter(prefix="/v1/pool", tags=["pool"], responses=COMMON_RESPONSES)


@router.get("/stats", response_model=PoolStats)
def stats(
    session: SessionDep, caller: AdminCaller, top: Annotated[int, Query(ge=1, le=1000)] = 50
) -> PoolStats:
    """The largest ``top`` groups of each breakdown (the rest summed as "(other)")."""
    data = pool_stats(session, top=top)
    owned = int(session.scalar(select(func.count()).select_from(Ownership)) or 0)
    data["owned"] = owned
    data["free"] = data["totals"]["leads"] - owned
    return PoolStats.model_validate(data)


blocklist_router = APIRouter(prefix="/v1/blocklist", tags=["pool"], responses=COMMON_RESPONSES)


@blocklist_router.post("", response_model=BlocklistResult)
def add_to_blocklist(body: BlocklistRequest, session: SessionDep, caller: AdminCaller) -> BlocklistResult:
    """Put a person on the platform blocklist for good: the addresses named (and a lead's email,
    LinkedIn URL, personal and previous emails) are suppressed as keyed hashes, every lead holding one is
    denied ``blocklisted`` from now on and its active enrollment ends. Idempotent."""
    result = blocklist(
        session,
        reason=body.reason,
        actor=caller.actor,
        lead_id=body.lead_id,
        email=body.email,
        phone=body.phone,
        linkedin=body.linkedin_url,
    )
    return BlocklistResult.model_validate(asdict(result))
