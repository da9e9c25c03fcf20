"""Contact memory: rest periods between enrollments and company pauses after a colleague answered.

``leads.rest_until`` (declared in lead.py) is the hot-path value the gate and allocation read;
``rest_periods`` keeps why and when each rest started so the timelines can explain it.
``company_pauses`` is read by the gate directly (index on ``(company_id, until)``): the longest
pause not caused by the lead being checked wins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base

REST_REASONS = ("sequence_finished", "removed", "campaign_finished", "agency_cancelled")
COMPANY_PAUSE_KINDS = ("interested", "other", "not_interested", "unsubscribe", "complaint")


class RestPeriod(Base):
    """One enrollment that ended without a reply, and the rest it started."""

    __tablename__ = "rest_periods"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    agency_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "reason IN ('sequence_finished', 'removed', 'campaign_finished', 'agency_cancelled')",
            name="reason",
        ),
        Index("ix_rest_periods_lead_id_until", "lead_id", "until"),
    )


class CompanyPause(Base):
    """Automated touches to the company's people, except ``lead_id`` (who caused it), wait until ``until``."""

    __tablename__ = "company_pauses"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(BigInteger)  # no FK: the pause outlives erasure
    kind: Mapped[str] = mapped_column(Text)
    cause_event_id: Mapped[int] = mapped_column(BigInteger, unique=True)  # one pause per event
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the event's occurred_at
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "kind IN ('interested', 'other', 'not_interested', 'unsubscribe', 'complaint')", name="kind"
        ),
        Index("ix_company_pauses_company_id_until", "company_id", "until"),
    )
