"""Writing the gate policy's agency and campaign levels (``settings["gate"]``), validated.

The gate reads ``agencies.settings`` and ``campaigns.settings`` at every check (the fast path
compares a stamp of them), so a change holds from the next check on. A write is refused, with
nothing changed, when the stack it makes would not resolve: the override's own shape and values,
the rules of its level (person caps and a campaign's ``agency_daily_cap`` only lowered, legal
windows only narrowed, consent only added: ``policy._merge_level``), and, for an agency, every one
of its campaigns' overrides over it (else those campaigns' checks would deny ``gate_error`` from
then on). Removing a campaign's override is never refused: after the platform tightened, it is the
way out of a stack that no longer resolves. Every write is an ``audit_log`` row with before and
after. The platform level is this process's environment: write with the service's settings.

Locks: a level's campaigns before its agency, as allocation and cancellation take them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool.allocation.agencies import get_agency
from leadpool.allocation.campaigns import get_campaign
from leadpool.errors import InvalidInput, NotFound
from leadpool.gate.policy import GatePolicy, resolve, validate_overrides
from leadpool.models import Agency, AuditLog, Campaign

_MAX_OVERRIDE_CHARS = 64 * 1024  # a policy is a few hundred characters; this refuses a paste accident


@dataclass(frozen=True)
class PolicyView:
    """One level's override and the policy in force there (None, with the reason, when the stored
    stack no longer resolves: its checks deny ``gate_error`` until an override is changed)."""

    level: str  # agency | campaign
    id: int
    overrides: dict[str, Any] | None  # this level's ``settings["gate"]``; None: none
    agency_overrides: dict[str, Any] | None  # a campaign's agency's (for an agency: its own)
    effective: GatePolicy | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "id": self.id,
            "overrides": self.overrides,
            "agency_overrides": self.agency_overrides,
            "effective": self.effective.model_dump(mode="json") if self.effective else None,
            "error": self.error,
        }


def agency_policy(session: Session, agency_id: int) -> PolicyView:
    agency = get_agency(session, agency_id)
    part = _part(agency.settings)
    return _view("agency", agency.id, part, part, agency.settings, None)


def campaign_policy(session: Session, campaign_id: int) -> PolicyView:
    campaign = get_campaign(session, campaign_id)
    agency = get_agency(session, campaign.agency_id)
    return _view(
        "campaign",
        campaign.id,
        _part(campaign.settings),
        _part(agency.settings),
        agency.settings,
        campaign.settings,
    )


def _view(
    level: str,
    id_: int,
    overrides: dict[str, Any] | None,
    agency_overrides: dict[str, Any] | None,
    agency_settings: dict[str, Any] | None,
    campaign_settings: dict[str, Any] | None,
) -> PolicyView:
    try:
        effective = resolve(agency_settings, campaign_settings)
    except InvalidInput as e:
        return PolicyView(level, id_, overrides, agency_overrides, None, e.message)
    return PolicyView(level, id_, overrides, agency_overrides, effective)


def set_agency_policy(
    session: Session, agency_id: int, overrides: dict[str, Any] | None, *, actor: str, at: datetime
) -> PolicyView:
    """Replace the agency's override (None or {}: remove it). Flushes, never commits."""
    _check_actor(actor)
    campaigns = session.scalars(
        select(Campaign).where(Campaign.agency_id == agency_id).order_by(Campaign.id).with_for_update()
    ).all()
    agency = session.scalars(select(Agency).where(Agency.id == agency_id).with_for_update()).first()
    if agency is None:
        raise NotFound(f"agency {agency_id} not found")
    settings = _with(agency.settings, overrides)
    validate_overrides(settings, level="agency")
    for campaign in campaigns:
        if _part(campaign.settings) is None:
            continue
        try:
            resolve(settings, campaign.settings)
        except InvalidInput as e:
            raise InvalidInput(
                f"agency {agency_id}: campaign {campaign.id}'s own gate policy would not be valid "
                f"over this one ({e.message}); change or clear the campaign's first"
            ) from e
    _audit(session, "agency.policy", "agency", agency_id, _part(agency.settings), _part(settings), actor, at)
    agency.settings = settings
    session.flush()
    return agency_policy(session, agency_id)


def set_campaign_policy(
    session: Session, campaign_id: int, overrides: dict[str, Any] | None, *, actor: str, at: datetime
) -> PolicyView:
    """Replace the campaign's override (None or {}: remove it, whatever the levels above now
    say). Flushes, never commits."""
    _check_actor(actor)
    campaign = session.scalars(select(Campaign).where(Campaign.id == campaign_id).with_for_update()).first()
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    # the agency's row shared-locked: its override cannot change under this check of the stack
    agency = session.scalars(
        select(Agency).where(Agency.id == campaign.agency_id).with_for_update(read=True)
    ).one()
    settings = _with(campaign.settings, overrides)
    if overrides:
        resolve(agency.settings, settings)  # over its agency: over the platform alone says too little
    _audit(
        session,
        "campaign.policy",
        "campaign",
        campaign_id,
        _part(campaign.settings),
        _part(settings),
        actor,
        at,
    )
    campaign.settings = settings
    session.flush()
    return campaign_policy(session, campaign_id)


def _with(settings: dict[str, Any] | None, overrides: dict[str, Any] | None) -> dict[str, Any] | None:
    if overrides is not None and not isinstance(overrides, dict):
        raise InvalidInput(f"gate policy: must be a JSON object, not {type(overrides).__name__}")
    if overrides is not None and len(repr(overrides)) > _MAX_OVERRIDE_CHARS:
        raise InvalidInput(f"gate policy: longer than {_MAX_OVERRIDE_CHARS:,} characters")
    out = dict(settings or {})
    if overrides:
        out["gate"] = overrides
    else:
        out.pop("gate", None)
    return out or None


def _part(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    part = (settings or {}).get("gate")
    return part if part else None


def _check_actor(actor: str) -> None:
    if not actor.strip():
        raise InvalidInput("actor: must not be empty (who changed the policy is kept in the audit log)")


def _audit(
    session: Session,
    action: str,
    subject_type: str,
    subject_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: str,
    at: datetime,
) -> None:
    session.add(
        AuditLog(
            at=at,
            actor=actor.strip(),
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            detail={"before": before, "after": after},
        )
    )
