"""Outreach events (bounces, complaints, unsubscribes, replies, conversions), suppressions and audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Text, UniqueConstraint, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(
        Text
    )  # hard_bounce, soft_bounce, complaint, unsubscribe, reply, converted...
    lead_id: Mapped[int | None] = mapped_column(BigInteger)
    # the address the event was about, kept only as a keyed hash so erasure needs no rewrite here
    address_type: Mapped[str | None] = mapped_column(Text)  # email | phone | linkedin
    address_hmac: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    source: Mapped[str] = mapped_column(Text)  # sendgrid, mailgun, ..., api, cli
    provider_event_id: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)  # reply category
    text: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(Text)
    touch_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # smtp code, bounce class, provider payload
    # the agency that reported it with its own API key (None: a provider's webhook, the platform)
    reported_by_agency_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("source", "provider_event_id", name="uq_events_source_provider_event_id"),
        Index("ix_events_lead_id_occurred_at", "lead_id", "occurred_at"),
        Index("ix_events_address_hmac", "address_hmac"),
        # an agency's hard bounces over a time window, through its campaigns (the dashboard)
        Index(
            "ix_events_campaign_id_hard_bounce",
            "campaign_id",
            "occurred_at",
            postgresql_where=sql_text("type = 'hard_bounce'"),
        ),
        # the sends' bounces and complaints of a recent window (the sending-domain guard's sweep)
        Index(
            "ix_events_bad_sends_occurred_at",
            "occurred_at",
            postgresql_where=sql_text(
                "touch_id IS NOT NULL AND type IN ('hard_bounce', 'soft_bounce', 'complaint')"
            ),
        ),
    )


class Suppression(Base):
    """A permanent "never" for an address, kept as an HMAC so it survives erasure of the person."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)  # unsubscribed, complained, email_bounced, erased, blocklisted
    address_type: Mapped[str] = mapped_column(Text)  # email | phone | linkedin
    value_hmac: Mapped[str] = mapped_column(Text)
    lead_id: Mapped[int | None] = mapped_column(BigInteger)
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("kind", "address_type", "value_hmac", name="uq_suppressions_kind_address"),
        Index("ix_suppressions_value_hmac", "value_hmac"),
    )


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)  # e.g. lead.erase
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    # a lead's timeline reads its rows in time order; the guards read a subject's newest one
    __table_args__ = (Index("ix_audit_log_subject", "subject_type", "subject_id", "at", "id"),)


class PlatformKey(Base):
    """The fingerprint of a platform secret (``secret_key``): the first key used wins, and a
    process holding another refuses to run (its hashes would not match the stored ones)."""

    __tablename__ = "platform_keys"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DomainBlock(Base):
    """Nobody at ``domain`` is contacted: by anyone (``agency_id`` null, the platform's list) or by
    one agency (its own list: its clients, its partners). A lead is at a domain when its email's
    domain, a parent of it, or its company's domain is that domain (``leadpool.privacy.domains``)."""

    __tablename__ = "domain_blocks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(Text)  # normalised: lower-case, Unicode form, no www
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("uq_domain_blocks_agency_domain", sql_text("coalesce(agency_id, 0)"), "domain", unique=True),
        Index("ix_domain_blocks_domain", "domain"),
    )


class DeadDomain(Base):
    """A recipient domain that accepts no mail: a permanent bounce said so (SMTP 5.1.2 "bad
    destination system", 5.1.10 null MX). The gate sends no email to any address at ``domain``
    until ``until`` (``leadpool.events.dead_domains``); other channels stay open. One row per
    domain, in the form lead emails store it; a later such bounce moves ``until`` on."""

    __tablename__ = "dead_domains"

    domain: Mapped[str] = mapped_column(Text, primary_key=True)
    smtp_status: Mapped[str] = mapped_column(Text)  # of the bounce that last moved ``until``
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the first such bounce
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cause_event_id: Mapped[int] = mapped_column(BigInteger)  # the bounce that last moved ``until``
    bounces: Mapped[int] = mapped_column(BigInteger, server_default="1")  # how many said so
