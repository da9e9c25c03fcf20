"""Fair rounds: serve every active campaign's outstanding daily quota together.

Policy (also in docs/allocation.md):

1. Every active campaign of an active agency is locked (id order) and asks for what is left of
   its daily quota today (UTC).
2. Each campaign first re-uses its own agency's free matching leads (nobody else wants those).
3. For the rest, each campaign's ranked pool candidates are read (locked, SKIP LOCKED). The
   supply is the union of all candidates. When the supply covers every ask, everyone gets what it
   asked. When it does not, the supply is split in proportion to what each campaign asked, with
   largest-remainder rounding (ties: the bigger ask, then the older campaign), and no campaign is
   given more than it asked or than it has candidates for; what a capped campaign cannot use is
   split again among the others (water-filling). Five campaigns asking 1,000 each from 2,000
   matching leads get 400 each.
4. Overlapping ICPs: the split gives each campaign a target; then campaigns draft leads, the one
   furthest below its target (smallest got/target) picking next. Each campaign picks the leads
   only it wants before contested ones (best-ranked first within each group), so a broad ICP
   does not eat the overlap a narrow ICP depends on, and a contested lead goes to whoever is
   most behind. Leads nobody reached a target with go to any
   campaign still short of its ask, by the same rule. With company exclusivity, the first campaign
   to draft a person at a company takes the company for its agency within the round as well.
5. Everything is written in the caller's one transaction; a lead lost to a concurrent allocator
   between read and write is replaced by one ordinary top-up pass; remaining shortfalls defer
   refill jobs.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from leadpool.allocation import pool, refill
from leadpool.allocation.allocate import AllocationResult, lock_campaigns, reuse_owned, take_from_pool
from leadpool.allocation.settings import get_allocation_settings

# Upper bound on candidates read per campaign in one round (memory and lock footprint).
MAX_CANDIDATES_PER_CAMPAIGN = 50_000


def proportional_split(
    supply: int, asks: dict[int, int], caps: dict[int, int] | None = None
) -> dict[int, int]:
    """Split ``supply`` in proportion to ``asks`` with largest-remainder rounding.

    No key gets more than its ask or its cap; what a capped key cannot take is split again among
    the others. Ties in remainders go to the bigger ask, then the smaller key.
    """
    limits = {k: min(a, (caps or {}).get(k, a)) for k, a in asks.items() if a > 0}
    result = dict.fromkeys(asks, 0)
    left = supply
    active = {k for k, v in limits.items() if v > 0}
    while left > 0 and active:
        total_ask = sum(asks[k] for k in active)
        if left >= sum(limits[k] - result[k] for k in active):
            for k in active:
                result[k] = limits[k]
            break
        quotas = {k: left * asks[k] / total_ask for k in active}
        floors = {k: int(q) for k, q in quotas.items()}
        rest = left - sum(floors.values())
        order = sorted(active, key=lambda k: (-(quotas[k] - floors[k]), -asks[k], k))
        for k in order[:rest]:
            floors[k] += 1
        # a key whose share exceeds its remaining room is capped; the excess goes round again
        over = {k for k in active if result[k] + floors[k] >= limits[k]}
        if not over:
            for k in active:
                result[k] += floors[k]
            break
        for k in over:
            left -= limits[k] - result[k]
            result[k] = limits[k]
        active -= over
    return result


@dataclass
class RoundResult:
    at: datetime
    campaigns: list[AllocationResult] = field(default_factory=list)
    targets: dict[int, int] = field(default_factory=dict)  # pool leads each campaign was due
    supply: int = 0  # distinct pool leads that matched at least one campaign
    skipped: dict[int, str] = field(default_factory=dict)  # campaigns left out, and why

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "skipped": [{"campaign_id": c, "error": e} for c, e in sorted(self.skipped.items())],
            "supply": self.supply,
            "targets": {str(k): v for k, v in self.targets.items()},
            "campaigns": [c.to_json() | {"lead_ids": None} for c in self.campaigns],
            "allocated": sum(len(c.lead_ids) for c in self.campaigns),
        }


def _draft(
    cands: dict[int, list[tuple[int, int | None]]],
    goals: dict[int, int],
    agency_of: dict[int, int],
    taken: set[int],
    company_agency: dict[int, int] | None,
    picks: dict[int, list[int]],
) -> None:
    """Campaigns pick in turn, the one with the smallest got/goal first, until goals are met or
    candidates run out. ``company_agency`` (company exclusivity only) maps a company to the agency
    that drafted someone there. Mutates ``taken``, ``company_agency`` and ``picks``."""
    pos = dict.fromkeys(cands, 0)
    heap = [(len(picks[c]) / g, -g, c) for c, g in goals.items() if g > len(picks[c])]
    heapq.heapify(heap)
    while heap:
        _, neg_goal, c = heapq.heappop(heap)
        lst, i, agency = cands[c], pos[c], agency_of[c]
        while i < len(lst):
            lead_id, company_id = lst[i]
            i += 1
            if lead_id in taken:
                continue
            if (
                company_agency is not None
                and company_id is not None
                and company_agency.setdefault(company_id, agency) != agency
            ):
                continue
            taken.add(lead_id)
            picks[c].append(lead_id)
            break
        else:
            pos[c] = i
            continue  # no candidate left: this campaign drops out
        pos[c] = i
        if len(picks[c]) < goals[c]:
            heapq.heappush(heap, (len(picks[c]) / -neg_goal, neg_goal, c))


def allocate_round(
    session: Session, *, at: datetime | None = None, refill_shortfall: bool = True, actor: str = "round"
) -> RoundResult:
    """Serve every active campaign's outstanding quota together, fairly (see module docstring).

    One transaction (the caller commits). Returns per-campaign results and the targets used.
    """
    at = at or datetime.now(UTC)
    company_exclusive = get_allocation_settings().exclusivity == "company"
    out = RoundResult(at=at)
    # a campaign whose stored ICP no longer validates (limits added after it was saved) is left
    # out and reported: one agency's campaign must not stop every agency's round
    locked = lock_campaigns(session, None, skipped=out.skipped)
    if not locked:
        return out
    ids = [lc.target.campaign_id for lc in locked]
    got_today = pool.enrolled_today(session, ids, at)
    by_id = {lc.target.campaign_id: lc for lc in locked}
    results: dict[int, AllocationResult] = {}
    need: dict[int, int] = {}
    for lc in locked:
        cid = lc.target.campaign_id
        ask = max(0, lc.daily_quota - got_today.get(cid, 0))
        reason = f"campaign {cid} allocation round"
        reused = reuse_owned(session, lc.target, ask, at, actor=actor, reason=reason)
        results[cid] = AllocationResult(
            campaign_id=cid, requested=ask, granted=ask, lead_ids=list(reused), reused=len(reused)
        )
        need[cid] = ask - len(reused)

    wanting = [cid for cid in ids if need[cid] > 0]
    total_need = sum(need[c] for c in wanting)
    cands: dict[int, list[tuple[int, int | None]]] = {}
    for cid in wanting:
        limit = min(total_need, MAX_CANDIDATES_PER_CAMPAIGN)
        stmt = pool.pool_candidates(by_id[cid].target, at, limit, company_exclusive=company_exclusive)
        cands[cid] = pool.fetch(session, stmt)
    wanted_by = Counter(lid for lst in cands.values() for lid, _ in lst)
    supply = len(wanted_by)
    # leads only this campaign wants come before contested ones (stable: rank order otherwise)
    for cid in wanting:
        cands[cid].sort(key=lambda cand: wanted_by[cand[0]])
    targets = proportional_split(supply, {c: need[c] for c in wanting}, {c: len(cands[c]) for c in wanting})
    out.supply, out.targets = supply, targets

    agency_of = {cid: by_id[cid].target.agency_id for cid in wanting}
    picks: dict[int, list[int]] = {c: [] for c in wanting}
    taken: set[int] = set()
    company_agency: dict[int, int] | None = {} if company_exclusive else None
    _draft(cands, targets, agency_of, taken, company_agency, picks)
    _draft(cands, {c: need[c] for c in wanting}, agency_of, taken, company_agency, picks)

    company_of = {lid: comp for lst in cands.values() for lid, comp in lst}
    for cid in wanting:
        target = by_id[cid].target
        reason = f"campaign {cid} allocation round"
        chosen = [(lid, company_of[lid]) for lid in picks[cid]]
        if company_exclusive:
            chosen, _ = pool.claim_companies(session, target.agency_id, chosen, at)
        acquired = pool.acquire(
            session, target.agency_id, [lid for lid, _ in chosen], at, actor=actor, reason=reason
        )
        enrolled = pool.enroll(session, cid, target.agency_id, acquired, at, actor=actor, reason=reason)
        results[cid].lead_ids += enrolled
        results[cid].taken_from_pool += len(enrolled)
    # leads lost to concurrent allocators (or drafted past a company conflict) are replaced here;
    # under company exclusivity, also a campaign whose candidates all sat at companies another
    # agency took in this round (it read only as many as the round needed, best first)
    for cid in wanting:
        res = results[cid]
        short = res.granted - len(res.lead_ids)
        if short > 0 and (company_exclusive or len(picks[cid]) > res.taken_from_pool):
            more = take_from_pool(session, by_id[cid].target, short, at, actor=actor, reason="round top-up")
            res.lead_ids += more
            res.taken_from_pool += len(more)

    for cid in ids:
        res = results[cid]
        res.shortfall = res.granted - len(res.lead_ids)
        if res.shortfall > 0 and refill_shortfall:
            refill.refill_for(session, by_id[cid].target, res, at)
        out.campaigns.append(res)
    return out
