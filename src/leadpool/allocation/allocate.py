"""On-demand allocation: give one campaign up to ``n`` leads, in one transaction.

Order of supply: first the agency's own leads that match and are free (not enrolled anywhere,
never in this campaign), then unowned pool leads. A call is capped by what is left of the
campaign's daily quota (UTC day), so one request cannot drain a segment. The campaign row is
locked for the whole transaction (concurrent calls for one campaign queue up and see each other's
count); the agency row is share-locked, so a concurrent cancel waits or wins cleanly. A shortfall
defers a refill job in the same transaction when refill is possible. A call under an idempotency
key answers a retry with its first answer (``leadpool.allocation.idempotency``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.allocation import idempotency, pool, refill
from leadpool.allocation.campaigns import MAX_DAILY_QUOTA
from leadpool.allocation.icp import parse_icp
from leadpool.allocation.settings import get_allocation_settings
from leadpool.errors import Conflict, InvalidInput, NotFound
from leadpool.gate.policy import CHANNELS, GatePolicy, platform_policy, resolve
from leadpool.pool.locks import hold_off_domain_blocks

# Enough to absorb leads lost to concurrent allocators between our read and our insert; each
# pass only reads leads that are still free, so the loop ends when the pool is dry.
_MAX_PASSES = 8


@dataclass
class AllocationResult:
    campaign_id: int
    requested: int
    granted: int  # after the daily quota cap
    lead_ids: list[int] = field(default_factory=list)
    reused: int = 0
    taken_from_pool: int = 0
    shortfall: int = 0
    refill_job_id: int | None = None  # our refill_jobs row
    job_id: int | None = None  # the procrastinate job
    refill_unavailable: str | None = None  # why a shortfall queued no refill, in words
    replayed: bool = False  # the stored answer to an earlier call under the same idempotency key

    @classmethod
    def from_json(cls, data: dict[str, Any], *, replayed: bool = False) -> AllocationResult:
        return cls(
            campaign_id=data["campaign_id"],
            requested=data["requested"],
            granted=data["granted"],
            lead_ids=list(data["lead_ids"]),
            reused=data["reused"],
            taken_from_pool=data["taken_from_pool"],
            shortfall=data["shortfall"],
            refill_job_id=data["refill_job_id"],
            job_id=data["job_id"],
            refill_unavailable=data["refill_unavailable"],
            replayed=replayed,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "requested": self.requested,
            "granted": self.granted,
            "allocated": len(self.lead_ids),
            "reused": self.reused,
            "taken_from_pool": self.taken_from_pool,
            "shortfall": self.shortfall,
            "refill_job_id": self.refill_job_id,
            "job_id": self.job_id,
            "refill_unavailable": self.refill_unavailable,
            "replayed": self.replayed,
            "lead_ids": self.lead_ids,
        }


@dataclass(frozen=True)
class LockedCampaign:
    target: pool.Target
    daily_quota: int


def _policy(agency_settings: dict[str, Any] | None, settings: dict[str, Any] | None) -> GatePolicy:
    """The campaign's gate policy, for what makes a lead unreachable there for good: the channels
    sent to only in the lead's own hours (a lead with no zone never is), and those where the
    person's consent is asked for (a lead there without the agency's consent never is)."""
    try:
        return resolve(agency_settings, settings)
    except InvalidInput:  # an override the gate refuses: every check is a gate_error anyway
        return platform_policy()


def lock_campaigns(
    session: Session, campaign_ids: list[int] | None = None, *, skipped: dict[int, str] | None = None
) -> list[LockedCampaign]:
    """Lock campaigns (all active ones when ``campaign_ids`` is None) in id order, with their agency,
    after holding off new domain blocks (``leadpool.pool.locks``).

    Raises for a named campaign that is missing, not active, or whose agency is not active, or
    whose stored ICP no longer validates. With ``skipped`` given, such an ICP leaves that campaign
    out instead, its error kept there (a round serves every other agency's campaigns).
    """
    where = "c.id = ANY(:ids)" if campaign_ids is not None else "c.status = 'active' AND a.status = 'active'"
    # the domain-block lock before the campaign rows (leadpool.pool.locks): a new block holds it
    # while it waits for lead rows, whose holders (finish_campaign, cancel_agency) want a campaign
    # row next; waiting for it with the campaign rows held closed that cycle
    hold_off_domain_blocks(session)
    rows = session.execute(
        text(
            f"""
            SELECT c.id, c.agency_id, c.status, a.status, c.icp, c.channels, c.daily_quota,
                   a.settings, c.settings
            FROM campaigns c JOIN agencies a ON a.id = c.agency_id
            WHERE {where}
            ORDER BY c.id
            FOR NO KEY UPDATE OF c FOR SHARE OF a
            """
        ),
        {"ids": campaign_ids or []},
    ).all()
    found = {int(r[0]) for r in rows}
    for cid in campaign_ids or []:
        if cid not in found:
            raise NotFound(f"campaign {cid} not found")
    out = []
    for cid, agency_id, status, agency_status, icp, channels, quota, agency_settings, settings in rows:
        if status != "active":
            raise Conflict(f"campaign {cid} is {status}; only active campaigns get leads")
        if agency_status != "active":
            raise Conflict(f"campaign {cid}: agency {agency_id} is {agency_status}")
        try:
            parsed = parse_icp(icp, root=f"campaign {cid} icp")
        except InvalidInput as e:
            if skipped is None:
                raise
            skipped[int(cid)] = e.message
            continue
        policy = _policy(agency_settings, settings)
        target = pool.Target(
            campaign_id=int(cid),
            agency_id=int(agency_id),
            icp=parsed,
            channels=tuple(channels),
            zone_required=tuple(policy.timezone_required_channels),
            consent_required=tuple((ch, policy.consent_countries(ch)) for ch in CHANNELS),
            email_statuses=tuple(policy.allowed_email_statuses),
            domain_blocks=pool.any_domain_blocks(session, int(agency_id)),
        )
        out.append(LockedCampaign(target=target, daily_quota=int(quota)))
    return out


def take_from_pool(
    session: Session, target: pool.Target, need: int, at: datetime, *, actor: str, reason: str
) -> list[int]:
    """Acquire and enroll up to ``need`` unowned pool leads for the target, best first."""
    company_exclusive = get_allocation_settings().exclusivity == "company"
    taken: list[int] = []
    passed_over: list[int] = []  # locked by us but at a company another agency holds or is claiming
    for _ in range(_MAX_PASSES):
        if need - len(taken) <= 0:
            break
        stmt = pool.pool_candidates(
            target, at, need - len(taken), company_exclusive=company_exclusive, skip=passed_over
        )
        candidates = pool.fetch(session, stmt)
        if not candidates:
            break
        if company_exclusive:
            candidates, dropped = pool.claim_companies(session, target.agency_id, candidates, at)
            passed_over += dropped
        acquired = pool.acquire(
            session, target.agency_id, [lid for lid, _ in candidates], at, actor=actor, reason=reason
        )
        taken += pool.enroll(
            session, target.campaign_id, target.agency_id, acquired, at, actor=actor, reason=reason
        )
    return taken


def reuse_owned(
    session: Session, target: pool.Target, need: int, at: datetime, *, actor: str, reason: str
) -> list[int]:
    """Enroll up to ``need`` of the agency's own free leads that match."""
    if need <= 0:
        return []
    exclusive = get_allocation_settings().exclusivity == "company"
    ids = [
        lid
        for lid, _ in pool.fetch(
            session, pool.owned_candidates(target, at, need, company_exclusive=exclusive)
        )
    ]
    return pool.enroll(session, target.campaign_id, target.agency_id, ids, at, actor=actor, reason=reason)


def allocate(
    session: Session,
    campaign_id: int,
    n: int,
    *,
    at: datetime | None = None,
    refill_shortfall: bool = True,
    actor: str = "allocation",
    idempotency_key: str | None = None,
) -> AllocationResult:
    """Give campaign ``campaign_id`` up to ``n`` leads (capped by its daily quota left today).

    Re-uses the agency's own free matching leads first, then takes contactable pool leads,
    ranked verified-first then by fit score (see :mod:`leadpool.allocation.pool`). Safe under any
    concurrency: no lead is ever owned by two agencies or actively enrolled twice. When the result
    falls short and refill is possible, a refill job is deferred in this same transaction.
    The caller commits.

    Under an ``idempotency_key`` already used on this campaign, returns that call's result
    (``replayed``) and changes nothing, whatever the campaign's state now; Conflict when that
    call asked for another ``n``. A call still in flight under the key is waited for.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_DAILY_QUOTA:
        # past that no quota grants more, and an idempotency key's row could not hold the count
        raise InvalidInput(
            f"count: must be a whole number from 0 to {MAX_DAILY_QUOTA:,} (the largest daily quota), got {n!r}"
        )
    if idempotency_key is not None:
        idempotency_key = idempotency.check_key(idempotency_key)
        # claimed before the campaign is locked: a replay answers even for a campaign paused since
        stored = idempotency.claim(session, campaign_id, idempotency_key, n)
        if stored is not None:
            return AllocationResult.from_json(stored, replayed=True)
    at = at or datetime.now(UTC)
    (locked,) = lock_campaigns(session, [campaign_id])
    target = locked.target
    got_today = pool.enrolled_today(session, [campaign_id], at).get(campaign_id, 0)
    granted = max(0, min(n, locked.daily_quota - got_today))
    reason = f"campaign {campaign_id} allocation"
    reused = reuse_owned(session, target, granted, at, actor=actor, reason=reason)
    taken = take_from_pool(session, target, granted - len(reused), at, actor=actor, reason=reason)
    result = AllocationResult(
        campaign_id=campaign_id,
        requested=n,
        granted=granted,
        lead_ids=reused + taken,
        reused=len(reused),
        taken_from_pool=len(taken),
        shortfall=granted - len(reused) - len(taken),
    )
    if result.shortfall > 0 and refill_shortfall:
        refill.refill_for(session, target, result, at)
    if idempotency_key is not None:
        idempotency.record(session, campaign_id, idempotency_key, result.to_json())
    return result
