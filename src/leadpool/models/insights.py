"""Insights' own tables: outcome facts per sent touch, event attribution, watermarks, lead scores.

Also declares ``leads.insight_score`` and the allocation index that orders by it (see
docs/insights.md: the score refines allocation's rank as a tie-break inside each ``alloc_rank``).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base
from leadpool.models.lead import Lead


class InsightFact(Base):
    """One sent touch with its outcomes and the lead's segment as it was when the fact was made."""

    __tablename__ = "insight_facts"

    touch_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigInteger)
    agency_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(Text)
    sequence_position: Mapped[int | None] = mapped_column(SmallInteger)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    local_hour: Mapped[int] = mapped_column(SmallInteger)  # 0-23 in the lead's time zone (UTC if unknown)
    local_weekday: Mapped[int] = mapped_column(SmallInteger)  # ISO: 1 = Monday ... 7 = Sunday
    industry: Mapped[str] = mapped_column(Text)
    seniority: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)  # the lead's first department
    size_band: Mapped[str] = mapped_column(Text)
    revenue_band: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(Text)
    email_status: Mapped[str] = mapped_column(Text)
    data_age_band: Mapped[str] = mapped_column(Text)  # enriched_at -> sent_at
    bounced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    replied: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    reply_category: Mapped[str | None] = mapped_column(Text)
    positive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    unsubscribed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    complained: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    converted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_insight_facts_lead_id", "lead_id"),
        Index("ix_insight_facts_agency_id", "agency_id"),
        Index("ix_insight_facts_sent_at", "sent_at"),
    )


class InsightEventLink(Base):
    """Which touch an event was attributed to (its own touch_id, else the lead's latest sent or
    reserved touch before it); kept so a refresh recomputes a touch's outcomes without rescanning."""

    __tablename__ = "insight_event_links"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    touch_id: Mapped[int] = mapped_column(BigInteger)
    # linked by time to a touch not sent yet: settled by a later refresh (kept once it is sent,
    # made again once it ended unsent)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    __table_args__ = (
        Index("ix_insight_event_links_touch_id", "touch_id"),
        Index("ix_insight_event_links_provisional", "event_id", postgresql_where=text("provisional")),
    )


class InsightWatermark(Base):
    """How far a refresh has read a source table (``touches`` or ``events``) by id."""

    __tablename__ = "insight_watermarks"

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("source IN ('touches', 'events')", name="source"),)


class LeadScore(Base):
    """Expected positive-reply probability of one touch to a lead on a channel, from a segment model."""

    __tablename__ = "lead_scores"

    lead_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 1", name="score"),
        CheckConstraint("channel IN ('email', 'linkedin', 'sms', 'phone')", name="channel"),
    )


# The lead's best score over the channels it is reachable on, copied onto the lead so allocation
# can read candidates in (alloc_rank, insight_score, freshness, id) order from one index, as it
# reads alloc_rank today: allocating N leads still walks about N / selectivity entries.
_leads = cast(Table, Lead.__table__)
_leads.append_column(Column("insight_score", Float))
INSIGHT_RANK_WHERE = (
    "erased_at IS NULL AND unsubscribed_at IS NULL AND complained_at IS NULL AND converted_at IS NULL "
    "AND blocklisted_at IS NULL AND replied_at IS NULL AND wrong_person_at IS NULL AND NOT owned"
)
Index(
    "ix_leads_insight_rank",
    _leads.c.alloc_rank.desc(),
    _leads.c.insight_score.desc().nulls_last(),
    _leads.c.enriched_at.desc().nulls_last(),
    _leads.c.id,
    postgresql_where=text(INSIGHT_RANK_WHERE),
)
