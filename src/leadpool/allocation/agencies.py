"""Agencies: create, list, cancel (releasing their leads) and reactivate."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from leadpool.allocation.release import AGENCY_LEADS_SQL, ReleaseResult, release_agency
from leadpool.errors import Conflict, InvalidInput, NotFound
from leadpool.limits import MAX_NAME
from leadpool.models import AGENCY_STATUSES, Agency
from leadpool.pool.locks import lock_leads_where


def get_agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"agency {agency_id} not found")
    return agency


def create_agency(session: Session, name: str) -> Agency:
    """Create an active agency; names are unique (the database refuses a second one)."""
    clean = name.strip()
    if not clean:
        raise InvalidInput("agency name: must not be empty")
    if len(clean) > MAX_NAME:
        raise InvalidInput(f"agency name: at most {MAX_NAME} characters (got {len(clean):,})")
    agency_id = session.execute(
        insert(Agency)
        .values(name=clean, status="active")
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(Agency.id)
    ).scalar_one_or_none()
    if agency_id is None:
        raise Conflict(f"agency name {clean!r} is already taken")
    return get_agency(session, agency_id)


def list_agencies(session: Session, status: str | None = None) -> list[Agency]:
    if status is not None and status not in AGENCY_STATUSES:
        raise InvalidInput(f"status: {status!r} is not one of {', '.join(AGENCY_STATUSES)}")
    stmt = select(Agency).order_by(Agency.id)
    if status:
        stmt = stmt.where(Agency.status == status)
    return list(session.scalars(stmt))


def cancel_agency(
    session: Session, agency_id: int, *, at: datetime | None = None, actor: str = "admin"
) -> ReleaseResult:
    """Cancel an active agency: pause its campaigns, end its enrollments, release its leads.

    Converted leads stay owned by the agency for good; released leads are quarantined (see
    :func:`leadpool.allocation.release.release_agency`).
    """
    at = at or datetime.now(UTC)
    # the lock order (leads, then campaigns, then the agency: allocation locks a campaign before
    # its agency, events a lead before a campaign), so none of them deadlocks with a cancel
    lock_leads_where(session, AGENCY_LEADS_SQL, {"a": agency_id})
    session.execute(
        text("SELECT id FROM campaigns WHERE agency_id = :a ORDER BY id FOR NO KEY UPDATE"), {"a": agency_id}
    )
    done = session.execute(
        update(Agency)
        .where(Agency.id == agency_id, Agency.status == "active")
        .values(status="cancelled", cancelled_at=at, updated_at=at)
        .returning(Agency.id)
    ).scalar_one_or_none()
    if done is None:
        agency = get_agency(session, agency_id)
        raise Conflict(f"agency {agency_id} is already {agency.status}")
    session.execute(
        text(
            "UPDATE campaigns SET status = 'paused', paused_reason = 'agency_cancelled', updated_at = :at "
            "WHERE agency_id = :a AND status = 'active'"
        ),
        {"a": agency_id, "at": at},
    )
    result = release_agency(session, agency_id, at=at, actor=actor, reason="agency cancelled")
    # its live reservations too: confirm_sent then refuses them, and they stop counting against
    # the leads' caps (their counter rows over-count until the gate's exact recount near a cap,
    # never under-count)
    session.execute(
        text(
            "UPDATE touches SET state = 'cancelled', ended_at = :at "
            "WHERE agency_id = :a AND state = 'reserved' AND expires_at > :at"
        ),
        {"a": agency_id, "at": at},
    )
    session.expire_all()
    return result


def reactivate_agency(session: Session, agency_id: int, *, at: datetime | None = None) -> Agency:
    """Make a cancelled agency active again. Its released leads are NOT given back; its campaigns
    stay paused until resumed."""
    at = at or datetime.now(UTC)
    done = session.execute(
        update(Agency)
        .where(Agency.id == agency_id, Agency.status == "cancelled")
        .values(status="active", cancelled_at=None, updated_at=at)
        .returning(Agency.id)
    ).scalar_one_or_none()
    if done is None:
        agency = get_agency(session, agency_id)
        raise Conflict(f"agency {agency_id} is already {agency.status}")
    session.expire_all()
    return get_agency(session, agency_id)
