"""One lead, every stored field, its company and the raw payloads it came from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool.errors import InvalidInput, NotFound
from leadpool.ingestion.normalize import NotNormalisable, normalize_email, normalize_linkedin_url
from leadpool.limits import MAX_ID
from leadpool.models import Company, Lead, LeadRawPayload, LeadScore


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs}


def find_lead(session: Session, ref: str) -> Lead:
    """The lead for ``ref``: a numeric id, an email, a LinkedIn URL or an Apollo person id.

    Raises NotFound when no lead matches, InvalidInput when ``ref`` is empty or malformed.
    """
    ref = ref.strip()
    if not ref:
        raise InvalidInput("give a lead id, email, LinkedIn URL or Apollo id")
    if ref.isdigit():
        if not 1 <= int(ref) <= MAX_ID:
            raise NotFound(f"no lead matches {ref!r}")  # beyond any id the database can hold
        lead = session.get(Lead, int(ref))
    elif "@" in ref:
        try:
            email = normalize_email(ref)
        except NotNormalisable as e:
            raise InvalidInput(f"not a valid email: {e}") from None
        lead = session.scalar(select(Lead).where(Lead.email == email))
    elif "linkedin.com" in ref.lower():
        try:
            url = normalize_linkedin_url(ref)
        except NotNormalisable as e:
            raise InvalidInput(str(e)) from None
        lead = session.scalar(select(Lead).where(Lead.linkedin_url == url))
    else:
        lead = session.scalar(select(Lead).where(Lead.apollo_id == ref))
    if lead is None:
        raise NotFound(f"no lead matches {ref!r}")
    return lead


def lead_detail(session: Session, lead: Lead) -> dict[str, Any]:
    """Every column of the lead, its company (every column, or None), its raw payload ids and its
    scores (expected positive-reply probability per channel, with the model version)."""
    detail = _row(lead)
    company = session.get(Company, lead.company_id) if lead.company_id is not None else None
    detail["company"] = _row(company) if company is not None else None
    detail["raw_payload_ids"] = list(
        session.scalars(
            select(LeadRawPayload.raw_payload_id)
            .where(LeadRawPayload.lead_id == lead.id)
            .order_by(LeadRawPayload.raw_payload_id)
        )
    )
    detail["scores"] = [
        {
            "channel": sc.channel,
            "score": sc.score,
            "model_version": sc.model_version,
            "computed_at": sc.computed_at,
        }
        for sc in session.scalars(
            select(LeadScore).where(LeadScore.lead_id == lead.id).order_by(LeadScore.channel)
        )
    ]
    return detail
