"""Builders for the rows events act on: agencies, campaigns, leads, ownerships, enrollments, touches."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count
from typing import Any

import pytest

from leadpool.db import Database, session_scope
from leadpool.models import Agency, Campaign, Enrollment, Lead, Ownership, Touch

T0 = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
_seq = count(1)


class World:
    """Creates committed rows and returns their ids."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def agency(self, name: str | None = None) -> int:
        with session_scope(self.db) as s:
            a = Agency(name=name or f"agency-{next(_seq)}")
            s.add(a)
            s.flush()
            return a.id

    def campaign(self, agency_id: int, channels: list[str] | None = None, status: str = "active") -> int:
        with session_scope(self.db) as s:
            c = Campaign(
                agency_id=agency_id,
                name=f"campaign-{next(_seq)}",
                status=status,
                channels=channels or ["email", "linkedin", "sms", "phone"],
                icp={},
                daily_quota=100,
            )
            s.add(c)
            s.flush()
            return c.id

    def lead(self, **kw: Any) -> int:
        n = next(_seq)
        values: dict[str, Any] = {
            "email": f"person{n}@example.com",
            "phone": f"+1303555{n % 10000:04d}",
            "linkedin_url": f"https://www.linkedin.com/in/person-{n}",
            "first_name": "Pat",
            "last_name": f"Person{n}",
            "email_status": "verified",
            "time_zone": "America/Denver",
        }
        values.update(kw)
        with session_scope(self.db) as s:
            lead = Lead(**values)
            s.add(lead)
            s.flush()
            return lead.id

    def own(self, lead_id: int, agency_id: int, campaign_id: int | None = None) -> None:
        with session_scope(self.db) as s:
            s.add(Ownership(lead_id=lead_id, agency_id=agency_id))
            if campaign_id is not None:
                s.add(Enrollment(lead_id=lead_id, campaign_id=campaign_id, agency_id=agency_id))

    def touch(
        self,
        lead_id: int,
        campaign_id: int,
        agency_id: int,
        *,
        channel: str = "email",
        state: str = "sent",
        message_id: str | None = None,
        sender: str | None = "agent@example.com",
        at: datetime = T0,
    ) -> int:
        with session_scope(self.db) as s:
            t = Touch(
                lead_id=lead_id,
                agency_id=agency_id,
                campaign_id=campaign_id,
                channel=channel,
                sender=sender,
                state=state,
                at=at,
                local_date=date(at.year, at.month, at.day),
                sent_at=at if state == "sent" else None,
                provider_message_id=message_id,
            )
            s.add(t)
            s.flush()
            return t.id


@pytest.fixture
def world(db: Database) -> World:
    return World(db)
