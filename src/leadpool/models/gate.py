"""The gate's counter rows: touches per (scope, key, day) for the company, sender and agency caps."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base

GATE_COUNTER_SCOPES = ("company", "sender", "agency")


class GateCounter(Base):
    """An upper bound on the live touches of one cap scope on one day.

    ``n`` is raised by one (conditionally, ``n < cap``) for every reservation and lowered on cancel;
    expired reservations are not subtracted, so ``n`` may over-count. When ``n`` reaches the cap the
    gate recounts the live touches exactly (holding this row's lock) and writes the true value back.
    The row lock is what serialises competing reservations of one scope.
    """

    __tablename__ = "gate_counters"

    scope: Mapped[str] = mapped_column(Text, primary_key=True)  # company | sender | agency
    key: Mapped[str] = mapped_column(Text, primary_key=True)  # company id | channel:sender | agency:channel
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # lead-local day (company), else UTC day
    n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("scope IN ('company', 'sender', 'agency')", name="scope"),
        CheckConstraint("n >= 0", name="n"),
    )


class GateTimeZone(Base):
    """An IANA zone both Python's zoneinfo and this PostgreSQL server know (filled by migration 0009).

    The single check's fast path (``gate_fast_check``) reads a lead's local time only in a zone
    listed here; any other zone goes to the full check, so a missing row costs speed, not answers.
    """

    __tablename__ = "gate_time_zones"

    name: Mapped[str] = mapped_column(Text, primary_key=True)


SENDER_PAUSE_REASONS = (
    "sender_bounce_guard",
    "sender_complaint_guard",
    "sender_block_guard",
    "domain_bounce_guard",
    "domain_complaint_guard",
)


class SenderPause(Base):
    """A sending account the gate lets no touch use: its bounces, spam complaints or policy blocks
    say its reputation is failing (``leadpool.events.senders``). ``until`` null: until someone
    resumes it; else it ends by itself. One row per sender; a resume deletes it. A row keyed
    ``domain:DOMAIN`` pauses every mailbox at that sending domain (``leadpool.events.sending_domains``)."""

    __tablename__ = "sender_pauses"

    sender: Mapped[str] = mapped_column(Text, primary_key=True)  # channel:sender, as the counters key it
    reason: Mapped[str] = mapped_column(Text)
    paused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the causing event's time
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cause_event_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    __table_args__ = (
        CheckConstraint(
            "reason IN ('sender_bounce_guard', 'sender_complaint_guard', 'sender_block_guard', "
            "'domain_bounce_guard', 'domain_complaint_guard')",
            name="reason",
        ),
    )


class SenderClaim(Base):
    """The agency a sending account (``channel:sender``) or an email sending domain
    (``domain:DOMAIN``) belongs to. A sender's caps, guards and pauses are the platform's, one per
    account, so another agency naming it in its checks would spend its cap and could pause it.
    The first agency to name one in a check over the API claims it; the operators move or free a
    claim (``leadpool.gate.sender_claims``)."""

    __tablename__ = "sender_claims"

    sender: Mapped[str] = mapped_column(Text, primary_key=True)  # as sender_pauses keys it
    # null: shared, nobody's (several agencies used it before claims, or an operator said so)
    agency_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("agencies.id", ondelete="CASCADE"))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_sender_claims_agency_id", "agency_id"),)
