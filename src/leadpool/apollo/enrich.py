"""Enrichment that never pays twice: bulk_match only the people the pool cannot already serve.

``enrich_people`` takes candidates (api_search teaser rows, or identity dicts carrying an Apollo
id, email or LinkedIn URL), skips those the pool already holds with a usable email enriched
within ``max_age``, and sends the rest to ``people/bulk_match`` ten at a time, within a credit
budget. Every response is imported through :func:`leadpool.ingestion.import_people`, which keeps
the exact body as a raw payload with its endpoint, request, headers and credits.

``search_and_enrich`` is the refill path: it pages ``mixed_people/api_search`` (keeping each page as
a raw payload too), drops people the pool already has, and enriches the rest until ``want`` new
leads have arrived or the pages or the budget run out.

Transactions: like ingestion, these commit as they go (each purchase is stored as soon as it is
made, so a later failure never loses data that was paid for). Call them from a job or command,
not inside a caller's transaction.

Booked before paid: each bulk_match is booked in ``raw_payloads`` at its worst case and committed
before it is sent, so a worker killed during the call (SIGKILL, out of memory, a node lost)
leaves the day's budget counting what Apollo may have charged. The answer replaces the booking in
the transaction that stores it; a lost answer turns it into the lost call's row; a call Apollo
surely never took removes it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import Connection, delete, select, text
from sqlalchemy.orm import Session

from leadpool.apollo.client import BULK_MATCH_MAX, IDENTITY_FIELDS, ApolloClient, ApolloResponse
from leadpool.apollo.errors import (
    ApolloError,
    ApolloRequestError,
    ApolloUnavailable,
    AuthError,
    ChargeUncertain,
    PaidCallRefused,
    RateLimited,
)
from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.events.effects import suppress
from leadpool.ingestion import Rejection, import_people
from leadpool.ingestion.erased import APOLLO_ID, erased_people, take_import_lock
from leadpool.ingestion.hashing import hmac_hex, older_hmacs
from leadpool.ingestion.normalize import (
    NotNormalisable,
    is_role_address,
    normalize_email,
    normalize_linkedin_url,
)
from leadpool.models import RawPayload
from leadpool.privacy.payloads import redact_people

__all__ = [
    "IN_FLIGHT",
    "EnrichResult",
    "book_paid_call",
    "enrich_people",
    "search_and_enrich",
    "store_lost_call",
    "store_response",
]

BULK_ENDPOINT = "people/bulk_match"
SEARCH_ENDPOINT = "mixed_people/api_search"
# Budgeting price per record, unless a response showed Apollo charging more: bulk_match's
# credits_consumed "may be fractional e.g. 1.01" per record (apollo.md 2.4) and may move within a
# run, so no call is priced at exactly 1 credit, however many charged 1.
UNPRICED_CREDITS_PER_RECORD = 1.25
# What the client raises for a paid call only when Apollo surely did not take it, so nothing was
# charged: a 401/403 or 4xx refusal (or a request it refused to send), 429s to the last retry, a
# connection never made. Any other failure keeps the call's booking (ChargeUncertain: as the lost
# call's row).
_NOT_CHARGED = (AuthError, ApolloRequestError, RateLimited, ApolloUnavailable)
# response_headers._leadpool of a call booked before it was sent, until its answer settles it
IN_FLIGHT = (
    "in flight: booked at its worst case before it was sent; still so, the worker died during the "
    "call, and Apollo charged at most the credits booked"
)
# A caller's own ledger of the credits (a refill job's report): called with each change to what
# the day's budget counts, in the transaction that makes it
CreditsHook = Callable[[Session, Decimal], None]
# told the leads each import batch stored, in its transaction (ingestion.import_people's on_leads)
LeadsHook = Callable[[psycopg.Cursor[Any], list[int]], None]
# A usable email: present, not bounced for us, and not one Apollo itself calls unavailable/bounced.
_FRESH_SQL = text(
    """
    SELECT apollo_id, email, linkedin_url, erased_at IS NOT NULL AS erased,
           (unsubscribed_at IS NOT NULL OR complained_at IS NOT NULL OR blocklisted_at IS NOT NULL)
               AS suppressed,
           (email IS NOT NULL AND email_bounced_at IS NULL
            AND coalesce(lower(email_status), '') NOT IN ('unavailable', 'bounced')
            AND enriched_at > :cutoff) AS fresh
    FROM leads
    WHERE apollo_id = ANY(:ids) OR email = ANY(:emails) OR linkedin_url = ANY(:linkedins)
    UNION ALL
    -- bought within max_age under this id, whatever lead it went to (a person Apollo holds under
    -- two ids is merged into the lead that has the other one)
    SELECT x, NULL, NULL, false, false, true FROM unnest(CAST(:ids AS text[])) AS x
    WHERE EXISTS (SELECT 1 FROM raw_payloads r WHERE r.apollo_person_ids @> jsonb_build_array(x)
                  AND r.endpoint IN ('people/bulk_match', 'people/match') AND r.fetched_at > :cutoff)
    """
)
# erase() nulls the tombstone's addresses: an erased person asked for by address is known only
# by the keyed hashes in their `erased` suppressions
_ERASED_SQL = text(
    "SELECT address_type, value_hmac, kind FROM suppressions "
    "WHERE kind IN ('erased', 'unsubscribed', 'complained', 'blocklisted') AND value_hmac = ANY(:h)"
)
_EXISTING_SQL = text(
    "SELECT id FROM leads WHERE apollo_id = ANY(:ids) OR email = ANY(:emails) OR linkedin_url = ANY(:linkedins)"
)
_ERASED_IDS_SQL = text("SELECT apollo_id FROM leads WHERE apollo_id = ANY(:ids) AND erased_at IS NOT NULL")
# held by a lead, or bought before under this id (a second Apollo id for a person the pool holds)
_IN_POOL_SQL = text(
    """
    SELECT x FROM unnest(CAST(:ids AS text[])) AS x
    WHERE EXISTS (SELECT 1 FROM leads l WHERE l.apollo_id = x)
       OR EXISTS (SELECT 1 FROM raw_payloads r WHERE r.apollo_person_ids @> jsonb_build_array(x)
                  AND r.endpoint IN ('people/bulk_match', 'people/match'))
       -- a second id that came in a file (an export listing the person twice): the lead keeps the
       -- first, the file's payload linked to it names the second
       OR EXISTS (SELECT 1 FROM raw_payloads r JOIN lead_raw_payloads lr ON lr.raw_payload_id = r.id
                  WHERE r.apollo_person_ids @> jsonb_build_array(x) AND r.endpoint LIKE 'file:%')
    """
)


@dataclass
class EnrichResult:
    """What an enrichment run did and spent.

    ``enriched_lead_ids``: leads written from matches (new or refreshed), in order, no repeats;
    ``new_lead_ids``: those that were not in the pool before. ``rejected`` indexes refer to the
    candidates given (for ``search_and_enrich``: to the order candidates were met in the pages).
    ``stop_reason``: "done" (candidates exhausted), "want" (enough new leads), "budget",
    "pages" (max_pages reached), "exhausted" (search had no more results) or "error" (an
    ApolloError interrupted the run; the error's ``partial`` attribute holds this result).
    """

    enriched_lead_ids: list[int] = field(default_factory=list)
    new_lead_ids: list[int] = field(default_factory=list)
    skipped_already_fresh: int = 0
    skipped_in_pool: int = 0  # search_and_enrich: teaser rows whose Apollo id the pool already has
    skipped_erased: int = 0  # people erased from the pool are never bought back
    # people who opted out (unsubscribed, complained) or are blocklisted: nobody may contact them
    # again, so their data is never bought again either, however old
    skipped_suppressed: int = 0
    credits_consumed: float = 0.0
    stopped_by_budget: bool = False
    rejected: list[Rejection] = field(default_factory=list)
    requested: int = 0  # people sent to bulk_match
    not_found: int = 0  # null matches
    bulk_calls: int = 0
    pages: int = 0  # api_search pages fetched
    searched: int = 0  # teaser rows seen
    stop_reason: str = "done"

    def summary(self) -> dict[str, Any]:
        return {
            "enriched": len(self.enriched_lead_ids),
            "new": len(self.new_lead_ids),
            "skipped_already_fresh": self.skipped_already_fresh,
            "skipped_in_pool": self.skipped_in_pool,
            "skipped_erased": self.skipped_erased,
            "skipped_suppressed": self.skipped_suppressed,
            "credits_consumed": self.credits_consumed,
            "stopped_by_budget": self.stopped_by_budget,
            "rejected": len(self.rejected),
            "requested": self.requested,
            "not_found": self.not_found,
            "bulk_calls": self.bulk_calls,
            "pages": self.pages,
            "searched": self.searched,
            "stop_reason": self.stop_reason,
        }


def store_response(db: Database, response: ApolloResponse, apollo_person_ids: list[str] | None = None) -> int:
    """Append one response to ``raw_payloads`` exactly as received; returns the row id. Commits."""
    with session_scope(db) as session:
        return _add_response(session, response, apollo_person_ids)


def _add_response(session: Session, response: ApolloResponse, apollo_person_ids: list[str] | None) -> int:
    """Add one response to ``raw_payloads`` exactly as received (flushed); returns the row id."""
    row = RawPayload(
        endpoint=response.endpoint,
        source_name=response.url,
        fetched_at=response.fetched_at,
        credits_consumed=Decimal(str(response.credits_consumed))
        if response.credits_consumed is not None
        else None,
        request=response.request,
        response_headers=response.headers,
        body=response.body,
        body_sha256=hashlib.sha256(response.body.encode()).hexdigest(),
        apollo_person_ids=apollo_person_ids,
    )
    session.add(row)
    session.flush()
    return row.id


def store_lost_call(
    db: Database, error: ChargeUncertain, worst_case_credits: float, *, booking_id: int | None = None
) -> int:
    """Book a paid call whose answer was lost, at its worst-case cost; returns the row id. Commits.

    It is a ``raw_payloads`` row like any purchase (the day's budget sums those), with the request
    sent, an empty body (nothing was received) and the failure under ``response_headers._leadpool``.
    ``booking_id``: the row the call was booked as before it was sent (:func:`book_paid_call`),
    which becomes the lost call's row, so the call is counted once.
    """
    marker = {"outcome": "no usable answer; charged at most the credits booked", "error": str(error)}
    with session_scope(db) as session:
        row = session.get(RawPayload, booking_id, with_for_update=True) if booking_id is not None else None
        if row is not None:
            # request and other headers stay as they are: an erasure during the call may have
            # taken a person out of the request and marked the headers
            row.response_headers = {**(row.response_headers or {}), "_leadpool": marker}
            row.credits_consumed = Decimal(str(worst_case_credits))
            return row.id
        row = _booking(error.endpoint, error.url, error.request, worst_case_credits, marker)
        session.add(row)
        session.flush()
        return row.id


def book_paid_call(
    db: Database,
    endpoint: str,
    url: str,
    request: dict[str, Any],
    worst_case_credits: float,
    on_credits: CreditsHook | None = None,
) -> int:
    """Book a paid call at its worst case before it is sent; returns the row id. Commits.

    A ``raw_payloads`` row with the request, an empty body and :data:`IN_FLIGHT` under
    ``response_headers._leadpool``: the day's budget counts it even if the process dies during the
    call. Not a payload received but a booking, so the exception to raw_payloads being
    append-only: the answer replaces it (deleted in the transaction storing the answer), or it
    becomes the lost call's row, or (a call Apollo surely never took) it is deleted. Like a lost
    call's row it has no Apollo ids and no lead link, so nothing reads it as people bought.
    ``on_credits`` books the same credits in the same transaction.
    """
    with session_scope(db) as session:
        row = _booking(endpoint, url, request, worst_case_credits, {"outcome": IN_FLIGHT})
        session.add(row)
        session.flush()
        if on_credits is not None:
            on_credits(session, Decimal(str(worst_case_credits)))
        return row.id


def _booking(endpoint: str, url: str, request: Any, credits: float, marker: dict[str, Any]) -> RawPayload:
    # no Apollo ids: nothing was received, so the call names nobody as bought (_IN_POOL_SQL,
    # _FRESH_SQL); its request is what erasure searches (privacy.payloads.redact_lost_calls)
    return RawPayload(
        endpoint=endpoint,
        source_name=url,
        fetched_at=datetime.now(UTC),
        credits_consumed=Decimal(str(credits)),
        request=request,
        response_headers={"_leadpool": marker},
        body="",
        body_sha256=hashlib.sha256(b"").hexdigest(),
        apollo_person_ids=None,
    )


def _settle_refused(session: Session, booking_id: int, error: PaidCallRefused) -> None:
    """The booking of a call Apollo refused becomes its row, at the credits the answer states.
    Its body stays empty, the request kept: the answer names nobody, and an erasure finds the
    people asked for in the request of such a row (``privacy.payloads.redact_lost_calls``)."""
    marker = {"outcome": "answered with an error and no matches; charged what it stated", "error": str(error)}
    row = session.get(RawPayload, booking_id, with_for_update=True)
    if row is None:  # as for a lost call: the charge is booked whatever became of the booking
        session.add(_booking(error.endpoint, error.url, error.request, error.credits_consumed, marker))
        return
    row.response_headers = {**(row.response_headers or {}), "_leadpool": marker}
    row.credits_consumed = Decimal(str(error.credits_consumed))


def _unbook(session: Session, booking_id: int) -> None:
    session.execute(delete(RawPayload).where(RawPayload.id == booking_id))


def _norm(kind: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalize_email(value) if kind == "email" else normalize_linkedin_url(value)
    except NotNormalisable:
        return None


@dataclass(frozen=True)
class _Candidate:
    index: int
    detail: dict[str, Any]  # what bulk_match is sent
    apollo_id: str | None
    email: str | None
    linkedin: str | None


def _candidate(index: int, raw: Mapping[str, Any]) -> _Candidate | None:
    detail: dict[str, Any] = {}
    for key in IDENTITY_FIELDS:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            detail[key] = value.strip()
    email = _norm("email", detail.get("email"))
    if "email" in detail and email is None:
        del detail["email"]  # Apollo's locked placeholder, or not an address at all
    if not detail:
        return None
    return _Candidate(index, detail, detail.get("id"), email, _norm("linkedin", detail.get("linkedin_url")))


def _keys(apollo_id: str | None, email: str | None, linkedin: str | None) -> set[str]:
    """The identity keys a lead or candidate can be recognised by (normalised values)."""
    keys = {f"id:{apollo_id}"} if apollo_id else set()
    if email:
        keys.add(f"email:{email}")
    if linkedin:
        keys.add(f"li:{linkedin}")
    return keys


class _Enricher:
    def __init__(
        self,
        db: Database,
        client: ApolloClient,
        *,
        max_age: timedelta,
        credit_budget: float | None,
        credits_per_record: float,
        unpriced_credits_per_record: float,
        on_credits: CreditsHook | None = None,
        on_leads: LeadsHook | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.on_credits = on_credits
        self.on_leads = on_leads
        self.max_age = max_age
        self.budget = credit_budget
        self.credits_per_record = credits_per_record
        self.unpriced_credits_per_record = unpriced_credits_per_record
        self.seen_per_record: float | None = None  # highest cost per record Apollo charged this run
        self.result = EnrichResult()
        self._seen: set[str] = set()  # identity keys already handled in this run
        self._enriched: set[int] = set()
        self._new: set[int] = set()

    def _planning_price(self) -> float:
        """Per-record price a call is budgeted at: the highest Apollo charged so far in this run,
        never below the cautious unpriced guess (nor ``credits_per_record``). Apollo's price may
        be fractional and move within a run (1.0, then 1.01: apollo.md 2.4/3), so the price seen
        alone would let the next call overrun the budget. Lost calls are booked at this too: the
        worst case the budget allowed for."""
        return max(self.credits_per_record, self.unpriced_credits_per_record, self.seen_per_record or 0.0)

    def _remaining_records(self) -> int | None:
        if self.budget is None:
            return None
        left = self.budget - self.result.credits_consumed
        return max(0, math.floor(left / self._planning_price() + 1e-9))

    def _note_price(self, credits: float, matched: int, sent: int) -> None:
        """Learn the per-record price from a paid response (per matched record, or per record
        sent when Apollo charged for a call that matched nobody)."""
        if credits <= 0:
            return
        per_record = credits / (matched or sent)
        self.seen_per_record = max(self.seen_per_record or 0.0, per_record)

    def _skip_fresh(self, candidates: list[_Candidate]) -> list[_Candidate]:
        ids = [c.apollo_id for c in candidates if c.apollo_id]
        emails = [c.email for c in candidates if c.email]
        linkedins = [c.linkedin for c in candidates if c.linkedin]
        cutoff = datetime.now(UTC) - self.max_age
        fresh: set[str] = set()
        erased: set[str] = set()
        suppressed: set[str] = set()
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                _FRESH_SQL, {"ids": ids, "emails": emails, "linkedins": linkedins, "cutoff": cutoff}
            )
            for apollo_id, email, linkedin, is_erased, is_suppressed, is_fresh in rows:
                keys = _keys(apollo_id, email, linkedin)
                if is_erased:
                    erased |= keys
                elif is_suppressed:
                    suppressed |= keys
                elif is_fresh:
                    fresh |= keys
            by_address = _suppressed_addresses(conn, candidates)
            erased |= by_address[0]
            suppressed |= by_address[1]
        keep: list[_Candidate] = []
        for c in candidates:
            keys = _keys(c.apollo_id, c.email, c.linkedin)
            if keys & erased:
                self.result.skipped_erased += 1
            elif keys & suppressed:
                self.result.skipped_suppressed += 1
            elif keys & fresh:
                self.result.skipped_already_fresh += 1
            elif keys & self._seen:
                continue  # the same person twice in one run: pay once
            else:
                self._seen |= keys
                keep.append(c)
        return keep

    def enrich(self, candidates: list[_Candidate], *, want_new: int | None = None) -> bool:
        """Bulk-match candidates in chunks; False when stopped by the budget or ``want_new``.

        Each call's people are checked against the pool just before it is sent, not all of them
        up front: an earlier call of the run may have bought one of them (its answer revealing
        the email or LinkedIn URL a later candidate is asked by), and Apollo would charge again."""
        pos = 0
        while pos < len(candidates):
            if want_new is not None and len(self.result.new_lead_ids) >= want_new:
                self.result.stop_reason = "want"
                return False
            size = BULK_MATCH_MAX
            if want_new is not None:
                size = min(size, max(1, want_new - len(self.result.new_lead_ids)))
            remaining = self._remaining_records()
            if remaining is not None and remaining < size:
                if remaining == 0:
                    if not self._skip_fresh(candidates[pos:]):
                        return True  # nothing left that needed buying
                    self.result.stopped_by_budget = True
                    self.result.stop_reason = "budget"
                    return False
                size = remaining  # a smaller call that cannot exceed the budget
            chunk: list[_Candidate] = []
            while len(chunk) < size and pos < len(candidates):
                take = candidates[pos : pos + size - len(chunk)]
                pos += len(take)
                chunk += self._skip_fresh(take)
            if chunk:
                self._bulk(chunk)
        return True

    def _bulk(self, chunk: Sequence[_Candidate]) -> None:
        # the worst case Apollo may charge (the price the call was budgeted at), booked before
        # the call is sent, and kept as a lost call's cost: a worker killed during it
        # leaves the day's budget (and the caller's ledger) counting it
        worst = self._planning_price() * len(chunk)
        details = [c.detail for c in chunk]
        url = f"{self.client.base_url}/{BULK_ENDPOINT}"
        booking = book_paid_call(self.db, BULK_ENDPOINT, url, {"details": details}, worst, self.on_credits)
        try:
            result = self.client.bulk_match(details)
        except ChargeUncertain as e:
            # Apollo may have charged for this call: its booking stays, as the lost call's row
            store_lost_call(self.db, e, worst, booking_id=booking)
            self.result.bulk_calls += 1
            self.result.requested += len(chunk)
            self.result.credits_consumed += worst
            raise
        except PaidCallRefused as e:
            # Apollo refused the call and said what that cost: the booking becomes the refused
            # call's row at that figure, not at the worst case
            with session_scope(self.db) as session:
                _settle_refused(session, booking, e)
                self._note_credits(session, Decimal(str(e.credits_consumed)) - Decimal(str(worst)))
            self.result.bulk_calls += 1
            self.result.requested += len(chunk)
            self.result.credits_consumed += e.credits_consumed
            raise
        except _NOT_CHARGED:
            with session_scope(self.db) as session:
                _unbook(session, booking)
                self._note_credits(session, -Decimal(str(worst)))
            raise
        response = result.responses[0]
        self.result.bulk_calls += 1
        self.result.requested += len(chunk)
        self.result.credits_consumed += result.credits_consumed
        matched = [(c, m) for c, m in zip(chunk, result.matches, strict=True) if m is not None]
        self.result.not_found += len(chunk) - len(matched)
        self._note_price(result.credits_consumed, len(matched), len(chunk))
        people = [m for _c, m in matched]
        existing = self._existing_lead_ids(people)
        # the credits are spent: the response is kept first, whatever the import makes of it
        # the ids asked for too: a person Apollo answers under another id than the search listed
        # (it holds some people under two) is known by both, and not bought again next refill
        ids = [str(p.get("id")) for p in people if p.get("id")]
        ids += [c.apollo_id for c, _ in matched if c.apollo_id and c.apollo_id not in ids]
        with session_scope(self.db) as session:
            # an erased person Apollo answers with (under a second Apollo id, or asked by an address
            # the pool never knew) is taken out before the answer is first committed
            take_import_lock(session)
            key = get_settings().resolved_secret_key()
            erased = erased_people(session, people, key)
            raw_id = _add_response(session, response, ids)
            if erased:
                redact_people(session, raw_id, erased)
                _remember_second_ids(session, erased, key)
            # the answer replaces the booking in one transaction: the budget never counts both,
            # nor neither
            _unbook(session, booking)
            self._note_credits(session, Decimal(str(result.credits_consumed)) - Decimal(str(worst)))
        imported = import_people(
            self.db,
            people,
            endpoint=BULK_ENDPOINT,
            raw_body=response.body,
            source_name=response.url,
            credits_consumed=response.credits_consumed,
            request=response.request,
            response_headers=response.headers,
            raw_payload_id=raw_id,
            on_leads=self.on_leads,
        )
        for r in imported.rejected:
            cand = matched[r.index][0] if 0 <= r.index < len(matched) else None
            self.result.rejected.append(Rejection(index=cand.index if cand else r.index, reason=r.reason))
        for lead_id in imported.lead_ids:
            if lead_id not in self._enriched:
                self._enriched.add(lead_id)
                self.result.enriched_lead_ids.append(lead_id)
            if lead_id not in existing and lead_id not in self._new:
                self._new.add(lead_id)
                self.result.new_lead_ids.append(lead_id)

    def _note_credits(self, session: Session, change: Decimal) -> None:
        if self.on_credits is not None and change:
            self.on_credits(session, change)

    def _existing_lead_ids(self, people: list[dict[str, Any]]) -> set[int]:
        ids = [p["id"] for p in people if isinstance(p.get("id"), str)]
        emails = [e for e in (_norm("email", p.get("email")) for p in people) if e]
        linkedins = [u for u in (_norm("linkedin", p.get("linkedin_url")) for p in people) if u]
        with self.db.engine.connect() as conn:
            rows = conn.execute(_EXISTING_SQL, {"ids": ids, "emails": emails, "linkedins": linkedins})
            return {row[0] for row in rows}


def _remember_second_ids(session: Session, erased: list[dict[str, Any]], key: bytes) -> None:
    """An erased person answered under an Apollo id her tombstone does not keep (Apollo holds some
    people under two) is known by it from now on, as a keyed hash among the erasure's
    suppressions: the next search skips her row (``_erased_ids``) instead of buying her again,
    and the search pages stored with her row under it lose it now."""
    named = [(p["id"], p) for p in erased if isinstance(p.get("id"), str) and p["id"]]
    suppress(
        session, "erased", [(APOLLO_ID, hmac_hex(i, key)) for i, _ in named], lead_id=None, event_id=None
    )
    for apollo_id, person in named:
        pages = session.scalars(
            select(RawPayload.id)
            .where(RawPayload.apollo_person_ids.contains([apollo_id]), RawPayload.endpoint == SEARCH_ENDPOINT)
            .order_by(RawPayload.id)
        ).all()
        for page in pages:
            redact_people(session, page, [person])


def _erased_ids(session: Session, ids: Sequence[str], key: bytes) -> set[str]:
    """Of these Apollo ids, those of erased people: a tombstone's, or a second id met since."""
    by_hmac = {hmac_hex(i, key): i for i in ids}
    second = session.scalars(
        text(
            "SELECT value_hmac FROM suppressions WHERE kind = 'erased' AND address_type = :t "
            "AND value_hmac = ANY(:h)"
        ),
        {"t": APOLLO_ID, "h": sorted(by_hmac)},
    )
    return set(session.scalars(_ERASED_IDS_SQL, {"ids": list(ids)})) | {by_hmac[h] for h in second}


def _suppressed_addresses(conn: Connection, candidates: Sequence[_Candidate]) -> tuple[set[str], set[str]]:
    """Identity keys of candidates whose email or LinkedIn URL is an erased person's, and of those
    whose address opted out or is blocklisted (the pool may hold no lead of theirs), matched as
    the importer refuses them: a role mailbox (info@) is no identity beside an id or LinkedIn URL."""
    key = get_settings().resolved_secret_key()
    wanted: dict[tuple[str, str], str] = {}
    for c in candidates:
        if c.email and not (is_role_address(c.email) and (c.apollo_id or c.linkedin)):
            wanted[("email", hmac_hex(c.email, key))] = f"email:{c.email}"
        if c.linkedin:
            for h in (hmac_hex(c.linkedin, key), *older_hmacs("linkedin", c.linkedin, key)):
                wanted[("linkedin", h)] = f"li:{c.linkedin}"
    if not wanted:
        return set(), set()
    erased: set[str] = set()
    opted_out: set[str] = set()
    for t, h, kind in conn.execute(_ERASED_SQL, {"h": [h for _, h in wanted]}):
        if (t, h) in wanted:
            (erased if kind == "erased" else opted_out).add(wanted[(t, h)])
    return erased, opted_out


def _candidates(raw: Iterable[Mapping[str, Any]], start: int, result: EnrichResult) -> list[_Candidate]:
    out: list[_Candidate] = []
    for i, item in enumerate(raw, start):
        cand = _candidate(i, item) if isinstance(item, Mapping) else None
        if cand is None:
            result.rejected.append(
                Rejection(
                    index=i, reason="no identity to match on (id, email, linkedin_url, name + domain...)"
                )
            )
        else:
            out.append(cand)
    return out


def enrich_people(
    db: Database,
    client: ApolloClient,
    candidates: Sequence[Mapping[str, Any]],
    *,
    max_age: timedelta,
    credit_budget: float | None,
    credits_per_record: float = 1.0,
    unpriced_credits_per_record: float = UNPRICED_CREDITS_PER_RECORD,
    on_credits: CreditsHook | None = None,
) -> EnrichResult:
    """Enrich candidates via ``people/bulk_match`` without paying for what the pool already has.

    Skips candidates matching (by Apollo id, email or LinkedIn URL) a lead with a usable email
    enriched within ``max_age``, and erased people (by Apollo id, or by the keyed hash of the
    email or LinkedIn URL in their ``erased`` suppressions). Calls bulk_match 10 at a time and
    never starts a call whose estimated cost would take the run past ``credit_budget``: the last
    call shrinks to fit, then the run stops with ``stopped_by_budget``. A person sent is priced at
    the highest per-record cost Apollo charged earlier in this run (``credits_consumed`` over the
    records matched), never below ``unpriced_credits_per_record`` nor ``credits_per_record``
    (Apollo's price may be fractional above 1 and move within a run, apollo.md 2.4).
    Each call is booked at its worst case before it is sent, and each response imported and kept
    as a raw payload in its place. ``on_credits(session, change)`` is told every change to the
    credits booked, in the transaction making it (a refill job keeps its report with it). Commits
    per call.
    """
    enricher = _Enricher(
        db,
        client,
        max_age=max_age,
        credit_budget=credit_budget,
        credits_per_record=credits_per_record,
        unpriced_credits_per_record=unpriced_credits_per_record,
        on_credits=on_credits,
    )
    try:
        enricher.enrich(_candidates(candidates, 0, enricher.result))
    except ApolloError as e:
        enricher.result.stop_reason = "error"
        e.partial = enricher.result
        raise
    return enricher.result


def search_and_enrich(
    db: Database,
    client: ApolloClient,
    filters: Mapping[str, Any],
    *,
    want: int,
    max_pages: int | None,
    max_age: timedelta,
    credit_budget: float | None,
    per_page: int = 100,
    start_page: int = 1,
    credits_per_record: float = 1.0,
    unpriced_credits_per_record: float = UNPRICED_CREDITS_PER_RECORD,
    max_known_pages: int = 0,
    on_credits: CreditsHook | None = None,
    on_leads: LeadsHook | None = None,
) -> EnrichResult:
    """Page ``mixed_people/api_search`` with ``filters`` and enrich people new to the pool.

    Each page is kept as a raw payload. Teaser rows whose Apollo id the pool already holds are
    dropped (``skipped_in_pool``); the rest go through :func:`enrich_people`'s rules until
    ``want`` new leads were imported, ``max_pages`` were read, the search ran out, or the next
    call could exceed ``credit_budget``. ``stop_reason`` says which. Up to ``max_known_pages``
    pages whose every person the pool already holds do not count against ``max_pages``: every
    search starts again at page 1, so without them a segment could never grow past the people
    of its first ``max_pages`` pages (searching costs no credits). An ApolloError (after the
    client's retries) propagates with ``partial`` set to the result so far: what was bought
    before it is already stored, and its credits are in ``partial.credits_consumed``.
    ``on_credits``: as for :func:`enrich_people`. ``on_leads(cursor, lead_ids)``: told the leads
    each import batch stored, in its transaction (a refill holds them for its campaign).
    """
    enricher = _Enricher(
        db,
        client,
        max_age=max_age,
        credit_budget=credit_budget,
        credits_per_record=credits_per_record,
        unpriced_credits_per_record=unpriced_credits_per_record,
        on_credits=on_credits,
        on_leads=on_leads,
    )
    result = enricher.result
    if want <= 0:
        result.stop_reason = "want"
        return result
    try:
        _search_pages(db, client, enricher, filters, want, (max_pages, max_known_pages), per_page, start_page)
    except ApolloError as e:
        result.stop_reason = "error"
        e.partial = result
        raise
    return result


def _search_pages(
    db: Database,
    client: ApolloClient,
    enricher: _Enricher,
    filters: Mapping[str, Any],
    want: int,
    pages: tuple[int | None, int],
    per_page: int,
    start_page: int,
) -> None:
    result = enricher.result
    max_pages, max_known_pages = pages
    met = 0
    free = 0  # pages wholly in the pool, not counted against max_pages
    result.stop_reason = "pages"
    for page in client.iter_search_people(filters, max_pages=None, per_page=per_page, start_page=start_page):
        result.pages += 1
        result.searched += len(page.people)
        ids = [str(p.get("id")) for p in page.people if p.get("id")]
        with session_scope(db) as session:
            raw_id = _add_response(session, page.response, ids)
            # an erased person met again (by her tombstone's id, or a second id a paid answer
            # revealed) is skipped below; the page as stored must not keep her teaser row either
            # (name, title, employer): taken out in the same transaction
            erased = _erased_ids(session, ids, get_settings().resolved_secret_key()) if ids else set()
            in_pool = set(session.scalars(_IN_POOL_SQL, {"ids": ids})) | erased
            if erased:
                redact_people(session, raw_id, [p for p in page.people if p.get("id") in erased])
        fresh_rows = []
        for row in page.people:
            if row.get("id") in in_pool:
                result.skipped_in_pool += 1
            else:
                fresh_rows.append(row)
        if not fresh_rows and page.people and free < max_known_pages:
            free += 1
        candidates = _candidates(fresh_rows, met, result)
        met += len(fresh_rows)
        if not enricher.enrich(candidates, want_new=want):
            return
        if len(result.new_lead_ids) >= want:
            result.stop_reason = "want"
            return
        if page.is_last:
            result.stop_reason = "exhausted"
            return
        if max_pages is not None and result.pages - free >= max_pages:
            return  # "pages"
