"""Blocked domains: nobody at a domain is contacted, by anyone or by one agency.

The platform's list (a competitor, a partner, a regulator) holds for every agency; an agency's own
list (its clients, a prospect a colleague already talks to) holds for its campaigns only. A lead
is at a domain when its email's domain, or a parent of it, or its company's domain is that
domain: blocking ``acme.com`` covers ``jane@uk.acme.com`` and every lead of the company whose
domain is ``acme.com``. The gate denies ``domain_blocked``; allocation hands such leads to no
campaign the block applies to; adding a block ends the active enrollments it covers (what the
peers call purging running campaigns), so the leads do not sit enrolled and unreachable.

Unlike a person's opt-out, a block is a business decision and can be lifted (a client leaves):
removing it lets the gate allow again; the enrollments it ended stay ended. Each change writes
an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from publicsuffixlist import PublicSuffixList
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from leadpool.allocation.rest import REST_CTES, rest_params
from leadpool.errors import InvalidInput, NotFound
from leadpool.ingestion.normalize import NotNormalisable, normalize_domain, normalize_email
from leadpool.models import AuditLog, DomainBlock
from leadpool.pool.locks import hold_off_allocation, lock_leads

MAX_REASON = 500

# Whether a lead is at the block's domain: its email's domain or a parent of it, or its
# company's domain (the gate's and allocation's test, migration 0029).
_AT_DOMAIN = (
    "(:domain = ANY (leadpool_domain_suffixes(split_part(l.email, '@', 2))) "
    "OR :domain = (SELECT co.domain FROM companies co WHERE co.id = l.company_id))"
)
# The leads whose active enrollment a block covers, in its scope (every agency's, or the
# blocking agency's), read from the active enrollments, which are few beside the pool.
_COVERED = (
    "SELECT e.lead_id FROM enrollments e JOIN leads l ON l.id = e.lead_id "
    "WHERE e.status = 'active' AND (CAST(:agency AS bigint) IS NULL OR e.agency_id = :agency) "
    f"AND {_AT_DOMAIN}"
)
# Ended in one statement after the leads' locks, the coverage tested again (a lead may have
# moved meanwhile, to another agency or another address), with the rest period every ending
# that is not an opt-out starts (the block can be lifted) and the leads' history rows.
_END = (
    "WITH ended AS ("
    " UPDATE enrollments e SET status = 'ended', ended_at = :at, end_reason = 'domain_blocked'"
    " FROM leads l WHERE l.id = e.lead_id AND e.status = 'active'"
    " AND (CAST(:agency AS bigint) IS NULL OR e.agency_id = :agency)"
    f" AND e.lead_id = ANY(:ids) AND {_AT_DOMAIN}"
    " RETURNING e.id, e.lead_id, e.campaign_id, e.agency_id)" + REST_CTES + ", hist AS ("
    " INSERT INTO lead_history (lead_id, at, action, agency_id, campaign_id, actor, reason)"
    " SELECT lead_id, :at, 'unenrolled', agency_id, campaign_id, :actor, 'domain blocked' FROM ended)"
    " SELECT count(*) FROM ended"
)


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list bundled with the package: no download


def canonical_domain(value: str) -> str:
    """``https://www.Acme.com/about`` -> ``acme.com`` (validated like an email's domain); InvalidInput otherwise."""
    try:
        host = normalize_domain(value)
        email = normalize_email(f"a@{host}") if host else None
    except NotNormalisable:
        email = None
    if email is None:
        raise InvalidInput(f"domain: {value.strip()[:100]!r} is not a domain (like acme.com)")
    domain = email.partition("@")[2]
    if _public_suffixes().is_public(domain):
        # co.uk, github.io: a parent of many organisations' domains, so blocking it would stop
        # (and end the enrollments of) every one of them
        raise InvalidInput(f"domain: {domain!r} is a public suffix, shared by many organisations, not one")
    return domain


@dataclass(frozen=True)
class Blocked:
    id: int
    domain: str
    agency_id: int | None
    reason: str
    actor: str
    created_at: datetime
    created: bool = True  # False: the same list held it already (nothing changed)
    enrollments_ended: int = 0
    removed: bool = False  # True: unblock_domain lifted it (the row is gone)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "domain": self.domain,
            "agency_id": self.agency_id,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "created": self.created,
            "enrollments_ended": self.enrollments_ended,
            "removed": self.removed,
        }


def _out(row: DomainBlock, *, created: bool = True, ended: int = 0, removed: bool = False) -> Blocked:
    return Blocked(
        row.id, row.domain, row.agency_id, row.reason, row.actor, row.created_at, created, ended, removed
    )


def block_domain(
    session: Session,
    domain: str,
    *,
    reason: str,
    actor: str,
    agency_id: int | None = None,
    at: datetime | None = None,
) -> Blocked:
    """Block a domain on the platform's list (``agency_id`` None) or an agency's. Idempotent: the
    same domain on the same list again changes nothing. Flushes, never commits."""
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON or "\x00" in reason:
        raise InvalidInput(f"reason: say why, in at most {MAX_REASON} characters (kept in the audit log)")
    if not (actor or "").strip():
        raise InvalidInput("actor: say who asks (kept in the audit log)")
    name = canonical_domain(domain)
    now = at or datetime.now(UTC)
    stmt = (
        pg_insert(DomainBlock)
        .values(agency_id=agency_id, domain=name, reason=reason, actor=actor.strip(), created_at=now)
        .on_conflict_do_nothing(index_elements=[text("coalesce(agency_id, 0)"), DomainBlock.domain])
        .returning(DomainBlock.id)
    )
    new_id = session.execute(stmt).scalar()
    if new_id is None:
        existing = _find(session, name, agency_id)
        assert existing is not None
        return _out(existing, created=False)
    # running allocations finish first, later ones see the block (leadpool.pool.locks)
    hold_off_allocation(session)
    params = {"domain": name, "agency": agency_id}
    # lock order: lead rows first, lowest id first (leadpool.pool.locks), then their enrollments
    ids = list(session.scalars(text(_COVERED), params))
    lock_leads(session, ids)
    ended = int(
        session.execute(
            text(_END), params | {"ids": ids, "at": now, "actor": actor.strip()} | rest_params(now, "removed")
        ).scalar_one()
    )
    session.add(
        AuditLog(
            at=now,
            actor=actor.strip(),
            action="domain.block",
            subject_type="domain",
            subject_id=name,
            detail={"agency_id": agency_id, "reason": reason, "enrollments_ended": ended},
        )
    )
    row = session.get(DomainBlock, new_id)
    assert row is not None
    return _out(row, ended=ended)


def _find(session: Session, domain: str, agency_id: int | None) -> DomainBlock | None:
    q = select(DomainBlock).where(DomainBlock.domain == domain)
    q = q.where(DomainBlock.agency_id.is_(None) if agency_id is None else DomainBlock.agency_id == agency_id)
    return session.scalars(q).first()


def unblock_domain(
    session: Session, domain: str, *, actor: str, agency_id: int | None = None, at: datetime | None = None
) -> Blocked:
    """Lift a block from the platform's list or an agency's; NotFound when that list lacks it."""
    name = canonical_domain(domain)
    row = _find(session, name, agency_id)
    whose = "the platform's list" if agency_id is None else f"agency {agency_id}'s list"
    if row is None:
        raise NotFound(f"{name} is not on {whose} of blocked domains")
    out = _out(row, created=False, removed=True)
    session.delete(row)
    session.add(
        AuditLog(
            at=at or datetime.now(UTC),
            actor=(actor or "").strip() or "unknown",
            action="domain.unblock",
            subject_type="domain",
            subject_id=name,
            detail={"agency_id": agency_id, "reason_was": row.reason},
        )
    )
    session.flush()
    return out


def blocked_domains(
    session: Session, *, agency_id: int | None = None, platform: bool = True
) -> list[Blocked]:
    """For an agency: its own list, and the platform's with ``platform``. Without one: every
    list (``platform``) or every agency's. By domain."""
    q = select(DomainBlock)
    if agency_id is None:  # every list (platform), or every agency's
        q = q if platform else q.where(DomainBlock.agency_id.is_not(None))
    else:
        mine = DomainBlock.agency_id == agency_id
        q = q.where(mine | DomainBlock.agency_id.is_(None) if platform else mine)
    return [
        _out(r) for r in session.scalars(q.order_by(DomainBlock.domain, DomainBlock.agency_id.nulls_first()))
    ]
