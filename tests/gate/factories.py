"""Direct inserts for gate tests: agencies, campaigns, companies, leads, ownerships, enrollments.

The gate only reads these tables, so tests build exactly the rows they need without going through
the allocation services (which have their own tests).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from leadpool.models import Agency, Campaign, Company, Enrollment, Lead, Ownership

_seq = itertools.count(1)


def agency(session: Session, *, status: str = "active", gate: dict[str, Any] | None = None) -> int:
    n = next(_seq)
    return int(
        session.execute(
            insert(Agency)
            .values(name=f"agency-{n}", status=status, settings={"gate": gate} if gate else None)
            .returning(Agency.id)
        ).scalar_one()
    )


def campaign(
    session: Session,
    agency_id: int,
    *,
    channels: tuple[str, ...] = ("email", "linkedin", "sms", "phone"),
    status: str = "active",
    paused_reason: str | None = None,
    gate: dict[str, Any] | None = None,
) -> int:
    n = next(_seq)
    return int(
        session.execute(
            insert(Campaign)
            .values(
                agency_id=agency_id,
                name=f"campaign-{n}",
                status=status,
                channels=list(channels),
                icp={},
                daily_quota=100,
                paused_reason=paused_reason,
                settings={"gate": gate} if gate else None,
            )
            .returning(Campaign.id)
        ).scalar_one()
    )


def company(session: Session) -> int:
    n = next(_seq)
    return int(
        session.execute(
            insert(Company).values(domain=f"company-{n}.example").returning(Company.id)
        ).scalar_one()
    )


def lead(
    session: Session,
    *,
    company_id: int | None = None,
    time_zone: str | None = "America/New_York",
    email: str | None = "default",
    email_status: str | None = "verified",
    phone: str | None = "+12125550100",
    linkedin_url: str | None = "default",
    **state: Any,
) -> int:
    n = next(_seq)
    values: dict[str, Any] = {
        "company_id": company_id,
        "time_zone": time_zone,
        "email": f"person{n}@example.com" if email == "default" else email,
        "email_status": email_status,
        "phone": phone,
        "linkedin_url": f"https://www.linkedin.com/in/person-{n}"
        if linkedin_url == "default"
        else linkedin_url,
        **state,
    }
    return int(session.execute(insert(Lead).values(**values).returning(Lead.id)).scalar_one())


def own(session: Session, lead_id: int, agency_id: int) -> None:
    session.execute(insert(Ownership).values(lead_id=lead_id, agency_id=agency_id))


def enroll(session: Session, lead_id: int, campaign_id: int, agency_id: int) -> int:
    return int(
        session.execute(
            insert(Enrollment)
            .values(lead_id=lead_id, campaign_id=campaign_id, agency_id=agency_id)
            .returning(Enrollment.id)
        ).scalar_one()
    )


def set_lead(session: Session, lead_id: int, **values: Any) -> None:
    session.execute(update(Lead).where(Lead.id == lead_id).values(**values))


def set_campaign(session: Session, campaign_id: int, **values: Any) -> None:
    session.execute(update(Campaign).where(Campaign.id == campaign_id).values(**values))


def set_agency(session: Session, agency_id: int, **values: Any) -> None:
    session.execute(update(Agency).where(Agency.id == agency_id).values(**values))


class World:
    """One agency with one active campaign on every channel, and helpers to add owned, enrolled leads."""

    def __init__(
        self,
        session: Session,
        *,
        agency_gate: dict[str, Any] | None = None,
        campaign_gate: dict[str, Any] | None = None,
    ) -> None:
        self.session = session
        self.agency_id = agency(session, gate=agency_gate)
        self.campaign_id = campaign(session, self.agency_id, gate=campaign_gate)
        self.company_id = company(session)

    def lead(self, **kw: Any) -> int:
        kw.setdefault("company_id", self.company_id)
        lid = lead(self.session, **kw)
        own(self.session, lid, self.agency_id)
        enroll(self.session, lid, self.campaign_id, self.agency_id)
        return lid


# Monday 2026-03-02 15:00 UTC = 10:00 in New York, 15:00 in London: every window is open.
MONDAY_OPEN = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
