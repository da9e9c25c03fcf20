"""Tenant isolation: every agency-scoped read goes through these helpers.

An agency sees its own campaigns, the leads it currently owns and the touches it reserved; the
admin sees everything. Anything else is answered exactly as if it did not exist (same 404, same
message), so ids of other agencies reveal nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, select, true
from sqlalchemy.orm import Session

from leadpool.api.auth import Principal
from leadpool.errors import NotFound
from leadpool.models import Agency, Campaign, Enrollment, Lead, Ownership, Touch


def _not_found(kind: str, ident: int) -> NotFound:
    return NotFound(f"{kind} {ident} not found")


def campaigns(principal: Principal) -> Select[tuple[Campaign]]:
    """The campaigns the caller may see."""
    q = select(Campaign)
    if not principal.is_admin:
        q = q.where(Campaign.agency_id == principal.agency_id)
    return q


def campaign(session: Session, principal: Principal, campaign_id: int) -> Campaign:
    found = session.scalar(campaigns(principal).where(Campaign.id == campaign_id))
    if found is None:
        raise _not_found("campaign", campaign_id)
    return found


def owned_by_caller(principal: Principal) -> Any:
    """A clause true for leads the caller may see (always true for the admin)."""
    if principal.is_admin:
        return true()
    return exists().where(Ownership.lead_id == Lead.id, Ownership.agency_id == principal.agency_id)


def lead(session: Session, principal: Principal, lead_id: int) -> Lead:
    found = session.scalar(select(Lead).where(Lead.id == lead_id, owned_by_caller(principal)))
    if found is None:
        raise _not_found("lead", lead_id)
    return found


def touch(session: Session, principal: Principal, touch_id: int, *, refresh: bool = False) -> Touch:
    q = select(Touch).where(Touch.id == touch_id)
    if refresh:  # the gate updates touches with Core statements; reload what the session holds
        q = q.execution_options(populate_existing=True)
    if not principal.is_admin:
        q = q.where(Touch.agency_id == principal.agency_id)
    found = session.scalar(q)
    if found is None:
        raise _not_found("touch", touch_id)
    return found


def agency(session: Session, principal: Principal, agency_id: int) -> Agency:
    if not principal.is_admin and principal.agency_id != agency_id:
        raise _not_found("agency", agency_id)
    found = session.get(Agency, agency_id)
    if found is None:
        raise _not_found("agency", agency_id)
    return found


def agencies(principal: Principal) -> Select[tuple[Agency]]:
    q = select(Agency)
    if not principal.is_admin:
        q = q.where(Agency.id == principal.agency_id)
    return q


def campaign_enrollments(
    session: Session, principal: Principal, campaign_id: int, *, limit: int, offset: int
) -> list[tuple[Enrollment, Lead | None]]:
    """Enrollments of one visible campaign, newest first, with their leads: None for a lead the
    caller no longer holds (released, perhaps to another agency), whose data is not theirs to see."""
    campaign(session, principal, campaign_id)
    rows = session.execute(
        select(Enrollment, Lead, owned_by_caller(principal))
        .join(Lead, Lead.id == Enrollment.lead_id)
        .where(Enrollment.campaign_id == campaign_id)
        .order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [(e, ld if mine else None) for e, ld, mine in rows]


def visible_lead_ids(lead_ids: list[int], principal: Principal) -> Select[tuple[int]]:
    """The subset of ``lead_ids`` the caller may see (first one, for scalar use)."""
    return select(Lead.id).where(Lead.id.in_(lead_ids), owned_by_caller(principal))
