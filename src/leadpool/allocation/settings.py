"""Allocation policy, read from the environment (``LEADPOOL_*``) when asked for, never at import."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AllocationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPOOL_", extra="ignore")

    exclusivity: Literal["person", "company"] = Field(
        default="person",
        description="person: each lead has one agency. company: every person at a company belongs to "
        "the agency that first got someone there.",
    )
    quarantine_days: int = Field(
        default=30, ge=0, description="Days a released lead waits before another agency may own it."
    )
    rest_days: int = Field(
        default=90,
        ge=0,
        description="Days a lead rests after an enrollment ends without a reply (sequence finished, "
        "removed, campaign finished, agency cancelled): no campaign of any agency enrolls it meanwhile.",
    )
    refill_enabled: bool = Field(
        default=True, description="Defer a refill job when an allocation falls short (needs an Apollo key)."
    )
    refill_daily_credit_budget: Decimal = Field(
        default=Decimal(1000), ge=0, description="Apollo credits all refill jobs may spend per UTC day."
    )
    refill_agency_daily_credit_share: Decimal = Field(
        default=Decimal("0.5"),
        gt=0,
        le=1,
        description="The share of that budget one agency's refill jobs may spend per UTC day (1: no "
        "limit of its own), so one agency's campaigns cannot use up the day for every other agency.",
    )
    refill_max_pages: int = Field(
        default=5, ge=1, description="Search pages with someone new to the pool one refill job may read."
    )
    refill_max_known_pages: int = Field(
        default=100,
        ge=0,
        le=500,
        description="...and pages whose every person the pool already holds it may read past besides (each "
        "search starts at page 1; searching costs no credits, only calls under Apollo's rate limit).",
    )
    refill_max_age_days: int = Field(
        default=90, ge=0, description="A pool lead enriched more recently than this is not paid for again."
    )
    refill_max_attempts: int = Field(default=5, ge=1, description="Tries per refill job (429/5xx).")
    refill_retry_base_seconds: float = Field(
        default=30, ge=0, description="Job-level backoff: base x 2^attempt seconds between tries."
    )
    refill_hold_minutes: int = Field(
        default=120,
        ge=1,
        le=10080,
        description="Minutes at most the leads a refill job bought stay held for its campaign (other "
        "campaigns do not take them) until the job allocates them; its end lets go of them at once.",
    )
    refill_http_retries: int = Field(
        default=3, ge=0, description="Quick retries the Apollo client makes within one try."
    )


def get_allocation_settings() -> AllocationSettings:
    """Fresh each call: cheap, and tests change the environment between calls."""
    return AllocationSettings()
