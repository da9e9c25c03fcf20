"""Leads: one row per real person, deduplicated across Apollo person id, email and LinkedIn URL.

The columns fall in three groups: identity (unique, normalised), every scalar of Apollo's person
object (typed), and contact state that the gate and allocation read on their hot paths (written
only by events, erasure and release, never by imports).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base, TimestampMixin


class Lead(TimestampMixin, Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    # identity, normalised; each one alone is enough to recognise the person again
    apollo_id: Mapped[str | None] = mapped_column(Text, unique=True)
    email: Mapped[str | None] = mapped_column(
        Text, unique=True
    )  # lower-case, validated, never the placeholder
    linkedin_url: Mapped[str | None] = mapped_column(Text, unique=True)  # https://www.linkedin.com/in/<slug>
    phone: Mapped[str | None] = mapped_column(Text)  # E.164, the best number for sms/phone

    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))

    # Apollo person scalars
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    headline: Mapped[str | None] = mapped_column(Text)
    email_status: Mapped[str | None] = mapped_column(
        Text
    )  # open string: verified, extrapolated, guessed, ...
    extrapolated_email_confidence: Mapped[float | None] = mapped_column(Float)
    email_domain_catchall: Mapped[bool | None] = mapped_column(Boolean)
    photo_url: Mapped[str | None] = mapped_column(Text)
    twitter_url: Mapped[str | None] = mapped_column(Text)
    github_url: Mapped[str | None] = mapped_column(Text)
    facebook_url: Mapped[str | None] = mapped_column(Text)
    organization_id: Mapped[str | None] = mapped_column(Text)  # Apollo organization id as received
    street_address: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(Text)
    formatted_address: Mapped[str | None] = mapped_column(Text)
    time_zone: Mapped[str | None] = mapped_column(Text)  # IANA; Apollo's, else derived from the location
    time_zone_source: Mapped[str | None] = mapped_column(Text)  # apollo | city | state | country | guess
    seniority: Mapped[str | None] = mapped_column(Text)
    departments: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    subdepartments: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    functions: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    intent_strength: Mapped[str | None] = mapped_column(Text)
    show_intent: Mapped[bool | None] = mapped_column(Boolean)
    revealed_for_current_team: Mapped[bool | None] = mapped_column(Boolean)
    is_likely_to_engage: Mapped[bool | None] = mapped_column(Boolean)
    excluded_for_leadgen: Mapped[bool | None] = mapped_column(Boolean)
    hashed_email: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[str | None] = mapped_column(Text)
    account: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    contact_id: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    employment_history: Mapped[list[Any] | None] = mapped_column(JSONB)
    phone_numbers: Mapped[list[Any] | None] = mapped_column(JSONB)
    personal_emails: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # the addresses imports moved ``email`` away from, oldest first (the last ten): an opt-out
    # from one still finds the person
    previous_emails: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # keys not known when this was written
    source: Mapped[str | None] = mapped_column(Text)  # how the newest data arrived: api, jsonl, csv
    enriched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # age of the data

    # contact state (events, erasure, release); read by the gate and by allocation
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reply_category: Mapped[str | None] = mapped_column(Text)
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    complained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wrong_person_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_bounced_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )  # for the current email
    blocklisted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cooling_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    quarantine_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # contact memory: no campaign of any agency enrolls or touches the lead before this (the latest
    # rest started by an enrollment that ended without a reply; see models/contact_memory.py)
    rest_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_leads_company_id", "company_id"),
        Index("ix_leads_seniority", "seniority"),
        Index("ix_leads_country", "country"),
        Index("ix_leads_email_status", "email_status"),
        Index("ix_leads_departments", "departments", postgresql_using="gin"),
        # an opt-out sent from a personal email finds its lead (events.effects.address_holders)
        Index(
            "ix_leads_personal_emails",
            "personal_emails",
            postgresql_using="gin",
            postgresql_where=text("personal_emails IS NOT NULL"),
        ),
        Index(
            "ix_leads_previous_emails",
            "previous_emails",
            postgresql_using="gin",
            postgresql_where=text("previous_emails IS NOT NULL"),
        ),
        # allocation scans only people nobody has ruled out; a partial index keeps that cheap
        Index(
            "ix_leads_contactable",
            "company_id",
            postgresql_where=text(
                "erased_at IS NULL AND unsubscribed_at IS NULL AND complained_at IS NULL "
                "AND converted_at IS NULL"
            ),
        ),
    )
