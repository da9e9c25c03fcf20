"""Companies: one row per organisation, deduplicated by Apollo organization id and domain.

Every scalar field of Apollo's organization object has a typed column; lists and nested objects
are JSONB or arrays; keys Apollo adds later land in ``extra`` (and always in the raw payload).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, Integer, Numeric, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base, TimestampMixin


class Company(TimestampMixin, Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    apollo_id: Mapped[str | None] = mapped_column(Text, unique=True)
    # normalised: lower-case, no scheme/www, an international name in its Unicode form (normalize_domain)
    domain: Mapped[str | None] = mapped_column(Text, unique=True)

    name: Mapped[str | None] = mapped_column(Text)
    website_url: Mapped[str | None] = mapped_column(Text)
    blog_url: Mapped[str | None] = mapped_column(Text)
    angellist_url: Mapped[str | None] = mapped_column(Text)
    crunchbase_url: Mapped[str | None] = mapped_column(Text)
    linkedin_url: Mapped[str | None] = mapped_column(Text)
    twitter_url: Mapped[str | None] = mapped_column(Text)
    facebook_url: Mapped[str | None] = mapped_column(Text)
    linkedin_uid: Mapped[str | None] = mapped_column(Text)
    primary_domain: Mapped[str | None] = mapped_column(Text)
    primary_phone: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    phone: Mapped[str | None] = mapped_column(Text)
    sanitized_phone: Mapped[str | None] = mapped_column(Text)  # E.164
    languages: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    alexa_ranking: Mapped[int | None] = mapped_column(BigInteger)
    founded_year: Mapped[int | None] = mapped_column(Integer)
    publicly_traded_symbol: Mapped[str | None] = mapped_column(Text)
    publicly_traded_exchange: Mapped[str | None] = mapped_column(Text)
    logo_url: Mapped[str | None] = mapped_column(Text)
    persona_counts: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    sic_codes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    naics_codes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    industry: Mapped[str | None] = mapped_column(Text)
    industries: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    secondary_industries: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    industry_tag_id: Mapped[str | None] = mapped_column(Text)
    industry_tag_hash: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    keywords: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    estimated_num_employees: Mapped[int | None] = mapped_column(Integer)
    snippets_loaded: Mapped[bool | None] = mapped_column(Boolean)
    retail_location_count: Mapped[int | None] = mapped_column(Integer)
    raw_address: Mapped[str | None] = mapped_column(Text)
    street_address: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    owned_by_organization_id: Mapped[str | None] = mapped_column(Text)
    suborganizations: Mapped[list[Any] | None] = mapped_column(JSONB)
    num_suborganizations: Mapped[int | None] = mapped_column(Integer)
    seo_description: Mapped[str | None] = mapped_column(Text)
    short_description: Mapped[str | None] = mapped_column(Text)
    annual_revenue: Mapped[Decimal | None] = mapped_column(Numeric)
    annual_revenue_printed: Mapped[str | None] = mapped_column(Text)
    organization_revenue: Mapped[Decimal | None] = mapped_column(Numeric)
    organization_revenue_printed: Mapped[str | None] = mapped_column(Text)
    total_funding: Mapped[Decimal | None] = mapped_column(Numeric)
    total_funding_printed: Mapped[str | None] = mapped_column(Text)
    latest_funding_round_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    latest_funding_stage: Mapped[str | None] = mapped_column(Text)
    funding_events: Mapped[list[Any] | None] = mapped_column(JSONB)
    technology_names: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # uids of current_technologies, kept as an array so ICP technology filters can use a GIN index
    technology_uids: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    current_technologies: Mapped[list[Any] | None] = mapped_column(JSONB)  # [{uid, name, category}]
    departmental_head_count: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    org_chart_root_people_ids: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    org_chart_sector: Mapped[str | None] = mapped_column(Text)
    org_chart_removed: Mapped[bool | None] = mapped_column(Boolean)
    org_chart_show_department_filter: Mapped[bool | None] = mapped_column(Boolean)
    account_id: Mapped[str | None] = mapped_column(Text)
    account: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    intent_strength: Mapped[str | None] = mapped_column(Text)
    show_intent: Mapped[bool | None] = mapped_column(Boolean)
    has_intent_signal_account: Mapped[bool | None] = mapped_column(Boolean)
    intent_signal_account: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    generic_org_insights: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    organization_headcount_six_month_growth: Mapped[float | None] = mapped_column(Float)
    organization_headcount_twelve_month_growth: Mapped[float | None] = mapped_column(Float)
    organization_headcount_twenty_four_month_growth: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # keys not known when this was written

    __table_args__ = (
        Index("ix_companies_industry", "industry"),
        Index("ix_companies_technology_uids", "technology_uids", postgresql_using="gin"),
        Index("ix_companies_keywords", "keywords", postgresql_using="gin"),
        Index("ix_companies_estimated_num_employees", "estimated_num_employees"),
    )
