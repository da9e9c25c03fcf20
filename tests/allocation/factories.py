"""Test data written straight to the tables (the importer is tested elsewhere)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from leadpool.allocation.agencies import create_agency
from leadpool.allocation.campaigns import activate_campaign, create_campaign
from leadpool.models import Company, Lead

_seq = itertools.count(1)
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def make_company(session: Session, **fields: Any) -> int:
    n = next(_seq)
    values: dict[str, Any] = {
        "name": f"Company {n}",
        "domain": f"company{n}.example.com",
        "industry": "construction",
        "estimated_num_employees": 120,
    }
    values.update(fields)
    return int(session.execute(insert(Company).values(**values).returning(Company.id)).scalar_one())


def make_leads(session: Session, count: int, **fields: Any) -> list[int]:
    """``count`` leads, verified email by default; ``fields`` apply to all of them."""
    rows = []
    for _ in range(count):
        n = next(_seq)
        row: dict[str, Any] = {
            "email": f"person{n}@example.com",
            "email_status": "verified",
            "first_name": f"P{n}",
            "title": "Chief Executive Officer",
            "seniority": "c_suite",
            "country": "United States",
            "enriched_at": NOW,
        }
        row.update(fields)
        rows.append(row)
    if not rows:
        return []
    return [int(x) for x in session.execute(insert(Lead).returning(Lead.id), rows).scalars()]


def make_agency(session: Session, name: str | None = None) -> int:
    return create_agency(session, name or f"Agency {next(_seq)}").id


def make_campaign(
    session: Session,
    agency_id: int,
    *,
    icp: dict[str, Any] | None = None,
    daily_quota: int = 1000,
    channels: str = "email",
    active: bool = True,
) -> int:
    c = create_campaign(
        session,
        agency_id=agency_id,
        name=f"Campaign {next(_seq)}",
        channels=channels,
        icp=icp if icp is not None else {"industries": ["construction"]},
        daily_quota=daily_quota,
    )
    if active:
        activate_campaign(session, c.id)
    return c.id
