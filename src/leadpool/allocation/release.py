"""Release: an agency's leads go back to the pool, except converted ones, after a quarantine.

Everything a released lead carries (bounces, unsubscribes, cooling, rest, touches, history) stays
on the lead; only the ownership row goes. The ended enrollments start a rest period (see rest.py). ``quarantine_until`` only ever moves later, so a release never
shortens a quarantine set before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.allocation.rest import REST_CTES, rest_params
from leadpool.allocation.settings import get_allocation_settings
from leadpool.pool.locks import lock_leads_where

# the leads a release changes: its enrolled and its owned ones
AGENCY_LEADS_SQL = (
    "SELECT lead_id FROM enrollments WHERE agency_id = :a AND status = 'active' "
    "UNION SELECT lead_id FROM ownerships WHERE agency_id = :a"
)


@dataclass
class ReleaseResult:
    agency_id: int
    released_lead_ids: list[int] = field(default_factory=list)
    kept_converted: int = 0
    enrollments_ended: int = 0
    companies_released: int = 0
    quarantine_until: datetime | None = None


def release_agency(
    session: Session, agency_id: int, *, at: datetime, actor: str, reason: str
) -> ReleaseResult:
    """End every active enrollment of the agency and release its non-converted leads.

    A lead counts as converted when its ownership or the lead itself has ``converted_at``; such
    leads stay owned (and their companies stay claimed under company exclusivity).
    """
    quarantine_until = at + timedelta(days=get_allocation_settings().quarantine_days)
    params = {"a": agency_id, "at": at, "actor": actor}
    lock_leads_where(session, AGENCY_LEADS_SQL, {"a": agency_id})
    ended = session.execute(
        text(
            """
            WITH ended AS (
                UPDATE enrollments SET status = 'ended', ended_at = :at, end_reason = 'agency_cancelled'
                WHERE agency_id = :a AND status = 'active'
                RETURNING id, lead_id, campaign_id, agency_id
            )"""
            + REST_CTES
            + """, hist AS (
                INSERT INTO lead_history (lead_id, at, action, agency_id, campaign_id, actor, reason)
                SELECT lead_id, :at, 'unenrolled', :a, campaign_id, :actor, :reason FROM ended
            )
            SELECT count(*) FROM ended
            """
        ),
        params | {"reason": reason} | rest_params(at, "agency_cancelled"),
    ).scalar_one()
    released = (
        session.execute(
            text(
                """
                WITH gone AS (
                    DELETE FROM ownerships o USING leads l
                    WHERE o.lead_id = l.id AND o.agency_id = :a
                      AND o.converted_at IS NULL AND l.converted_at IS NULL
                    RETURNING o.lead_id
                ), quarantined AS (
                    UPDATE leads SET quarantine_until = greatest(quarantine_until, :q)
                    WHERE id IN (SELECT lead_id FROM gone)
                ), hist AS (
                    INSERT INTO lead_history (lead_id, at, action, agency_id, actor, reason)
                    SELECT lead_id, :at, 'released', :a, :actor, :reason FROM gone
                )
                SELECT lead_id FROM gone ORDER BY lead_id
                """
            ),
            params
            | {"q": quarantine_until, "reason": f"{reason}; quarantined until {quarantine_until:%Y-%m-%d}"},
        )
        .scalars()
        .all()
    )
    kept = session.execute(
        text("SELECT count(*) FROM ownerships WHERE agency_id = :a"), {"a": agency_id}
    ).scalar_one()
    companies = session.execute(
        text(
            """
            WITH gone AS (
                DELETE FROM company_owners co
                WHERE co.agency_id = :a AND NOT EXISTS (
                    SELECT 1 FROM ownerships o JOIN leads l ON l.id = o.lead_id
                    WHERE o.agency_id = :a AND l.company_id = co.company_id)
                RETURNING company_id
            )
            SELECT count(*) FROM gone
            """
        ),
        {"a": agency_id},
    ).scalar_one()
    return ReleaseResult(
        agency_id=agency_id,
        released_lead_ids=[int(x) for x in released],
        kept_converted=int(kept),
        enrollments_ended=int(ended),
        companies_released=int(companies),
        quarantine_until=quarantine_until,
    )
