"""The SQL allocation is built from: who is contactable, how candidates rank, and how they are
assigned.

Ranking (documented in docs/allocation.md): by ``leads.alloc_rank`` (a generated column: 10 for a
verified email, so verified comes first, else 2 / 1 for an extrapolated confidence >= 0.9 / 0.7;
plus 1 per address the lead has: email, LinkedIn, phone), then the freshest data
(``enriched_at``), then the lowest lead id. The order is served by an index over leads nobody
has ruled out, so reading N candidates stops after about N / selectivity entries.

Assignment is set-based: candidates are read with ``FOR UPDATE OF leads SKIP LOCKED`` (so
concurrent allocators never wait on each other and never see the same lead twice), ownership is
written with ``INSERT ... ON CONFLICT (lead_id) DO NOTHING RETURNING`` (so a lead someone else
committed meanwhile is skipped, never double-owned), then enrollments and history follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from leadpool.allocation.icp import ICP, compile_icp
from leadpool.models import (
    Company,
    CompanyOwner,
    Consent,
    CountryName,
    DomainBlock,
    Enrollment,
    Lead,
    Ownership,
    PhonePrefixRegion,
    RefillHold,
)

leads = Lead.__table__
companies = Company.__table__
ownerships = Ownership.__table__
enrollments = Enrollment.__table__
company_owners = CompanyOwner.__table__
domain_blocks = DomainBlock.__table__
consents = Consent.__table__
country_names = CountryName.__table__
number_regions = PhonePrefixRegion.__table__
refill_holds = RefillHold.__table__


@dataclass(frozen=True)
class Target:
    """What one campaign wants: enough to build its candidate query and write its assignments."""

    campaign_id: int
    agency_id: int
    icp: ICP
    channels: tuple[str, ...]
    # channels the campaign's gate policy sends to only in the lead's own hours
    zone_required: tuple[str, ...] = ("sms", "phone")
    # a block of the platform's or the agency's list exists: only then is the domain test paid for
    # (it computes every candidate's parent domains; measured without it: 480 ms -> 300-340 ms for
    # 2,000 leads of a 100,000-lead pool, with the first, slower form of the function)
    domain_blocks: bool = True
    # per channel, the countries where the campaign's gate policy wants the person's consent
    # (``consent_required``): a lead there without the agency's consent is not reachable on it
    consent_required: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # the email statuses the campaign's gate policy sends to (``allowed_email_statuses``); None:
    # the ICP's alone. The ICP may name more (extrapolated, to widen): a lead reachable only by an
    # email the gate refuses (``email_unverified``) would sit enrolled, lost to every other agency
    email_statuses: tuple[str, ...] | None = None

    def sendable_email_statuses(self) -> list[str]:
        """The ICP's email statuses the gate would send to (compared as the gate does, any case)."""
        if self.email_statuses is None:
            return list(self.icp.email_statuses)
        return [s for s in self.icp.email_statuses if s.lower() in self.email_statuses]


def consented(agency_id: int, channel: str, countries: Sequence[str], at: datetime) -> ColumnElement[bool]:
    """The gate's ``no_consent`` rule would let the agency touch the lead on ``channel`` at ``at``:
    the lead is not in one of ``countries`` (its country read as the gate reads it), or the agency
    holds a live consent from it for the channel."""
    l = leads.c
    live = exists().where(
        consents.c.lead_id == l.id,
        consents.c.agency_id == agency_id,
        or_(consents.c.channel.is_(None), consents.c.channel == channel),
        consents.c.revoked_at.is_(None),
        consents.c.granted_at <= at,
        or_(consents.c.expires_at.is_(None), consents.c.expires_at > at),
    )
    if "*" in countries:
        return live
    # uncorrelated INs: PostgreSQL hashes the spellings once and tests each candidate against
    # them (measured: a lookup of country_names per candidate cost the 1M-lead allocation a quarter)
    key = func.leadpool_country_key(l.country)
    spellings = select(country_names.c.name).where(country_names.c.code.in_(list(countries)))
    own_known = and_(l.country.is_not(None), key.in_(select(country_names.c.name)))
    # where the lead's own country is unknown, the gate reads its number's (the longest prefix's).
    # A number's prefixes are nested, so the longest one listed is the greatest (a prefix sorts
    # before its extensions in any collation; "C" would keep the index from serving max()): an
    # aggregate, where ORDER BY ... LIMIT 1 put a sort in the candidates' index-ordered plan
    prefixes = func.leadpool_phone_prefixes(l.phone)
    q = number_regions.alias("q")
    longest = (
        select(func.max(q.c.prefix))
        .where(q.c.prefix == func.any(prefixes))
        .correlate(leads)  # two levels down: the candidate's own number
        .scalar_subquery()
    )
    number = select(number_regions.c.code).where(number_regions.c.prefix == longest).scalar_subquery()
    return or_(
        and_(own_known, key.not_in(spellings)),
        and_(~own_known, func.coalesce(number.not_in(list(countries)), True)),
        live,
    )


def reachable(
    channels: Sequence[str],
    email_statuses: Sequence[str],
    zone_required: Sequence[str],
    consent: tuple[int, dict[str, tuple[str, ...]], datetime] | None = None,
) -> ColumnElement[bool]:
    """The lead has a usable address on at least one of the campaign's channels: for email, one
    not bounced whose status the ICP allows; on a channel the gate sends to only in the lead's own
    hours (sms, phone), a known time zone too, else the gate would refuse it for good
    (``unknown_timezone``) and the lead would sit enrolled, lost to every other agency. Likewise,
    with ``consent`` (agency, countries per channel, now): where the law asks for the person's
    consent on a channel, the agency holds a live one (else ``no_consent``)."""
    agency_id, needs, at = consent if consent is not None else (0, {}, datetime.now(UTC))
    l = leads.c
    parts: list[ColumnElement[bool]] = []
    for channel in dict.fromkeys(channels):
        if channel == "email":
            part = and_(
                l.email.is_not(None),
                l.email_bounced_at.is_(None),
                # any case, as the gate compares (a JSON import keeps Apollo's spelling)
                func.lower(l.email_status).in_([s.lower() for s in email_statuses]),
            )
        elif channel == "linkedin":
            part = l.linkedin_url.is_not(None)
        elif channel in ("sms", "phone"):
            part = l.phone.is_not(None)
        else:
            continue
        # a guessed zone is no zone where quiet hours are law (the gate denies unknown_timezone)
        known_zone = and_(l.time_zone.is_not(None), l.time_zone_source.is_distinct_from("guess"))
        if channel in zone_required:
            part = and_(part, known_zone)
        if needs.get(channel):
            part = and_(part, consented(agency_id, channel, needs[channel], at))
        parts.append(part)
    return or_(*parts) if parts else literal(False)


def contactable(at: datetime) -> ColumnElement[bool]:
    """Nobody has ruled the person out: no suppression, conversion, reply, cooling or rest in force.

    The time-bound parts (cooling, rest) are filtered after the ``ix_leads_alloc_rank`` index,
    whose predicate holds only the permanent ones, so the index stays usable."""
    l = leads.c
    return and_(
        l.erased_at.is_(None),
        l.unsubscribed_at.is_(None),
        l.complained_at.is_(None),
        l.converted_at.is_(None),
        l.blocklisted_at.is_(None),
        l.replied_at.is_(None),
        l.wrong_person_at.is_(None),
        or_(l.cooling_until.is_(None), l.cooling_until <= at),
        or_(l.rest_until.is_(None), l.rest_until <= at),
    )


def not_blocked(agency_id: int) -> ColumnElement[bool]:
    """No domain block of the platform or the agency covers the lead (its email's domain or a
    parent, its company's domain): the gate would deny it ``domain_blocked`` for good."""
    domains = func.leadpool_domain_suffixes(func.split_part(leads.c.email, "@", 2)).op("||")(
        companies.c.domain
    )
    return ~exists().where(
        or_(domain_blocks.c.agency_id.is_(None), domain_blocks.c.agency_id == agency_id),
        domain_blocks.c.domain == func.any(domains),
    )


def any_domain_blocks(session: Session, agency_id: int) -> bool:
    """Whether a domain block holds for the agency's campaigns (the platform's or its own). The
    caller holds off new blocks until the allocation commits (``allocate.lock_campaigns`` takes
    ``hold_off_domain_blocks`` before any campaign row)."""
    q = select(domain_blocks.c.id).where(
        or_(domain_blocks.c.agency_id.is_(None), domain_blocks.c.agency_id == agency_id)
    )
    return session.execute(q.limit(1)).first() is not None


def rank_columns() -> list[ColumnElement[Any]]:
    """ORDER BY terms, matching the ``ix_leads_insight_rank`` index: rank, then the insight score
    (expected positive-reply probability, see docs/insights.md; leads not scored yet last within
    their rank), then freshness, then lead id."""
    l = leads.c
    return [l.alloc_rank.desc(), l.insight_score.desc().nulls_last(), l.enriched_at.desc().nulls_last(), l.id]


def _base(target: Target, at: datetime) -> Select[tuple[int, int | None]]:
    joined = leads.outerjoin(companies, companies.c.id == leads.c.company_id)
    return (
        select(leads.c.id, leads.c.company_id)
        .select_from(joined)
        .where(
            contactable(at),
            reachable(
                target.channels,
                target.sendable_email_statuses(),
                target.zone_required,
                (target.agency_id, dict(target.consent_required), at),
            ),
            compile_icp(target.icp, leads, companies),
            *([not_blocked(target.agency_id)] if target.domain_blocks else []),
            ~exists().where(enrollments.c.lead_id == leads.c.id, enrollments.c.status == "active"),
        )
    )


def owned_candidates(
    target: Target, at: datetime, limit: int, *, company_exclusive: bool = False
) -> Select[tuple[int, int | None]]:
    """The agency's own leads that match, are not enrolled anywhere, and never were in this campaign.

    Under company exclusivity, not one whose company another agency holds: a re-import can move
    an owned lead to such a company (a job change). The agency keeps the person, but starts no
    new campaign on them there.
    """
    stmt = _base(target, at).where(
        exists().where(ownerships.c.lead_id == leads.c.id, ownerships.c.agency_id == target.agency_id),
        ~exists().where(enrollments.c.lead_id == leads.c.id, enrollments.c.campaign_id == target.campaign_id),
    )
    if company_exclusive:
        stmt = stmt.where(
            ~exists().where(
                company_owners.c.company_id == leads.c.company_id,
                company_owners.c.agency_id != target.agency_id,
            )
        )
    return stmt.order_by(*rank_columns()).limit(limit).with_for_update(of=leads, skip_locked=True)


def pool_candidates(
    target: Target,
    at: datetime,
    limit: int | None,
    *,
    company_exclusive: bool,
    skip: Sequence[int] = (),
    lock: bool = True,
) -> Select[tuple[int, int | None]]:
    """Unowned, unquarantined pool leads that match and no other campaign's refill holds, best
    first, locked for this transaction (``lock=False``: just read, for counting)."""
    l = leads.c
    stmt = _base(target, at).where(
        ~l.owned,  # the index holds only unowned leads; the anti-join below is the exact test
        ~exists().where(ownerships.c.lead_id == l.id),
        or_(l.quarantine_until.is_(None), l.quarantine_until <= at),
        # bought by another campaign's refill job, which has not allocated it yet
        ~exists().where(
            refill_holds.c.lead_id == l.id,
            refill_holds.c.campaign_id != target.campaign_id,
            refill_holds.c.held_until > at,
        ),
    )
    if company_exclusive:
        colleagues = leads.alias("colleague")
        stmt = stmt.where(
            or_(
                l.company_id.is_(None),
                # ours: we claimed it first (someone another agency owns may have moved there since)
                exists().where(
                    company_owners.c.company_id == l.company_id,
                    company_owners.c.agency_id == target.agency_id,
                ),
                and_(
                    ~exists().where(company_owners.c.company_id == l.company_id),
                    # a company nobody claimed can still be another agency's: a lead it already
                    # owned was placed there later (an import filled in or changed the company)
                    ~exists()
                    .select_from(colleagues.join(ownerships, ownerships.c.lead_id == colleagues.c.id))
                    .where(
                        colleagues.c.company_id == l.company_id,
                        ownerships.c.agency_id != target.agency_id,
                    ),
                ),
            )
        )
    if skip:
        stmt = stmt.where(l.id.not_in(list(skip)))
    stmt = stmt.order_by(*rank_columns()).limit(limit)
    return stmt.with_for_update(of=leads, skip_locked=True) if lock else stmt


def fetch(session: Session, stmt: Select[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    return [(int(r[0]), None if r[1] is None else int(r[1])) for r in session.execute(stmt)]


# advisory lock namespace for company claims (two-key form: this class id, the company id)
COMPANY_CLAIM_LOCK = 0x1EAD


def claim_companies(
    session: Session, agency_id: int, candidates: Sequence[tuple[int, int | None]], at: datetime
) -> tuple[list[tuple[int, int | None]], list[int]]:
    """Company exclusivity: claim each candidate's company; keep candidates whose company is ours.

    Returns ``(kept, dropped_lead_ids)``. A company is claimed under a transaction-level advisory
    lock taken with ``pg_try_advisory_xact_lock``: an allocator never waits for another one
    (so two allocators claiming overlapping companies in different orders cannot deadlock); a
    company someone else is claiming right now is skipped like a locked lead. The claim itself is
    ``INSERT ... ON CONFLICT DO NOTHING`` on ``company_owners`` (company_id is the primary key),
    then only companies owned by this agency are kept.
    """
    first_lead: dict[int, int] = {}
    for lid, cid in candidates:
        if cid is not None:
            first_lead.setdefault(cid, lid)
    if not first_lead:
        return list(candidates), []
    company_ids = sorted(first_lead)
    locked = set(
        session.execute(
            text(
                "SELECT c FROM unnest(CAST(:cids AS bigint[])) AS t(c) "
                # the two-int key form: ids past 2^31 share a key with a lower one, which at worst
                # skips a company this round (a try-lock that fails), never claims it twice
                "WHERE pg_try_advisory_xact_lock(:ns, CAST(c % 2147483648 AS int))"
            ),
            {"cids": company_ids, "ns": COMPANY_CLAIM_LOCK},
        ).scalars()
    )
    if locked:
        session.execute(
            text(
                """
                INSERT INTO company_owners (company_id, agency_id, acquired_at, first_lead_id)
                SELECT c, :a, :at, l FROM unnest(CAST(:cids AS bigint[]), CAST(:lids AS bigint[])) AS t(c, l)
                ON CONFLICT (company_id) DO NOTHING
                """
            ),
            {
                "a": agency_id,
                "at": at,
                "cids": sorted(locked),
                "lids": [first_lead[c] for c in sorted(locked)],
            },
        )
    ours = set(
        session.execute(
            text("SELECT company_id FROM company_owners WHERE company_id = ANY(:cids) AND agency_id = :a"),
            {"cids": sorted(locked), "a": agency_id},
        ).scalars()
    )
    kept = [(lid, cid) for lid, cid in candidates if cid is None or cid in ours]
    dropped = [lid for lid, cid in candidates if cid is not None and cid not in ours]
    return kept, dropped


def acquire(
    session: Session, agency_id: int, lead_ids: Sequence[int], at: datetime, *, actor: str, reason: str
) -> list[int]:
    """Insert ownership for each lead not owned yet; returns the leads this call acquired."""
    if not lead_ids:
        return []
    rows = session.execute(
        text(
            """
            WITH got AS (
                INSERT INTO ownerships (lead_id, agency_id, acquired_at)
                SELECT id, :a, :at FROM unnest(CAST(:ids AS bigint[])) AS t(id)
                ON CONFLICT (lead_id) DO NOTHING
                RETURNING lead_id
            ), hist AS (
                INSERT INTO lead_history (lead_id, at, action, agency_id, actor, reason)
                SELECT lead_id, :at, 'acquired', :a, :actor, :reason FROM got
            )
            SELECT lead_id FROM got
            """
        ),
        {"a": agency_id, "at": at, "ids": list(lead_ids), "actor": actor, "reason": reason},
    )
    return [int(x) for x in rows.scalars()]


def enroll(
    session: Session,
    campaign_id: int,
    agency_id: int,
    lead_ids: Sequence[int],
    at: datetime,
    *,
    actor: str,
    reason: str,
) -> list[int]:
    """Enroll leads in the campaign; a lead already actively enrolled somewhere is skipped
    (the partial unique index allows one active enrollment per lead)."""
    if not lead_ids:
        return []
    rows = session.execute(
        text(
            """
            WITH got AS (
                INSERT INTO enrollments (lead_id, campaign_id, agency_id, status, enrolled_at)
                SELECT id, :c, :a, 'active', :at FROM unnest(CAST(:ids AS bigint[])) AS t(id)
                ON CONFLICT (lead_id) WHERE status = 'active' DO NOTHING
                RETURNING lead_id
            ), hist AS (
                INSERT INTO lead_history (lead_id, at, action, agency_id, campaign_id, actor, reason)
                SELECT lead_id, :at, 'enrolled', :a, :c, :actor, :reason FROM got
            )
            SELECT lead_id FROM got
            """
        ),
        {"a": agency_id, "c": campaign_id, "at": at, "ids": list(lead_ids), "actor": actor, "reason": reason},
    )
    return [int(x) for x in rows.scalars()]


def enrolled_today(session: Session, campaign_ids: Sequence[int], at: datetime) -> dict[int, int]:
    """How many leads each campaign got since the start of ``at``'s UTC day."""
    if not campaign_ids:
        return {}
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        text(
            "SELECT campaign_id, count(*) FROM enrollments WHERE campaign_id = ANY(:c) "
            "AND enrolled_at >= :day AND enrolled_at < :next GROUP BY campaign_id"
        ),
        {"c": list(campaign_ids), "day": day, "next": day + timedelta(days=1)},
    )
    return {int(r[0]): int(r[1]) for r in rows}


__all__ = [
    "Target",
    "acquire",
    "claim_companies",
    "contactable",
    "enroll",
    "enrolled_today",
    "fetch",
    "owned_candidates",
    "pool_candidates",
    "rank_columns",
    "reachable",
]
