"""Consent: where the law wants it before a channel is used, the person's permission to one agency.

Cold B2B outreach rests on legitimate interest in most places, but not everywhere: Germany wants
prior consent even for B2B email, Canada's CASL express or implied consent for any commercial
electronic message (the compliance reference). The gate's policy names, per channel, the
countries where a touch needs a consent row (``consent_required``); ``leadpool.privacy.consent``
records and revokes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base

CONSENT_BASES = ("express", "implied")


class Consent(Base):
    """One permission: ``lead_id`` agreed to be contacted by ``agency_id`` on ``channel`` (null:
    every channel) from ``granted_at`` until ``expires_at`` (null: until revoked). Rows are never
    updated but to revoke them, so the history of who said what stays."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    channel: Mapped[str | None] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)  # express | implied (CASL's two kinds)
    source: Mapped[str] = mapped_column(Text)  # where it was given: a form, a call, a reply
    evidence: Mapped[str | None] = mapped_column(Text)  # a reference to the proof, kept for audits
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "channel IS NULL OR channel IN ('email', 'linkedin', 'sms', 'phone')", name="channel"
        ),
        CheckConstraint("basis IN ('express', 'implied')", name="basis"),
        CheckConstraint("expires_at IS NULL OR expires_at > granted_at", name="expiry"),
        Index("ix_consents_lead_agency", "lead_id", "agency_id"),
        Index("ix_consents_agency_id", "agency_id"),
    )


class CountryName(Base):
    """A spelling of a country (lower-case name, ISO alpha-2 or alpha-3 code) and its alpha-2 code:
    the gate reads a lead's ``country`` through it (filled by migration 0035 from the same
    dataset ingestion reads locations with)."""

    __tablename__ = "country_names"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    code: Mapped[str] = mapped_column(Text)


class CountryClock(Base):
    """One clock a country's places keep, named by the zone of its most populous city on it
    (``rank`` 0 the most populous): the gate opens the window of a lead whose own zone is
    unknown only while it is open on every clock of its country (filled by migration 0036)."""

    __tablename__ = "country_clocks"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    zone: Mapped[str] = mapped_column(Text, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)


class PhonePrefixClock(Base):
    """A number prefix libphonenumber maps to time zones (digits of E.164 without ``+``), with one
    zone per clock of it; empty when it names no place (a country-wide mobile range). The gate
    opens a text's or call's window only while it is open on the clocks of the longest prefix of
    the lead's number as well (filled by migration 0037)."""

    __tablename__ = "phone_prefix_clocks"

    prefix: Mapped[str] = mapped_column(Text, primary_key=True)
    zones: Mapped[list[str]] = mapped_column(ARRAY(Text))


class PhonePrefixRegion(Base):
    """A number prefix (digits of E.164 without ``+``) and the country (ISO alpha-2) it places the
    number in, as libphonenumber reads it. Where a lead's own country is unknown, the gate reads
    its number's (the longest prefix wins) for the consent rule and the send windows' clocks
    (filled by migration 0040)."""

    __tablename__ = "phone_prefix_regions"

    prefix: Mapped[str] = mapped_column(Text, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
