"""Touches (reserved, sent, cancelled, expired) and the audit of every gate decision."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, DateTime, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base

TOUCH_STATES = ("reserved", "sent", "cancelled", "expired")


class Touch(Base):
    __tablename__ = "touches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigInteger)
    company_id: Mapped[int | None] = mapped_column(BigInteger)
    agency_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, default="reserved", server_default="reserved")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # when the touch happens (reservation time)
    local_date: Mapped[date] = mapped_column(Date)  # calendar day in the lead's time zone (UTC if unknown)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # cancelled or expired
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    sequence_position: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("state IN ('reserved', 'sent', 'cancelled', 'expired')", name="state"),
        CheckConstraint("channel IN ('email', 'linkedin', 'sms', 'phone')", name="channel"),
        Index("ix_touches_lead_id_at", "lead_id", "at"),
        Index("ix_touches_company_id_at", "company_id", "at"),
        Index("ix_touches_sender_at", "sender", "at"),
        Index("ix_touches_agency_id_channel_at", "agency_id", "channel", "at"),
        Index("ix_touches_campaign_id_at", "campaign_id", "at"),
        Index("ix_touches_provider_message_id", "provider_message_id"),
        Index("ix_touches_reserved_expires_at", "expires_at", postgresql_where=text("state = 'reserved'")),
    )


# The bounce guard's "last N sent emails of the campaign", in its own order (0016_scale_indexes).
Index(
    "ix_touches_campaign_id_email_sent",
    Touch.campaign_id,
    Touch.sent_at.desc().nulls_last(),
    Touch.id.desc(),
    postgresql_where=text("channel = 'email' AND state = 'sent'"),
)


class Decision(Base):
    """One row per gate check: the answer, every reason, and the touch it reserved."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lead_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    agency_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(Text)
    allowed: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[Any]] = mapped_column(JSONB)  # [{code, message, retry_after}]
    touch_id: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_decisions_lead_id_at", "lead_id", "at"),
        Index("ix_decisions_at", "at"),
        # one campaign's / agency's decisions over a time window (the dashboard)
        Index("ix_decisions_campaign_id_at", "campaign_id", "at"),
        Index("ix_decisions_agency_id_at", "agency_id", "at"),
        # the retention job's oldest denials first (allows are kept, and would be walked past)
        Index("ix_decisions_denied_at", "at", postgresql_where=text("NOT allowed")),
        Index(
            "uq_decisions_agency_id_idempotency_key",
            "agency_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )
