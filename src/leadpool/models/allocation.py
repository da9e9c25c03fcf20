"""Allocation's own tables: company-level exclusivity, refill job bookkeeping and the answers
to allocations asked under an idempotency key.

Also declares the extra indexes allocation needs on core tables (same metadata, created by the
0003_allocation migration).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base
from leadpool.models.company import Company
from leadpool.models.lead import Lead
from leadpool.models.ownership import Enrollment

REFILL_STATUSES = ("queued", "running", "done", "failed", "stopped_by_budget")


class CompanyOwner(Base):
    """With company exclusivity, the agency that owns a company: one row per company (primary key)."""

    __tablename__ = "company_owners"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    first_lead_id: Mapped[int | None] = mapped_column(BigInteger)  # the person that claimed it

    __table_args__ = (Index("ix_company_owners_agency_id", "agency_id"),)


class RefillJob(Base):
    """One refill of a campaign's shortfall: our view of a procrastinate job, with credits spent."""

    __tablename__ = "refill_jobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # 'campaign': a campaign's shortfall; 'reenrich': buying known leads again (insights), no campaign
    kind: Mapped[str] = mapped_column(Text, default="campaign", server_default="campaign")
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    procrastinate_job_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default="queued", server_default="queued")
    requested: Mapped[int] = mapped_column(Integer)  # the shortfall to fill
    enriched: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    allocated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credits_consumed: Mapped[Decimal] = mapped_column(Numeric, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    search_params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    lead_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))  # kind 'reenrich': whom to buy
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'stopped_by_budget')", name="status"
        ),
        CheckConstraint("requested >= 0", name="requested"),
        CheckConstraint("kind IN ('campaign', 'reenrich')", name="kind"),
        CheckConstraint(
            "(kind = 'campaign' AND campaign_id IS NOT NULL AND agency_id IS NOT NULL) "
            "OR (kind = 'reenrich' AND campaign_id IS NULL AND lead_ids IS NOT NULL)",
            name="kind_target",
        ),
        Index("ix_refill_jobs_campaign_id_status", "campaign_id", "status"),
        Index("ix_refill_jobs_started_at", "started_at"),
        Index("ix_refill_jobs_agency_id_id", "agency_id", "id"),  # an agency's newest jobs
    )


class AllocationRequest(Base):
    """An allocation asked under an idempotency key, and its answer. The primary key is the claim:
    a retry under the same key on the same campaign waits for the first call's transaction and
    replays its answer instead of allocating again (``leadpool.allocation.idempotency``)."""

    __tablename__ = "allocation_requests"

    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    idempotency_key: Mapped[str] = mapped_column(Text, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)  # as asked, before the daily quota's cap
    # AllocationResult.to_json(); null only inside the transaction that claims the key, which
    # writes it before it commits
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # the database's clock, not the allocation's ``at``: retention is about retries in real time
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("count >= 0", name="count"),
        CheckConstraint("length(idempotency_key) BETWEEN 1 AND 200", name="idempotency_key"),
        Index("ix_allocation_requests_created_at", "created_at"),  # retention, oldest first
    )


class RefillHold(Base):
    """A lead a refill job bought for its campaign, held for that campaign until the job allocates
    it (or ``held_until``): the pool's other campaigns do not take it meanwhile. Written in the
    import batch that stores the lead, deleted when the job finishes."""

    __tablename__ = "refill_holds"

    lead_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"))
    refill_job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("refill_jobs.id", ondelete="CASCADE"))
    # a worker that died with the job must not hold the leads for good
    held_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_refill_holds_refill_job_id", "refill_job_id"),)


# Indexes allocation needs on core tables. The daily quota counts today's enrollments of a
# campaign; ICP filters compare industry and country case-insensitively.
Index("ix_enrollments_campaign_id_enrolled_at", Enrollment.campaign_id, Enrollment.enrolled_at)
Index("ix_companies_lower_industry", func.lower(Company.industry))
Index("ix_leads_lower_country", func.lower(Lead.country))

# The allocation rank of a lead, kept by PostgreSQL itself (a generated column, so no writer can
# forget it): 10 for a verified email (verified first), else 2 / 1 for an extrapolated confidence
# >= 0.9 / 0.7; plus 1 per address the lead has (email, LinkedIn, phone). Candidates are read in
# (alloc_rank DESC, enriched_at DESC, id) order from an index limited to leads nobody has ruled
# out, so allocating N leads walks about N / (ICP selectivity) index entries and stops, however
# large the pool. Declared here (not in lead.py) because allocation owns it; the ORM Lead class
# does not map it, Core queries read it as ``leads.c.alloc_rank``.
ALLOC_RANK_SQL = (
    "CASE WHEN email_status = 'verified' THEN 10 "
    "WHEN extrapolated_email_confidence >= 0.9 THEN 2 "
    "WHEN extrapolated_email_confidence >= 0.7 THEN 1 ELSE 0 END "
    "+ (CASE WHEN email IS NOT NULL THEN 1 ELSE 0 END) "
    "+ (CASE WHEN linkedin_url IS NOT NULL THEN 1 ELSE 0 END) "
    "+ (CASE WHEN phone IS NOT NULL THEN 1 ELSE 0 END)"
)
# Leads in the index: nobody has ruled them out and nobody owns them. ``leads.owned`` mirrors
# "has an ownerships row"; triggers on ownerships keep it in the same transaction (see the
# 0003_allocation migration), so taken leads leave the index and the next allocation does not
# walk past every lead handed out before. The ownerships primary key stays the guarantee.
NOT_RULED_OUT_SQL = (
    "erased_at IS NULL AND unsubscribed_at IS NULL AND complained_at IS NULL AND converted_at IS NULL "
    "AND blocklisted_at IS NULL AND replied_at IS NULL AND wrong_person_at IS NULL AND NOT owned"
)
_leads = cast(Table, Lead.__table__)
_leads.append_column(Column("alloc_rank", SmallInteger, Computed(ALLOC_RANK_SQL, persisted=True)))
_leads.append_column(Column("owned", Boolean, nullable=False, server_default=text("false")))
Index(
    "ix_leads_alloc_rank",
    _leads.c.alloc_rank.desc(),
    _leads.c.enriched_at.desc().nulls_last(),
    _leads.c.id,
    postgresql_where=text(NOT_RULED_OUT_SQL),
)
