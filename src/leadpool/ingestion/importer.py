"""The set-based loader: one transaction per batch of records.

Per batch:
  1. map and normalise every record in Python (records.map_person), in a reader thread that runs
     while the previous batch is in PostgreSQL; bad records become rejections;
  2. take the import lock (a transaction-level advisory lock: one importer resolves and writes
     identities at a time), then fetch in three set queries the leads, companies and suppressions
     that the batch's identities touch;
  3. resolve identities in memory (``resolve``: which records are the same person, and which
     existing lead each one is), merging duplicates of the batch into one staged row per lead;
     allocate ids for new rows from the sequences;
  4. clear the stored keys the batch moves to another row (``resolve.Resolver.released``); new
     companies, leads, raw payloads and lead -> payload links are COPYed straight into their
     tables (nothing can conflict: their identities were checked under the lock); rows that
     already exist are COPYed into TEMP tables and upserted with
     ``INSERT ... SELECT ... ON CONFLICT (id) DO UPDATE SET c = COALESCE(EXCLUDED.c, c) ...
     WHERE (old row) IS DISTINCT FROM (new row)``: a null never replaces a value (but see the
     merge rules in ``resolve``), and a row with nothing new is not touched (its updated_at stays);
  5. take the erased people the batch met out of the payloads stored with them
     (``BatchContext.redact``), then commit. A batch that PostgreSQL refuses is split in halves until the bad
     record is found and rejected with the database's message, so the rest still lands.

Identity rules (one person = one lead):
  * records sharing an Apollo person id, a normalised email or a canonical LinkedIn URL are one lead;
  * when a record's identities point at different leads, it merges into the lead found by the
    strongest identity (apollo id > email > linkedin) and leaves the other leads' values where they
    are (recorded as an IdentityConflict);
  * a lead keeps its first Apollo id (a second id for the same person stays in the raw payloads);
    email and LinkedIn URL take the newest value unless another lead holds it (a value a record
    of the same batch moved away from is held by nobody). When the email changes,
    email_bounced_at is cleared unless the new address is itself suppressed, and the email's
    status fields are the record's;
  * a role mailbox (info@, sales@...: ``normalize.ROLE_LOCAL_PARTS``) is not an identity when the
    record has an Apollo id or LinkedIn URL: it is kept under ``extra.role_email``, so colleagues
    listed under one stay apart;
  * a lead is born with (or takes) the suppression stamps of its addresses; a company switchboard
    number (Apollo's ``work_hq``) does not carry a colleague's opt-out, and the addresses of an
    identity conflict (the same person under another lead) carry theirs to the lead the record
    merged into;
  * an erased person is refused by any address of their own: email, LinkedIn URL, personal
    emails, typed numbers that are not a switchboard (``phones.PhoneNumber.personal``), or the
    tombstone's Apollo id. A payload holding them and others is stored redacted (in the batch's
    transaction); one in which the batch met only erased people is not stored.
Companies follow the same rules with Apollo organization id > domain.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from sqlalchemy.dialects import postgresql

from leadpool.ingestion.erased import APOLLO_ID
from leadpool.ingestion.formats import RawPayloadRow, ReadStopped, SourceRecord
from leadpool.ingestion.hashing import hmac_hex, older_hmacs
from leadpool.ingestion.lock import IMPORT_LOCK_KEY
from leadpool.ingestion.phones import PhoneBook
from leadpool.ingestion.records import (
    COMPANY_COLUMNS,
    LEAD_COLUMNS,
    PersonRow,
    RecordError,
    map_person,
)
from leadpool.ingestion.resolve import Entity, LeadResolver, Resolver
from leadpool.ingestion.timezone import SOURCE_RANK
from leadpool.models import Company, Lead

COMPANY_MEMO_SIZE = 1024
SUPPRESSION_FLAGS = ("unsubscribed", "complained", "email_bounced", "blocklisted")
_FLAG_COLUMN = {
    "unsubscribed": "unsubscribed_at",
    "complained": "complained_at",
    "email_bounced": "email_bounced_at",
    "blocklisted": "blocklisted_at",
}
_COMPANY_ORDER = ("apollo_id", "domain")


@dataclass(slots=True)
class Rejection:
    """A record that was not imported: its position in the input and a one-line reason."""

    index: int
    reason: str
    line_no: int | None = None
    source: str | None = None


@dataclass(slots=True)
class IdentityConflict:
    """A record whose identities pointed at two leads; ``identity`` stayed with ``other_lead_id``."""

    index: int
    lead_id: int
    other_lead_id: int
    identity: str  # apollo_id | email | linkedin_url
    line_no: int | None = None
    source: str | None = None


@dataclass
class ImportResult:
    """What an import did. ``lead_ids`` has the lead id of each accepted input, in input order."""

    inserted: int = 0  # new leads
    updated: int = 0  # existing leads whose stored values changed
    unchanged: int = 0  # existing leads the records matched without changing anything
    merged: int = 0  # records folded into a lead an earlier record of the same batch created or updated
    rejected: list[Rejection] = field(default_factory=list)
    rejected_count: int = 0
    lead_ids: list[int] = field(default_factory=list)
    conflicts: list[IdentityConflict] = field(default_factory=list)
    companies_inserted: int = 0
    companies_updated: int = 0
    raw_payloads: int = 0  # raw payload rows written
    records: int = 0  # input records seen (accepted + rejected)
    rejects_path: str | None = None  # where the rejects file was written (file imports)

    def add(self, other: ImportResult) -> None:
        for name in (
            "inserted",
            "updated",
            "unchanged",
            "merged",
            "rejected_count",
            "companies_inserted",
            "companies_updated",
            "raw_payloads",
            "records",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected.extend(other.rejected)
        self.lead_ids.extend(other.lead_ids)
        self.conflicts.extend(other.conflicts)

    def summary(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "merged": self.merged,
            "rejected": self.rejected_count,
            "identity_conflicts": len(self.conflicts),
            "companies_inserted": self.companies_inserted,
            "companies_updated": self.companies_updated,
            "raw_payloads": self.raw_payloads,
            "rejects_path": self.rejects_path,
        }


# ---------------------------------------------------------------------------------------------
# SQL, generated from the models so new columns only need adding to records.py


def _pg_type(table: Any, column: str) -> str:
    dialect: Any = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(table.c[column].type.compile(dialect=dialect))


_LEAD_DATA = list(LEAD_COLUMNS)
_FLAG_COLUMNS = [_FLAG_COLUMN[f] for f in SUPPRESSION_FLAGS]
# the columns a staged lead row carries, in COPY order (also the order of the direct COPY)
_LEAD_COPY_COLUMNS = ["id", "company_id", *_LEAD_DATA, "enriched_at", *_FLAG_COLUMNS]


def _stage_ddl(name: str, table: Any, columns: list[str]) -> str:
    cols = [f"{c} {_pg_type(table, c)}" for c in columns]
    return f"CREATE TEMP TABLE {name} ({', '.join(cols)}) ON COMMIT DROP"


def _merge_expr(table: str, col: str) -> str:
    if col == "extra":
        return (
            f"CASE WHEN EXCLUDED.extra IS NULL THEN {table}.extra "
            f"ELSE COALESCE({table}.extra, '{{}}'::jsonb) || EXCLUDED.extra END"
        )
    return f"COALESCE(EXCLUDED.{col}, {table}.{col})"


_EMAIL_CHANGES = "EXCLUDED.email IS NOT NULL AND EXCLUDED.email IS DISTINCT FROM l.email"
# the record names a country ingestion knows (country_names, as the gate reads it) other than the
# known one stored: a spelling nobody knows, or no country stored, says nothing of a move
_COUNTRY_MOVES = (
    "(EXCLUDED.country IS DISTINCT FROM l.country AND EXISTS (SELECT 1 FROM country_names n "
    "JOIN country_names o ON o.name = leadpool_country_key(l.country) "
    "WHERE n.name = leadpool_country_key(EXCLUDED.country) AND n.code <> o.code))"
)
_EMAIL_STATUS = ("email_status", "extrapolated_email_confidence", "email_domain_catchall")


def _source_rank(table: str) -> str:
    ranks = " ".join(f"WHEN '{src}' THEN {rank}" for src, rank in SOURCE_RANK.items())
    return f"(CASE {table}.time_zone_source {ranks} ELSE {len(SOURCE_RANK)} END)"


def _lead_expr(col: str) -> str:
    if col in _EMAIL_STATUS:
        # what Apollo said of the old address is not about a new one: taken as staged, nulls too
        return f"CASE WHEN {_EMAIL_CHANGES} THEN EXCLUDED.{col} ELSE COALESCE(EXCLUDED.{col}, l.{col}) END"
    if col in ("time_zone", "time_zone_source"):
        # a zone from a coarser source (a state's) never replaces a finer one (Apollo's own), but
        # a record in another country brings its own zone, or none: the old one is not where the
        # person is (a move from Argentina to the US, no state: no zone, not Buenos Aires')
        return (
            f"CASE WHEN {_COUNTRY_MOVES} THEN EXCLUDED.{col} "
            f"WHEN EXCLUDED.time_zone IS NOT NULL AND {_source_rank('EXCLUDED')} <= {_source_rank('l')} "
            f"THEN EXCLUDED.{col} ELSE l.{col} END"
        )
    return _merge_expr("l", col)


def _lead_upsert_sql() -> str:
    """Existing leads: COALESCE(new, old) per column (but see _lead_expr); skipped when nothing
    would change.

    Suppression stamps are kept once set; email_bounced_at follows the email: a changed email
    takes the staged stamp (set only when the new address is itself bounced)."""
    targets = ["company_id", *_LEAD_DATA, "enriched_at"]
    new_exprs = [_lead_expr(c) for c in targets]
    bounced = (
        f"CASE WHEN {_EMAIL_CHANGES} "
        "THEN EXCLUDED.email_bounced_at ELSE COALESCE(l.email_bounced_at, EXCLUDED.email_bounced_at) END"
    )
    for f in SUPPRESSION_FLAGS:
        col = _FLAG_COLUMN[f]
        targets.append(col)
        new_exprs.append(bounced if f == "email_bounced" else f"COALESCE(l.{col}, EXCLUDED.{col})")
    sets = ", ".join(f"{c} = {e}" for c, e in zip(targets, new_exprs, strict=True))
    # the address the email moves away from is kept (the last ten, the new one taken out): an
    # opt-out from the address the person was emailed at still finds them after a refresh
    kept = (
        "array_append(array_remove(array_remove(coalesce(l.previous_emails, '{}'), l.email), EXCLUDED.email), "
        "l.email)"
    )
    sets += (
        f", previous_emails = CASE WHEN {_EMAIL_CHANGES} AND l.email IS NOT NULL "
        f"THEN ({kept})[greatest(1, cardinality({kept}) - 9):] ELSE l.previous_emails END"
    )
    old_row = ", ".join(f"l.{c}" for c in targets)
    cols = ", ".join(_LEAD_COPY_COLUMNS)
    return (
        f"INSERT INTO leads AS l ({cols}) SELECT {cols} FROM s_leads "
        f"ON CONFLICT (id) DO UPDATE SET {sets}, updated_at = now() "
        f"WHERE ({old_row}) IS DISTINCT FROM ({', '.join(new_exprs)}) "
        "RETURNING id"
    )


_COMPANY_DATA = list(COMPANY_COLUMNS)


def _company_upsert_sql() -> str:
    data = _COMPANY_DATA
    new_exprs = [_merge_expr("c", col) for col in data]
    sets = ", ".join(f"{col} = {e}" for col, e in zip(data, new_exprs, strict=True))
    return (
        f"INSERT INTO companies AS c (id, {', '.join(data)}) SELECT id, {', '.join(data)} FROM s_companies "
        f"ON CONFLICT (id) DO UPDATE SET {sets}, updated_at = now() "
        f"WHERE ({', '.join(f'c.{col}' for col in data)}) IS DISTINCT FROM ({', '.join(new_exprs)}) "
        "RETURNING id"
    )


LEAD_STAGE_DDL = _stage_ddl("s_leads", Lead.__table__, _LEAD_COPY_COLUMNS)
COMPANY_STAGE_DDL = _stage_ddl("s_companies", Company.__table__, ["id", *_COMPANY_DATA])
LEAD_UPSERT = _lead_upsert_sql()
COMPANY_UPSERT = _company_upsert_sql()
RAW_COLUMNS = (
    "endpoint",
    "source_name",
    "line_no",
    "credits_consumed",
    "request",
    "response_headers",
    "body",
    "body_sha256",
    "apollo_person_ids",
)

_LEAD_PHONE = LEAD_COLUMNS.index("phone")
_LEAD_PHONE_NUMBERS = LEAD_COLUMNS.index("phone_numbers")
_LEAD_LINKEDIN = LEAD_COLUMNS.index("linkedin_url")
_LEAD_ORG_ID = LEAD_COLUMNS.index("organization_id")


# ---------------------------------------------------------------------------------------------
# one batch


@dataclass
class BatchContext:
    """What stays the same across the batches of one import call."""

    source: str  # leads.source: api, jsonl, csv, json
    key: bytes  # HMAC key for suppressions
    fresh: bool  # the data was fetched now (API): refresh enriched_at
    # takes erased people out of a stored payload (the batch's cursor, payload id, their
    # identities), in the transaction of the batch that stores the payload (or meets them in it)
    redact: Callable[[psycopg.Cursor[Any], int, list[dict[str, Any]]], None]
    collect_lead_ids: bool = True
    # called in each batch's transaction, before it commits, with the ids of the leads it stored
    # (a refill holds what it bought for its campaign from the moment it is in the pool)
    on_leads: Callable[[psycopg.Cursor[Any], list[int]], None] | None = None
    max_rejections_kept: int | None = None  # in ImportResult.rejected; the rejects sink gets all
    on_rejects: Callable[[list[Rejection]], None] | None = None  # called after each batch commits
    company_memo: dict[int, Any] = field(default_factory=dict)  # company id -> mapped row last written


def _reject(out: ImportResult, ctx: BatchContext, rec: SourceRecord, reason: str, source: str | None) -> None:
    out.rejected_count += 1
    out.records += 1
    out.rejected.append(Rejection(rec.index, reason, rec.line_no, rec.source or source))


def _hmacs(values: Iterable[tuple[str, str | None]], key: bytes, cache: dict[tuple[str, str], str]) -> None:
    for kind, v in values:
        if v is not None and (kind, v) not in cache:
            cache[(kind, v)] = hmac_hex(v, key)


def _erased_in(raw: RawPayloadRow, r: PersonRow) -> None:
    """Remember an erased person met in a payload, to take them out of it once it is stored."""
    person = {
        k: v for k, v in (("id", r.apollo_id), ("email", r.email), ("linkedin_url", r.linkedin_url)) if v
    }
    if person not in raw.erased:  # a batch PostgreSQL refused is tried again in halves
        raw.erased.append(person)


def _let_go(cur: psycopg.Cursor[Any], table: str, resolver: Resolver) -> None:
    """Clear the stored keys another row of the batch takes over (an email a person moved away
    from, now another's) before any row is written, so the unique indexes see no duplicate."""
    for column, ids in resolver.released():
        cur.execute(f"UPDATE {table} SET {column} = NULL WHERE id = ANY(%s)", (ids,))


def _holds_nul(rec: SourceRecord, raw: RawPayloadRow) -> bool:
    """A line is one record; in a whole document (a saved page), only the person holding NUL
    is rejected, not every person of it (the body is checked first: this runs only then)."""
    return raw.line_no is not None or b"\\u0000" in orjson.dumps(rec.person)


def prepare(rec: SourceRecord, ctx: BatchContext, org_cache: dict[Any, tuple[Any, Any]] | None) -> None:
    """Map a record's person (setting ``rec.row`` or ``rec.error``) and drop the parsed object."""
    if rec.placeholder or rec.error is not None or rec.row is not None:
        return
    raw = rec.raw
    # a line holding NUL (raw or as \u0000) cannot be stored as text; say so instead of failing the
    # batch (other cases are caught when PostgreSQL refuses the row and the batch is split)
    if raw is not None and raw.may_hold_nul and _holds_nul(rec, raw):
        rec.error = "contains a NUL character, which PostgreSQL cannot store"
    else:
        try:
            rec.row = map_person(rec.person, ctx.source, org_cache)
        except RecordError as e:
            rec.error = str(e)
        except (AttributeError, TypeError, ValueError, KeyError) as e:
            # a field of another shape deep in the record (phone_numbers as plain strings, a list
            # as an organization id): this record is rejected with its line, the rest go on
            rec.error = f"a field has an unexpected shape ({type(e).__name__}: {e})"
    rec.person = None


def process_batch(
    conn: psycopg.Connection[Any], records: list[SourceRecord], ctx: BatchContext
) -> ImportResult:
    """Load one batch in one transaction and commit it. Raises psycopg errors (caller splits)."""
    out = ImportResult()
    accepted: list[tuple[SourceRecord, PersonRow]] = []
    raw_rows: dict[int, RawPayloadRow] = {}
    raw_wanted: set[int] = set()
    # payloads by whom the batch met in them: only erased people (not stored), or anyone else
    erased_in: set[int] = set()
    others_in: set[int] = set()
    source_names: dict[int, str | None] = {}

    for rec in records:
        raw = rec.raw
        if raw is not None:
            raw_rows[id(raw)] = raw
            source_names[id(rec)] = raw.source_name
            if rec.placeholder or raw.endpoint == "file:json" or not raw.dedupe:
                raw_wanted.add(id(raw))  # whole responses are kept even if some people are rejected
        if rec.placeholder:
            continue
        if rec.row is None and rec.error is None:
            prepare(rec, ctx, None)
        if rec.error is not None:
            _reject(out, ctx, rec, rec.error, raw.source_name if raw else None)
            if raw is not None:
                others_in.add(id(raw))
            continue
        accepted.append((rec, rec.row))

    with conn.transaction():
        cur = conn.cursor()
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (IMPORT_LOCK_KEY,))

        # existing leads and companies the batch's identities point at
        apollo_ids = list({r.apollo_id for _, r in accepted if r.apollo_id})
        emails = list({r.email for _, r in accepted if r.email})
        linkedins = list({r.linkedin_url for _, r in accepted if r.linkedin_url})
        leads = LeadResolver()
        erased_leads: set[int] = set()
        db_lead_phone: dict[int, tuple[str | None, Any]] = {}  # id -> (phone, phone_numbers)
        if accepted:
            cur.execute(
                "SELECT id, apollo_id, email, linkedin_url, phone, phone_numbers, erased_at IS NOT NULL "
                "FROM leads WHERE apollo_id = ANY(%s) OR email = ANY(%s) OR linkedin_url = ANY(%s)",
                (apollo_ids, emails, linkedins),
            )
            for lid, a, e, li, phone, numbers, erased in cur.fetchall():
                leads.load(lid, (a, e, li))
                db_lead_phone[lid] = (phone, numbers)
                if erased:
                    erased_leads.add(lid)

        org_ids: set[str] = set()
        domains: set[str] = set()
        for _, r in accepted:
            if r.company is not None:
                if r.company[0]:
                    org_ids.add(r.company[0])
                if r.company[1]:
                    domains.add(r.company[1])
            org_id = r.values[_LEAD_ORG_ID]
            if org_id:
                org_ids.add(org_id)
        companies = Resolver(_COMPANY_ORDER, COMPANY_COLUMNS)
        if org_ids or domains:
            cur.execute(
                "SELECT id, apollo_id, domain FROM companies WHERE apollo_id = ANY(%s) OR domain = ANY(%s)",
                (list(org_ids), list(domains)),
            )
            for cid, a, d in cur.fetchall():
                companies.load(cid, (a, d))

        # suppressions for every address the batch could end up holding
        hmac_of: dict[tuple[str, str], str] = {}
        for _, r in accepted:
            _hmacs(
                (
                    ("email", r.email),
                    ("phone", r.phone),
                    ("linkedin", r.linkedin_url),
                    (APOLLO_ID, r.apollo_id),
                ),
                ctx.key,
                hmac_of,
            )
            _hmacs(r.personal, ctx.key, hmac_of)
        for e in leads.entities:
            _hmacs((("email", e.keys[1]), ("linkedin", e.keys[2])), ctx.key, hmac_of)
            _hmacs((("phone", db_lead_phone[e.id or 0][0]),), ctx.key, hmac_of)
        suppressed: dict[tuple[str, str], set[str]] = {}
        if hmac_of:
            by_hmac = {h: k for k, h in hmac_of.items()}
            for kind, value in hmac_of:
                if kind == "linkedin" and not value.isascii():  # ASCII ones have no other hash
                    by_hmac.update(dict.fromkeys(older_hmacs(kind, value, ctx.key), (kind, value)))
            cur.execute(
                "SELECT kind, address_type, value_hmac FROM suppressions WHERE value_hmac = ANY(%s)",
                (list(by_hmac),),
            )
            for kind, address_type, value_hmac in cur.fetchall():
                address = by_hmac.get(value_hmac)
                if address is not None and address[0] == address_type:
                    suppressed.setdefault(address, set()).add(kind)

        # resolve, in input order
        assigned: list[tuple[SourceRecord, Entity | None]] = []
        lead_company: dict[int, Entity] = {}
        phones: dict[int, PhoneBook] = {}  # id(entity) -> its numbers, stored and brought
        # id(entity) -> addresses of the person's own that the lead does not carry as its email,
        # phone or LinkedIn URL: its records' personal emails and numbers, and conflicting ones
        brought: dict[int, set[tuple[str, str]]] = {}
        for rec, r in accepted:
            src = source_names.get(id(rec))
            # erasure is matched on every address of the person's own (a switchboard number is
            # their colleagues' too), on the tombstone's Apollo id, and on a second Apollo id a
            # paid answer revealed (kept as a keyed hash)
            own = (("email", r.email), ("linkedin", r.linkedin_url), (APOLLO_ID, r.apollo_id), *r.personal)
            existing = leads.find((r.apollo_id, r.email, r.linkedin_url))
            if any("erased" in suppressed.get((k, v), ()) for k, v in own if v is not None) or (
                existing is not None and existing.id in erased_leads
            ):
                _reject(out, ctx, rec, "erased person", src)
                if rec.raw is not None:
                    _erased_in(rec.raw, r)
                    erased_in.add(id(rec.raw))
                continue
            entity, conflicts = leads.resolve((r.apollo_id, r.email, r.linkedin_url), r.values)
            book = phones.get(id(entity))
            if book is None:
                phone, numbers = db_lead_phone.get(entity.id or 0, (None, None))
                book = phones[id(entity)] = PhoneBook(phone, numbers, r.region)
            book.add(r.numbers, r.best)
            company = None
            if r.company is not None:
                company, _ = companies.resolve((r.company[0], r.company[1]), r.company)
            elif r.values[_LEAD_ORG_ID]:
                company = companies.find((r.values[_LEAD_ORG_ID], None))
            if company is not None:
                lead_company[id(entity)] = company
            brought.setdefault(id(entity), set()).update(r.personal)
            if conflicts:
                brought[id(entity)].update(
                    (k, v) for k, v in (("email", r.email), ("linkedin", r.linkedin_url)) if v is not None
                )
            for kind, other in conflicts:
                # ids are known after allocation; keep the objects for now
                out.conflicts.append(
                    IdentityConflict(rec.index, id(entity), id(other), kind, rec.line_no, src)
                )
            if rec.raw is not None:
                raw_wanted.add(id(rec.raw))
                others_in.add(id(rec.raw))
            out.records += 1
            assigned.append((rec, entity))

        # ids for new rows
        new_companies = [c for c in companies.entities if c.new and c.records]
        new_leads = [e for e in leads.entities if e.new and e.records]
        if new_companies:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence('companies', 'id')) FROM generate_series(1, %s)",
                (len(new_companies),),
            )
            for c, (cid,) in zip(new_companies, cur.fetchall(), strict=True):
                c.id = cid
        if new_leads:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence('leads', 'id')) FROM generate_series(1, %s)",
                (len(new_leads),),
            )
            for e, (lid,) in zip(new_leads, cur.fetchall(), strict=True):
                e.id = lid
        by_obj = {id(e): e for e in leads.entities}
        for conflict in out.conflicts:
            conflict.lead_id = by_obj[conflict.lead_id].id or 0
            conflict.other_lead_id = by_obj[conflict.other_lead_id].id or 0

        # companies: new rows are COPYed straight in (ids allocated above, identities checked under
        # the import lock); rows that exist go through a TEMP table and INSERT ... ON CONFLICT DO UPDATE
        staged_companies = [c for c in companies.entities if c.records]
        for c in staged_companies:
            c.values[0], c.values[1] = c.keys[0], c.keys[1]
        _let_go(cur, "companies", companies)
        new_rows = [c for c in staged_companies if c.new]
        if new_rows:
            with cur.copy(f"COPY companies (id, {', '.join(_COMPANY_DATA)}) FROM STDIN") as cp:
                for c in new_rows:
                    cp.write_row((c.id, *c.values))
            out.companies_inserted += len(new_rows)
        # a company whose people came in earlier batches with the very same organization object
        # (map_person reuses the mapped row for an identical object) has nothing new to write
        memo = ctx.company_memo
        old_rows = [
            c for c in staged_companies if not c.new and (c.src is None or memo.get(c.id or 0) is not c.src)
        ]
        if old_rows:
            cur.execute(COMPANY_STAGE_DDL)
            with cur.copy(f"COPY s_companies (id, {', '.join(_COMPANY_DATA)}) FROM STDIN") as cp:
                for c in old_rows:
                    cp.write_row((c.id, *c.values))
            cur.execute(COMPANY_UPSERT)
            out.companies_updated += len(cur.fetchall())

        # leads: the same split
        staged = [e for e in leads.entities if e.records]
        now = cur.execute("SELECT now()").fetchone()[0] if staged else None  # type: ignore[index]
        rows: list[tuple[Entity, tuple[Any, ...]]] = []
        for e in staged:
            values = e.values
            values[0], values[1], values[2] = e.keys
            book = phones[id(e)]
            # unchanged numbers are not staged, so a lead with nothing new stays untouched
            values[_LEAD_PHONE] = book.phone if book.changed else None
            values[_LEAD_PHONE_NUMBERS] = book.numbers_json() if book.changed else None
            flags = set()
            for kind, v in (("email", e.keys[1]), ("phone", book.phone), ("linkedin", e.keys[2])):
                # an opt-out recorded against a colleague's switchboard number is not this person's
                if v is not None and not (kind == "phone" and book.shared):
                    for s in suppressed.get((kind, v), ()):
                        if s != "email_bounced" or kind == "email":
                            flags.add(s)
            # the person's other addresses (personal emails and numbers; those another lead holds:
            # an identity conflict, the same person twice): an opt-out there is theirs too
            for kind, v in brought.get(id(e), ()):
                flags.update(s for s in suppressed.get((kind, v), ()) if s != "email_bounced")
            company = lead_company.get(id(e))
            company_id = company.id if company is not None else None
            stamps = tuple(now if f in flags else None for f in SUPPRESSION_FLAGS)
            rows.append((e, (e.id, company_id, *values, now if e.new or ctx.fresh else None, *stamps)))
        _let_go(cur, "leads", leads)
        new_leads_rows = [row for e, row in rows if e.new]
        if new_leads_rows:
            with cur.copy(f"COPY leads ({', '.join(_LEAD_COPY_COLUMNS)}) FROM STDIN") as cp:
                for row in new_leads_rows:
                    cp.write_row(row)
            out.inserted += len(new_leads_rows)
        old_leads_rows = [row for e, row in rows if not e.new]
        if old_leads_rows:
            cur.execute(LEAD_STAGE_DDL)
            with cur.copy(f"COPY s_leads ({', '.join(_LEAD_COPY_COLUMNS)}) FROM STDIN") as cp:
                for row in old_leads_rows:
                    cp.write_row(row)
            cur.execute(LEAD_UPSERT)
            updated = len(cur.fetchall())
            out.updated += updated
            out.unchanged += len(old_leads_rows) - updated
        out.merged += sum(e.records - 1 for e in staged)

        # raw payloads: new ones get ids first so the leads can be linked to them
        # a payload in which the batch met only erased people is not stored (a body that is one
        # person's object could not be redacted); one that also holds others is, then redacted
        raw_wanted -= erased_in - others_in
        raws = [raw_rows[k] for k in raw_rows if k in raw_wanted and not raw_rows[k].written]
        batch_raw_ids: dict[int, int] = {}  # id(RawPayloadRow) -> raw_payloads.id
        aliases: dict[int, RawPayloadRow] = {}  # a repeat of a body earlier in this batch
        if any(rp.dedupe for rp in raws):
            cur.execute(
                "SELECT endpoint, body_sha256, id FROM raw_payloads WHERE body_sha256 = ANY(%s)",
                (list({rp.sha256 for rp in raws if rp.dedupe}),),
            )
            stored = {(ep, sha): rid for ep, sha, rid in cur.fetchall()}
            first: dict[tuple[str, str], RawPayloadRow] = {}
            to_write: list[RawPayloadRow] = []
            for rp in raws:
                if rp.dedupe:
                    key = (rp.endpoint, rp.sha256)
                    if key in stored:
                        batch_raw_ids[id(rp)] = stored[key]
                        continue
                    if key in first:
                        aliases[id(rp)] = first[key]
                        continue
                    first[key] = rp
                to_write.append(rp)
            raws = to_write
        if raws:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence('raw_payloads', 'id')) FROM generate_series(1, %s)",
                (len(raws),),
            )
            for rp, (rid,) in zip(raws, cur.fetchall(), strict=True):
                batch_raw_ids[id(rp)] = rid
            with cur.copy(f"COPY raw_payloads (id, {', '.join(RAW_COLUMNS)}) FROM STDIN") as cp:
                for rp in raws:
                    cp.write_row(
                        (
                            batch_raw_ids[id(rp)],
                            rp.endpoint,
                            rp.source_name,
                            rp.line_no,
                            rp.credits_consumed,
                            orjson.dumps(rp.request).decode() if rp.request is not None else None,
                            orjson.dumps(rp.response_headers).decode()
                            if rp.response_headers is not None
                            else None,
                            rp.body,
                            rp.sha256,
                            orjson.dumps(rp.apollo_person_ids).decode() if rp.apollo_person_ids else None,
                        )
                    )
            out.raw_payloads += len(raws)
        for k, canonical in aliases.items():
            if k not in batch_raw_ids and id(canonical) in batch_raw_ids:
                batch_raw_ids[k] = batch_raw_ids[id(canonical)]

        # links lead -> raw payload: straight COPY for payloads written now (no link can exist yet)
        written_now = {batch_raw_ids[id(rp)] for rp in raws}
        new_links: set[tuple[int, int]] = set()
        old_links: set[tuple[int, int]] = set()
        for rec, lead in assigned:
            raw = rec.raw
            if raw is None or lead is None or lead.id is None:
                continue
            rid = batch_raw_ids.get(id(raw)) or (raw.id if raw.written else None)
            if rid is not None:
                (new_links if rid in written_now else old_links).add((lead.id, rid))
        if new_links:
            with cur.copy("COPY lead_raw_payloads (lead_id, raw_payload_id) FROM STDIN") as cp:
                for link in new_links:
                    cp.write_row(link)
        if old_links:
            cur.execute("CREATE TEMP TABLE s_links (lead_id BIGINT, raw_payload_id BIGINT) ON COMMIT DROP")
            with cur.copy("COPY s_links (lead_id, raw_payload_id) FROM STDIN") as cp:
                for link in old_links:
                    cp.write_row(link)
            cur.execute(
                "INSERT INTO lead_raw_payloads (lead_id, raw_payload_id) "
                "SELECT lead_id, raw_payload_id FROM s_links ON CONFLICT DO NOTHING"
            )

        # erased people met in a payload stored now (or by an earlier batch) are taken out of it
        # before this commits: a worker killed after the commit must not leave their record
        # stored. The payload stays, as the others' data and what the call cost (one that held
        # only them is not stored: not wanted)
        for k, rp in raw_rows.items():
            rid = batch_raw_ids.get(k) or (rp.id if rp.written else None)
            if rp.erased and rid is not None:
                ctx.redact(cur, rid, rp.erased)
        if ctx.on_leads is not None:
            batch_leads = sorted({e.id for _, e in assigned if e is not None and e.id is not None})
            if batch_leads:
                ctx.on_leads(cur, batch_leads)

    if len(memo) > COMPANY_MEMO_SIZE:
        memo.clear()
    for c in staged_companies:
        if c.src is not None and c.id is not None:
            memo[c.id] = c.src
    # committed: a payload shared by records of later batches (one API response) is not written again
    for k in raw_wanted:
        raw_rows[k].written = True
        if k in batch_raw_ids:
            raw_rows[k].id = batch_raw_ids[k]
    for rp in raw_rows.values():
        if rp.erased and rp.written and rp.id is not None:
            rp.erased = []  # taken out of it in the transaction that committed
    if ctx.collect_lead_ids:
        out.lead_ids = [e.id or 0 for _, e in assigned if e is not None]
    return out


def load(
    conn: psycopg.Connection[Any],
    records: Iterator[SourceRecord],
    ctx: BatchContext,
    *,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Stream records in batches through process_batch; isolate records PostgreSQL refuses.

    A ReadStopped from ``records`` is raised once every record read before it is loaded, with
    ``before`` set to what they did."""
    total = ImportResult()
    batches: queue.Queue[list[SourceRecord] | BaseException | None] = queue.Queue()
    # at most two batches alive (one in PostgreSQL, one being read), so memory stays flat
    slots = threading.Semaphore(2)
    stop = threading.Event()

    def produce() -> None:
        # reading and mapping (Python) overlaps with the previous batch's SQL (PostgreSQL)
        org_cache: dict[Any, tuple[Any, Any]] = {}
        batch: list[SourceRecord] = []
        try:
            if not _acquire():
                return
            for rec in records:
                prepare(rec, ctx, org_cache)
                batch.append(rec)
                if len(batch) >= batch_size:
                    _put(batch)
                    batch = []
                    if not _acquire():
                        return
            if batch:
                _put(batch)
            _put(None)
        except ReadStopped as e:
            # the records read before the unreadable line are complete: they are loaded, not
            # dropped with the batch they wait in
            if batch:
                _put(batch)
            _put(e)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which re-raises it
            _put(e)

    def _acquire() -> bool:
        while not stop.is_set():
            if slots.acquire(timeout=0.1):
                return True
        return False

    def _put(item: list[SourceRecord] | BaseException | None) -> None:
        batches.put(item)

    producer = threading.Thread(target=produce, name="leadpool-import-reader", daemon=True)
    producer.start()
    try:
        while True:
            item = batches.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                if isinstance(item, ReadStopped):
                    item.before = total
                raise item
            _run(conn, item, ctx, total, progress)
            del item
            slots.release()
    finally:
        stop.set()
        producer.join()
    return total


def _run(
    conn: psycopg.Connection[Any],
    batch: list[SourceRecord],
    ctx: BatchContext,
    total: ImportResult,
    progress: Callable[[int, int], None] | None,
) -> None:
    result = _process_splitting(conn, batch, ctx)
    if ctx.on_rejects is not None and result.rejected:
        ctx.on_rejects(result.rejected)
    if ctx.max_rejections_kept is not None:
        del result.rejected[max(0, ctx.max_rejections_kept - len(total.rejected)) :]
    total.add(result)
    if progress is not None:
        progress(sum(1 for r in batch if not r.placeholder), sum(r.nbytes for r in batch))


def _process_splitting(
    conn: psycopg.Connection[Any], batch: list[SourceRecord], ctx: BatchContext
) -> ImportResult:
    try:
        return process_batch(conn, batch, ctx)
    # what one record can cause: a value of the wrong form, a constraint, a value too long for
    # an index (ProgramLimitExceeded, an OperationalError that is not a lost connection)
    except (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.ProgramLimitExceeded) as e:
        real = [r for r in batch if not r.placeholder]
        if len(real) <= 1:
            out = ImportResult()
            for rec in real:
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                _reject(
                    out,
                    ctx,
                    rec,
                    f"refused by the database: {reason}",
                    rec.raw.source_name if rec.raw else None,
                )
            return out
        mid = len(batch) // 2
        first = _process_splitting(conn, batch[:mid], ctx)
        first.add(_process_splitting(conn, batch[mid:], ctx))
        return first
