"""Who owns which lead, which campaign a lead is enrolled in, and the history of both.

The one-owner and one-active-enrollment rules are constraints of the database, so no interleaving
of requests can break them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base


class Ownership(Base):
    """The current owner of a lead: the primary key on lead_id makes ownership exclusive."""

    __tablename__ = "ownerships"

    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # sticky: never released

    __table_args__ = (Index("ix_ownerships_agency_id", "agency_id"),)


class Enrollment(Base):
    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    status: Mapped[str] = mapped_column(Text, default="active", server_default="active")
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('active', 'ended')", name="status"),
        # at most one active enrollment per lead, across every campaign
        Index(
            "uq_enrollments_active_lead", "lead_id", unique=True, postgresql_where=text("status = 'active'")
        ),
        Index("ix_enrollments_campaign_id_status", "campaign_id", "status"),
        # an agency's active enrollments (cancelling it): without it, every enrollment was read
        Index("ix_enrollments_agency_id_active", "agency_id", postgresql_where=text("status = 'active'")),
    )


class LeadHistory(Base):
    """Append-only: every change of ownership or enrollment, with who, when and why."""

    __tablename__ = "lead_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigInteger)  # no FK: history outlives erasure
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(Text)  # acquired, released, enrolled, unenrolled, converted, ...
    agency_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(Text)  # "allocation", "agency:12", "event:34", "admin"
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_lead_history_lead_id_at", "lead_id", "at"),)
