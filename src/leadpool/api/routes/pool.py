"""Pool statistics (admin): totals and breakdowns by industry, country, seniority, email status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from leadpool.api.deps import AdminCaller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import PoolStats
from leadpool.models import Ownership
from leadpool.pool import pool_stats

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
