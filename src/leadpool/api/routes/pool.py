"""Pool statistics (admin): totals and breakdowns by industry, country, seniority, email status;
the platform blocklist (admin); blocked domains (the platform's list and each agency's)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadpool.api import tenancy
from leadpool.api.auth import Principal
from leadpool.api.deps import AdminCaller, Caller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import BlocklistRequest, BlocklistResult, DomainBlockRequest, PoolStats
from leadpool.client.models import DomainBlock as DomainBlockOut
from leadpool.limits import MAX_ID
from leadpool.models import Ownership
from leadpool.pool import pool_stats
from leadpool.privacy import domains
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


def _whose(session: Session, caller: Principal, agency_id: int | None) -> int | None:
    """The list a caller acts on: an agency's own (naming another is a 404, as if absent); the
    admin's the platform's unless it names an agency."""
    if caller.is_admin:
        if agency_id is not None:
            tenancy.agency(session, caller, agency_id)
        return agency_id
    if agency_id is not None and agency_id != caller.agency_id:
        tenancy.agency(session, caller, agency_id)  # raises the 404
    return caller.agency_id


@blocklist_router.post("/domains", response_model=DomainBlockOut)
def block_a_domain(body: DomainBlockRequest, session: SessionDep, caller: Caller) -> DomainBlockOut:
    """Nobody at this domain is contacted (its email domain or a parent, its company's domain): by
    anyone (the admin's default, the platform's list) or by one agency (an agency's own list: its
    clients, its partners). The gate denies ``domain_blocked``, allocation skips such leads, and
    the active enrollments the block covers end. Idempotent (``created: false``)."""
    agency_id = _whose(session, caller, body.agency_id)
    done = domains.block_domain(
        session, body.domain, reason=body.reason, actor=caller.actor, agency_id=agency_id
    )
    return DomainBlockOut.model_validate(done.as_dict())


@blocklist_router.get("/domains", response_model=list[DomainBlockOut])
def list_domain_blocks(
    session: SessionDep, caller: Caller, agency_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> list[DomainBlockOut]:
    """The blocked domains: the admin sees every list (or one agency's with ``agency_id``), an
    agency the platform's and its own."""
    if caller.is_admin:  # every list, or the one named
        named = _whose(session, caller, agency_id)
        rows = domains.blocked_domains(session, agency_id=named, platform=named is None)
    else:
        rows = domains.blocked_domains(session, agency_id=_whose(session, caller, agency_id))
    return [DomainBlockOut.model_validate(r.as_dict()) for r in rows]


@blocklist_router.delete("/domains/{domain}", response_model=DomainBlockOut)
def unblock_a_domain(
    domain: Annotated[str, Path(min_length=1, max_length=300)],
    session: SessionDep,
    caller: Caller,
    agency_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> DomainBlockOut:
    """Lift a block from the platform's list (admin) or an agency's (an agency: its own); 404 when
    that list does not hold it. Enrollments it ended stay ended."""
    done = domains.unblock_domain(
        session, domain, actor=caller.actor, agency_id=_whose(session, caller, agency_id)
    )
    return DomainBlockOut.model_validate(done.as_dict())
