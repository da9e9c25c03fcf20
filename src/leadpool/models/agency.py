"""Agencies (tenants) and their campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base, TimestampMixin

AGENCY_STATUSES = ("active", "cancelled")
CAMPAIGN_STATUSES = ("draft", "active", "paused", "finished")
CHANNELS = ("email", "linkedin", "sms", "phone")


class Agency(TimestampMixin, Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, default="active", server_default="active")
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    api_key_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # policy overrides for this agency

    __table_args__ = (CheckConstraint("status IN ('active', 'cancelled')", name="status"),)


class Campaign(TimestampMixin, Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="draft", server_default="draft")
    channels: Mapped[list[str]] = mapped_column(ARRAY(Text))
    icp: Mapped[dict[str, Any]] = mapped_column(JSONB)  # a validated ICP filter, stored as its JSON
    daily_quota: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # policy overrides for this campaign
    paused_reason: Mapped[str | None] = mapped_column(Text)  # e.g. campaign_bounce_guard
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'paused', 'finished')", name="status"),
        CheckConstraint("channels <@ ARRAY['email','linkedin','sms','phone']::text[]", name="channels"),
        CheckConstraint("daily_quota >= 0", name="daily_quota"),
        Index("ix_campaigns_agency_id", "agency_id"),
    )
