"""Campaigns: create with validated channels, ICP and quota; move through their statuses.

Statuses: draft -> active (activate); active -> paused (pause); paused -> active (resume);
draft/active/paused -> finished (finish, final). Each move is one conditional UPDATE, so two
concurrent moves cannot both succeed from the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from leadpool.allocation.agencies import get_agency
from leadpool.allocation.icp import ICP, parse_icp
from leadpool.allocation.rest import REST_CTES, rest_params
from leadpool.errors import Conflict, InvalidInput, NotFound
from leadpool.limits import MAX_NAME
from leadpool.models import CHANNELS, Agency, Campaign
from leadpool.pool.locks import lock_leads, lock_leads_where

#: the most new leads a campaign may ask for per day (the API's bound too)
MAX_DAILY_QUOTA = 1_000_000

# target status -> the statuses it may be reached from
_MOVES: dict[str, tuple[str, ...]] = {
    "activate": ("draft",),
    "pause": ("active",),
    "resume": ("paused",),
    "finish": ("draft", "active", "paused"),
}
_TARGET = {"activate": "active", "pause": "paused", "resume": "active", "finish": "finished"}
_LOCK_WITH_AGENCY = text(
    "SELECT c.id FROM campaigns c JOIN agencies a ON a.id = c.agency_id WHERE c.id = :c "
    "FOR NO KEY UPDATE OF c FOR SHARE OF a"
)


def parse_channels(channels: str | Iterable[str]) -> list[str]:
    """``"email,linkedin"`` or a list -> validated, de-duplicated channel names."""
    items = channels.split(",") if isinstance(channels, str) else list(channels)
    out: list[str] = []
    for raw in items:
        ch = str(raw).strip().lower()
        if not ch:
            continue
        if ch not in CHANNELS:
            raise InvalidInput(f"channels: unknown channel {ch!r} (allowed: {', '.join(CHANNELS)})")
        if ch not in out:
            out.append(ch)
    if not out:
        raise InvalidInput(f"channels: give at least one of {', '.join(CHANNELS)}")
    return out


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


def campaign_icp(campaign: Campaign) -> ICP:
    return parse_icp(campaign.icp, root=f"campaign {campaign.id} icp")


def create_campaign(
    session: Session,
    *,
    agency_id: int,
    name: str,
    channels: str | Sequence[str],
    icp: ICP | dict[str, Any],
    daily_quota: int,
) -> Campaign:
    """Create a draft campaign for an active agency."""
    clean = name.strip()
    if not clean:
        raise InvalidInput("campaign name: must not be empty")
    if len(clean) > MAX_NAME:
        raise InvalidInput(f"campaign name: at most {MAX_NAME} characters (got {len(clean):,})")
    if (
        isinstance(daily_quota, bool)
        or not isinstance(daily_quota, int)
        or not 0 <= daily_quota <= MAX_DAILY_QUOTA
    ):
        raise InvalidInput(
            f"daily_quota: must be a whole number from 0 to {MAX_DAILY_QUOTA:,}, got {daily_quota!r}"
        )
    chans = parse_channels(channels)
    model = parse_icp(icp)
    agency = get_agency(session, agency_id)
    if agency.status != "active":
        raise Conflict(f"agency {agency_id} is {agency.status}; it cannot create campaigns")
    campaign = Campaign(
        agency_id=agency_id,
        name=clean,
        status="draft",
        channels=chans,
        icp=model.to_json(),
        daily_quota=daily_quota,
    )
    session.add(campaign)
    session.flush()
    return campaign


def list_campaigns(session: Session, agency_id: int | None = None) -> list[Campaign]:
    stmt = select(Campaign).order_by(Campaign.id)
    if agency_id is not None:
        stmt = stmt.where(Campaign.agency_id == agency_id)
    return list(session.scalars(stmt))


def _move(session: Session, campaign_id: int, move: str, at: datetime, **values: Any) -> Campaign:
    allowed = _MOVES[move]
    target = _TARGET[move]
    stmt = update(Campaign).where(Campaign.id == campaign_id, Campaign.status.in_(allowed))
    if target == "active":
        # only for an active agency, read after locking the campaign row and share-locking the
        # agency (cancel_agency's and allocation's order): a cancel holding the campaign row has
        # committed by then, and this UPDATE, a new statement, reads it (a check inside a statement
        # that waited for the row reads the agency as it was before); a later cancel waits for us
        session.execute(_LOCK_WITH_AGENCY, {"c": campaign_id})
        stmt = stmt.where(
            select(Agency.id).where(Agency.id == Campaign.agency_id, Agency.status == "active").exists()
        )
    done = session.execute(
        stmt.values(status=target, updated_at=at, **values).returning(Campaign.id)
    ).scalar_one_or_none()
    if done is None:
        campaign = get_campaign(session, campaign_id)
        if campaign.status in allowed:
            raise Conflict(f"campaign {campaign_id}: its agency is not active")
        raise Conflict(
            f"campaign {campaign_id} is {campaign.status}; cannot {move} (allowed from: {', '.join(allowed)})"
        )
    session.expire_all()
    return get_campaign(session, campaign_id)


def activate_campaign(session: Session, campaign_id: int, *, at: datetime | None = None) -> Campaign:
    """draft -> active; the agency must be active."""
    at = at or datetime.now(UTC)
    return _move(session, campaign_id, "activate", at, activated_at=at, paused_reason=None)


def pause_campaign(
    session: Session, campaign_id: int, *, reason: str | None = None, at: datetime | None = None
) -> Campaign:
    """active -> paused. Enrollments stay; nothing new is allocated while paused."""
    return _move(session, campaign_id, "pause", at or datetime.now(UTC), paused_reason=reason or "manual")


def resume_campaign(session: Session, campaign_id: int, *, at: datetime | None = None) -> Campaign:
    """paused -> active; the agency must be active."""
    return _move(session, campaign_id, "resume", at or datetime.now(UTC), paused_reason=None)


def finish_campaign(
    session: Session, campaign_id: int, *, at: datetime | None = None, actor: str = "admin"
) -> Campaign:
    """-> finished (final). Its active enrollments end; the agency keeps the leads, so its other
    campaigns can re-use them."""
    at = at or datetime.now(UTC)
    # its leads before the campaign row (leadpool.pool.locks): an event locks a lead, then may
    # pause its campaign
    lock_leads_where(
        session,
        "SELECT lead_id FROM enrollments WHERE campaign_id = :c AND status = 'active'",
        {"c": campaign_id},
    )
    campaign = _move(session, campaign_id, "finish", at, finished_at=at)
    session.execute(
        text(
            """
            WITH ended AS (
                UPDATE enrollments SET status = 'ended', ended_at = :at, end_reason = 'campaign_finished'
                WHERE campaign_id = :c AND status = 'active'
                RETURNING id, lead_id, campaign_id, agency_id
            )"""
            + REST_CTES
            + """
            INSERT INTO lead_history (lead_id, at, action, agency_id, campaign_id, actor, reason)
            SELECT lead_id, :at, 'unenrolled', agency_id, :c, :actor, 'campaign finished' FROM ended
            """
        ),
        {"c": campaign_id, "at": at, "actor": actor} | rest_params(at, "campaign_finished"),
    )
    return campaign


ENROLLMENT_END_REASONS = ("sequence_finished", "removed")


@dataclass(frozen=True)
class EnrollmentEnd:
    """The answer of ``end_enrollment``: whether an active enrollment ended, and the rest it started."""

    lead_id: int
    campaign_id: int
    ended: bool
    rest_until: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "campaign_id": self.campaign_id,
            "ended": self.ended,
            "rest_until": self.rest_until.isoformat() if self.rest_until else None,
        }


def end_enrollment(
    session: Session,
    campaign_id: int,
    lead_id: int,
    *,
    reason: str = "sequence_finished",
    at: datetime | None = None,
    actor: str = "admin",
) -> EnrollmentEnd:
    """End the lead's active enrollment in the campaign without a reply, and rest the lead.

    ``reason``: ``sequence_finished`` (the sending engine ran out of steps) or ``removed`` (the
    agency took the lead out). The lead then rests (``LEADPOOL_REST_DAYS``): no campaign of any
    agency enrolls it, and the gate denies ``rest_period``. Idempotent: when the lead has no
    active enrollment in the campaign nothing changes and ``ended`` is False. Raises NotFound for
    an unknown campaign or lead, InvalidInput for another reason.
    """
    if reason not in ENROLLMENT_END_REASONS:
        raise InvalidInput(f"reason: {reason!r} is not one of {', '.join(ENROLLMENT_END_REASONS)}")
    at = at or datetime.now(UTC)
    get_campaign(session, campaign_id)
    lock_leads(session, [lead_id])
    params: dict[str, Any] = {"c": campaign_id, "l": lead_id, "at": at, "actor": actor}
    params |= {"why": reason.replace("_", " ")} | rest_params(at, reason)
    row = session.execute(
        text(
            """
            WITH ended AS (
                UPDATE enrollments SET status = 'ended', ended_at = :at, end_reason = :rest_reason
                WHERE campaign_id = :c AND lead_id = :l AND status = 'active'
                RETURNING id, lead_id, campaign_id, agency_id
            )"""
            + REST_CTES
            + """
            , hist AS (
                INSERT INTO lead_history (lead_id, at, action, agency_id, campaign_id, actor, reason)
                SELECT lead_id, :at, 'unenrolled', agency_id, :c, :actor, :why FROM ended
            )
            SELECT (SELECT count(*) FROM ended), EXISTS (SELECT FROM leads WHERE id = :l)
            """
        ),
        params,
    ).one()
    if not row[1]:  # no such lead, so nothing was ended: a mistyped id, not "already ended"
        raise NotFound(f"lead {lead_id} not found")
    ended = bool(row[0])
    return EnrollmentEnd(lead_id, campaign_id, ended, params["rest_until"] if ended else None)
