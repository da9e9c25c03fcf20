"""A lead's story in order: ownership and enrollment changes, gate decisions, touches, events, audit,
and the contact memory that applied to it (rest periods, pauses of its company); and a company's
story: touches to all its people, their replies and opt-outs, and the company's pauses.

Events stored before the pool held the person (matched later by address hash) are included too.
Entries at the same instant are ordered history, rest, decision, touch, event, pause, audit, then
by row id, so a check comes before the touch it reserved and an event before the pause it caused.

Paging: each entry has a :class:`Position` (its instant, the rank of its table in that order, its
row id), a total order. ``limit`` and ``after`` read one page: every source table is queried with
``ORDER BY`` its instant and id ``LIMIT limit`` beyond the position (on its ``(lead_id, at)`` /
``(company_id, at)`` index), the pieces are merged here and cut to ``limit``. Without ``limit``
everything is returned, as before; :func:`iter_lead_timeline` / :func:`iter_company_timeline`
walk a whole timeline page by page.

A position given to a client is sealed (:meth:`Position.cursor`): encrypted and authenticated
with AES-GCM under a key derived from the platform secret key, so a cursor that resumes past
entries hidden from the caller tells nothing about them, and one the service did not issue (or
issued under another secret) is refused.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from leadpool.config import get_settings
from leadpool.errors import InvalidInput, NotFound
from leadpool.ingestion.hashing import address_hmac
from leadpool.limits import MAX_ID
from leadpool.models import (
    AuditLog,
    Company,
    CompanyPause,
    Decision,
    Event,
    Lead,
    LeadHistory,
    RestPeriod,
    Touch,
)

_OWNERSHIP_ACTIONS = {"acquired", "released", "converted", "transferred", "quarantined"}
# the order of entries at the same instant, by the table behind them
_RANK = {
    "lead_history": 0,
    "rest_periods": 1,
    "decisions": 2,
    "touches": 3,
    "events": 4,
    "company_pauses": 5,
    "audit_log": 6,
}
# events about a colleague that the company timeline lists (deliveries and opens are noise there)
_COMPANY_EVENT_TYPES = ("reply", "unsubscribe", "complaint", "converted")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# a sealed cursor: "t2." + base64url(nonce | AES-GCM(instant in microseconds, rank, row id) | tag),
# the prefix bound in as associated data. "t1." cursors (plain base64, before sealing) are refused.
_CURSOR_PREFIX = "t2."
_CURSOR_PLAIN = struct.Struct(">qBQ")  # micros since the epoch, table rank, row id
_CURSOR_NONCE = 12
_CURSOR_SEALED = _CURSOR_NONCE + _CURSOR_PLAIN.size + 16  # 45 bytes: 60 base64 characters
_CURSOR_BODY = (_CURSOR_SEALED * 4 + 2) // 3
_CURSOR_KDF_INFO = b"leadpool timeline cursor v2"
_B64URL = re.compile(r"[A-Za-z0-9_-]+").fullmatch

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Position:
    """Where an entry sits in a timeline: the sort key (instant, table rank, row id)."""

    at: datetime
    rank: int
    row_id: int

    def cursor(self, secret: bytes | None = None, *, context: str = "") -> str:
        """An opaque, URL-safe token for this position (what ``from_cursor`` reads back), sealed
        with ``secret`` (default: the platform secret key): it reveals nothing of the position.
        ``context`` (the timeline, its order, the caller) is bound in: a cursor past rows hidden
        from the caller, replayed on another timeline, would place them in time."""
        delta = self.at - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        nonce = os.urandom(_CURSOR_NONCE)
        sealed = _cursor_aead(secret).encrypt(
            nonce, _CURSOR_PLAIN.pack(micros, self.rank, self.row_id), (_CURSOR_PREFIX + context).encode()
        )
        return _CURSOR_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    @classmethod
    def from_cursor(cls, token: str, secret: bytes | None = None, *, context: str = "") -> Position:
        """Raises InvalidInput for anything ``cursor`` did not produce (with this secret and
        context): altered, cut short, sealed under another secret, given for another timeline,
        order or caller, or an old unsealed ``t1.`` cursor."""
        bad = InvalidInput(f"cursor {token[:80]!r} is not a timeline cursor (use next_cursor of a page)")
        body = token[len(_CURSOR_PREFIX) :]
        if not token.startswith(_CURSOR_PREFIX) or len(body) != _CURSOR_BODY or not _B64URL(body):
            raise bad
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise bad from None
        if len(raw) != _CURSOR_SEALED:
            raise bad
        try:
            plain = _cursor_aead(secret).decrypt(
                raw[:_CURSOR_NONCE], raw[_CURSOR_NONCE:], (_CURSOR_PREFIX + context).encode()
            )
            micros, rank, row_id = _CURSOR_PLAIN.unpack(plain)
            at = _EPOCH + timedelta(microseconds=micros)
        except (InvalidTag, struct.error, OverflowError):
            raise bad from None
        if not (0 <= rank <= max(_RANK.values()) and 0 <= row_id <= MAX_ID):
            raise bad
        return cls(at, rank, row_id)


def _cursor_aead(secret: bytes | None) -> AESGCM:
    """The cursor cipher: AES-256-GCM under a key derived (HKDF-SHA256) from ``secret``, by
    default the platform secret key, so cursors are bound to it and it is never used directly."""
    return _cursor_aead_for(secret if secret is not None else get_settings().resolved_secret_key())


@functools.lru_cache(maxsize=8)
def _cursor_aead_for(secret: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CURSOR_KDF_INFO).derive(secret)
    return AESGCM(key)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    # ownership.<action>, enrollment.<action>, rest.started, decision, touch, event.<type>,
    # company.paused, audit.<action>
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # table:id, so an entry can be traced to its row

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def position(self) -> Position:
        """The entry's place in its timeline (from ``source``: take it before redacting that)."""
        table, _, row_id = self.source.partition(":")
        return Position(self.at, _RANK[table], int(row_id))


# reads one page of a timeline: (limit or None for all, position to start beyond, newest first)
Fetch = Callable[[int | None, Position | None, bool], list[TimelineEntry]]


def _beyond(
    at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[int],
    rank: int,
    after: Position | None,
    newest_first: bool,
) -> ColumnElement[bool]:
    """Rows of one table (all of the same rank) strictly beyond ``after`` in the page order, written
    so the ``(..., at)`` index bounds the scan."""
    if after is None:
        return true()
    if not newest_first:
        if rank > after.rank:
            return at >= after.at
        if rank < after.rank:
            return at > after.at
        return and_(at >= after.at, or_(at > after.at, row_id > after.row_id))
    if rank < after.rank:
        return at <= after.at
    if rank > after.rank:
        return at < after.at
    return and_(at <= after.at, or_(at < after.at, row_id < after.row_id))


def _rows(
    session: Session,
    stmt: Select[tuple[T]],
    at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[int],
    table: str,
    limit: int | None,
    after: Position | None,
    newest_first: bool,
) -> Iterable[T]:
    """One source's rows in page order, beyond ``after``, at most ``limit``."""
    stmt = stmt.where(_beyond(at, row_id, _RANK[table], after, newest_first))
    stmt = stmt.order_by(at.desc(), row_id.desc()) if newest_first else stmt.order_by(at, row_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.execute(stmt).scalars()


def _merge(entries: list[TimelineEntry], limit: int | None, newest_first: bool) -> list[TimelineEntry]:
    entries.sort(key=lambda e: e.position, reverse=newest_first)
    return entries if limit is None else entries[:limit]


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1, not {limit}")


def lead_timeline(
    session: Session,
    lead_id: int,
    *,
    limit: int | None = None,
    after: Position | None = None,
    newest_first: bool = False,
) -> list[TimelineEntry]:
    """What happened to one lead, oldest first (``newest_first``: the reverse), beyond ``after``,
    at most ``limit`` entries (None: all). Raises NotFound for an unknown lead."""
    _check_limit(limit)
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    entries: list[TimelineEntry] = []

    def rows(stmt: Select[tuple[T]], at: Any, row_id: Any, table: str) -> Iterable[T]:
        return _rows(session, stmt, at, row_id, table, limit, after, newest_first)

    history = select(LeadHistory).where(LeadHistory.lead_id == lead_id)
    for h in rows(history, LeadHistory.at, LeadHistory.id, "lead_history"):
        group = "ownership" if h.action in _OWNERSHIP_ACTIONS else "enrollment"
        entries.append(
            TimelineEntry(
                h.at,
                f"{group}.{h.action}",
                {
                    "agency_id": h.agency_id,
                    "campaign_id": h.campaign_id,
                    "actor": h.actor,
                    "reason": h.reason,
                },
                f"lead_history:{h.id}",
            )
        )

    for d in rows(select(Decision).where(Decision.lead_id == lead_id), Decision.at, Decision.id, "decisions"):
        entries.append(
            TimelineEntry(
                d.at,
                "decision",
                {
                    "allowed": d.allowed,
                    "channel": d.channel,
                    "campaign_id": d.campaign_id,
                    "agency_id": d.agency_id,
                    "sender": d.sender,
                    "reasons": d.reasons,
                    "touch_id": d.touch_id,
                },
                f"decisions:{d.id}",
            )
        )

    for t in rows(select(Touch).where(Touch.lead_id == lead_id), Touch.at, Touch.id, "touches"):
        entries.append(
            TimelineEntry(
                t.at,
                "touch",
                {
                    "state": t.state,
                    "channel": t.channel,
                    "campaign_id": t.campaign_id,
                    "agency_id": t.agency_id,
                    "sender": t.sender,
                    "sent_at": t.sent_at,
                    "ended_at": t.ended_at,
                    "provider_message_id": t.provider_message_id,
                },
                f"touches:{t.id}",
            )
        )

    # the lead's own events, then those stored by address hash for no lead or another lead: two
    # queries, so each is read in order from its own index
    event_queries = [select(Event).where(Event.lead_id == lead_id)]
    hmacs = _lead_hmacs(lead)
    if hmacs:
        event_queries.append(
            select(Event).where(
                Event.address_hmac.in_(hmacs), or_(Event.lead_id.is_(None), Event.lead_id != lead_id)
            )
        )
    for query in event_queries:
        for e in rows(query, Event.occurred_at, Event.id, "events"):
            entries.append(
                TimelineEntry(
                    e.occurred_at,
                    f"event.{e.type}",
                    {
                        "category": e.category,
                        "channel": e.channel,
                        "source": e.source,
                        "provider_event_id": e.provider_event_id,
                        "campaign_id": e.campaign_id,
                        "touch_id": e.touch_id,
                        "sender": e.sender,
                        "received_at": e.received_at,
                        "detail": e.detail,
                        "lead_id": e.lead_id,
                        "reported_by_agency_id": e.reported_by_agency_id,
                    },
                    f"events:{e.id}",
                )
            )

    rests = select(RestPeriod).where(RestPeriod.lead_id == lead_id)
    for r in rows(rests, RestPeriod.started_at, RestPeriod.id, "rest_periods"):
        entries.append(_rest_entry(r))

    if lead.company_id is not None:
        # pauses of the company the lead belongs to now (what the gate applies), except its own
        pauses = select(CompanyPause).where(
            CompanyPause.company_id == lead.company_id,
            or_(CompanyPause.lead_id.is_(None), CompanyPause.lead_id != lead_id),
        )
        for p in rows(pauses, CompanyPause.started_at, CompanyPause.id, "company_pauses"):
            entries.append(_pause_entry(p, with_lead=False))

    audits = select(AuditLog).where(AuditLog.subject_type == "lead", AuditLog.subject_id == str(lead_id))
    for a in rows(audits, AuditLog.at, AuditLog.id, "audit_log"):
        entries.append(
            TimelineEntry(
                a.at, f"audit.{a.action}", {"actor": a.actor, **(a.detail or {})}, f"audit_log:{a.id}"
            )
        )

    return _merge(entries, limit, newest_first)


def _lead_hmacs(lead: Lead) -> list[str]:
    key = get_settings().resolved_secret_key()
    out: list[str] = []
    for kind, value in (("email", lead.email), ("phone", lead.phone), ("linkedin", lead.linkedin_url)):
        if value:
            try:
                out.append(address_hmac(kind, value, key))
            except InvalidInput:
                continue
    return out


def _rest_entry(r: RestPeriod) -> TimelineEntry:
    return TimelineEntry(
        r.started_at,
        "rest.started",
        {
            "until": r.until,
            "reason": r.reason,  # what ended the enrollment: the cause of the rest
            "enrollment_id": r.enrollment_id,
            "campaign_id": r.campaign_id,
            "agency_id": r.agency_id,
        },
        f"rest_periods:{r.id}",
    )


def _pause_entry(p: CompanyPause, *, with_lead: bool) -> TimelineEntry:
    detail: dict[str, Any] = {
        "company_id": p.company_id,
        "until": p.until,
        "cause": p.kind,
        "cause_event_id": p.cause_event_id,
    }
    if with_lead:
        detail["lead_id"] = p.lead_id
    return TimelineEntry(p.started_at, "company.paused", detail, f"company_pauses:{p.id}")


def company_timeline(
    session: Session,
    company_id: int,
    *,
    limit: int | None = None,
    after: Position | None = None,
    newest_first: bool = False,
) -> list[TimelineEntry]:
    """A company's story, oldest first (``newest_first``: the reverse), beyond ``after``, at most
    ``limit`` entries (None: all): touches to all its people (by the company recorded on the
    touch), their replies, opt-outs and conversions (people at the company now), and its pauses.
    Raises NotFound for an unknown company."""
    _check_limit(limit)
    if session.get(Company, company_id) is None:
        raise NotFound(f"company {company_id} not found")
    entries: list[TimelineEntry] = []

    def rows(stmt: Select[tuple[T]], at: Any, row_id: Any, table: str) -> Iterable[T]:
        return _rows(session, stmt, at, row_id, table, limit, after, newest_first)

    for t in rows(select(Touch).where(Touch.company_id == company_id), Touch.at, Touch.id, "touches"):
        entries.append(
            TimelineEntry(
                t.at,
                "touch",
                {
                    "lead_id": t.lead_id,
                    "state": t.state,
                    "channel": t.channel,
                    "campaign_id": t.campaign_id,
                    "agency_id": t.agency_id,
                    "sent_at": t.sent_at,
                    "ended_at": t.ended_at,
                },
                f"touches:{t.id}",
            )
        )
    people = select(Lead.id).where(Lead.company_id == company_id)
    causes = select(CompanyPause.cause_event_id).where(
        CompanyPause.company_id == company_id, CompanyPause.cause_event_id.is_not(None)
    )
    # one id list from two index-driven branches: an OR of the two IN lists is a filter no index
    # serves, which read every event on the platform for each page
    ids = select(Event.id).where(Event.lead_id.in_(people)).union_all(causes)
    events = select(Event).where(Event.id.in_(ids), Event.type.in_(_COMPANY_EVENT_TYPES))
    for e in rows(events, Event.occurred_at, Event.id, "events"):
        entries.append(
            TimelineEntry(
                e.occurred_at,
                f"event.{e.type}",
                {
                    "lead_id": e.lead_id,
                    "category": e.category,
                    "channel": e.channel,
                    "source": e.source,
                    "campaign_id": e.campaign_id,
                    "touch_id": e.touch_id,
                    "reported_by_agency_id": e.reported_by_agency_id,
                },
                f"events:{e.id}",
            )
        )
    pauses = select(CompanyPause).where(CompanyPause.company_id == company_id)
    for p in rows(pauses, CompanyPause.started_at, CompanyPause.id, "company_pauses"):
        entries.append(_pause_entry(p, with_lead=True))
    return _merge(entries, limit, newest_first)


def walk(fetch: Fetch, page: int, after: Position | None, newest_first: bool) -> Iterator[TimelineEntry]:
    """Every entry beyond ``after``, read by ``fetch`` ``page`` entries at a time."""
    _check_limit(page)
    while True:
        entries = fetch(page, after, newest_first)
        yield from entries
        if len(entries) < page:
            return
        after = entries[-1].position


def iter_lead_timeline(
    session: Session,
    lead_id: int,
    *,
    after: Position | None = None,
    newest_first: bool = False,
    page: int = 1000,
) -> Iterator[TimelineEntry]:
    """The whole lead timeline (beyond ``after``), read ``page`` entries at a time. Raises NotFound
    on the first read for an unknown lead."""
    return walk(
        lambda n, pos, newest: lead_timeline(session, lead_id, limit=n, after=pos, newest_first=newest),
        page,
        after,
        newest_first,
    )


def iter_company_timeline(
    session: Session,
    company_id: int,
    *,
    after: Position | None = None,
    newest_first: bool = False,
    page: int = 1000,
) -> Iterator[TimelineEntry]:
    """The whole company timeline (beyond ``after``), read ``page`` entries at a time."""
    return walk(
        lambda n, pos, newest: company_timeline(session, company_id, limit=n, after=pos, newest_first=newest),
        page,
        after,
        newest_first,
    )


# a page for a caller who sees only some entries stops after reading this many
SCAN_BUDGET = 20_000


def visible_page(
    fetch: Fetch,
    *,
    limit: int,
    after: Position | None,
    newest_first: bool,
    view: Callable[[Sequence[TimelineEntry]], list[TimelineEntry | None]] | None = None,
    scan_budget: int = SCAN_BUDGET,
) -> tuple[list[TimelineEntry], Position | None]:
    """One page as a caller sees it: ``view`` maps each entry of a batch to what the caller sees of
    it (None: hidden). Reads batches until ``limit`` visible entries are found, the timeline ends,
    or ``scan_budget`` entries were read (then the page is short). Returns the visible entries and
    the position to continue after, None when nothing is left: after the last entry shown when the
    page is full (hidden entries beyond it are skipped again by the next page), else after the last
    entry read, which may be a hidden one (the cursor made of it is sealed: it does not show it)."""
    _check_limit(limit)
    # one more than a page tells whether another follows; a filtered read takes larger batches
    batch = limit + 1 if view is None else max(limit + 1, min(500, scan_budget))
    shown: list[TimelineEntry] = []
    last_shown: Position | None = None
    scanned = 0
    while True:
        entries = fetch(batch, after, newest_first)
        seen = view(entries) if view is not None else list(entries)
        for raw, visible in zip(entries, seen, strict=True):
            if visible is not None:
                if len(shown) == limit:  # one more exists: continue after the last one shown
                    return shown, last_shown
                shown.append(visible)
                last_shown = raw.position
            after = raw.position
            scanned += 1
        if len(entries) < batch:
            return shown, None
        if scanned >= scan_budget:
            return shown, after
