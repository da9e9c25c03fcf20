"""Erasure: remove a person's personal data, keep only keyed hashes so no import brings them back.

What stays: the lead row as a tombstone (id, Apollo id, contact-state timestamps, ``erased_at``),
``erased`` suppressions holding HMACs of every email, phone and LinkedIn URL the person had,
event rows (address kept only as HMAC; reply text and provider detail removed), touches,
decisions (their sentences generalised to the reason code's own), lead history, and an audit row.
Audit rows about the person keep their shape, but the free text an operator typed (why a consent
was revoked, why the person was blocklisted) is replaced by ``(erased)``.
What goes besides the person's columns: raw payloads naming them (see ``privacy.payloads``),
insights' facts and scores about the lead, its consents, the enrollments and the ownership.

The Apollo person id is kept on the tombstone on purpose: it is the vendor's opaque record id,
not contact data, and it is how the importer recognises and refuses the same Apollo record when
it arrives without any address.

The same person can be in the pool twice (e.g. once from Apollo, once from a CSV export keyed by
the personal address Apollo listed, or by an address they had before): every lead whose current
email or LinkedIn URL is one of the person's (their email, personal and previous emails, LinkedIn),
or that lists one of the person's emails among its own personal or previous emails, is erased with
them. Those are exactly the addresses the importer refuses once erased, so such a lead could not
have been imported after the erasure either. A phone number is not followed (it may be a company
switchboard), nor a role mailbox (info@ identifies nobody).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import phonenumbers
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from leadpool.config import get_settings
from leadpool.errors import InvalidInput, NotFound
from leadpool.events.effects import GUARD_MARKS, address_holders, end_enrollments, suppress
from leadpool.events.record import hash_addresses, stored_event_id
from leadpool.ingestion.hashing import address_hmac, hmac_hex, normalize_address
from leadpool.ingestion.lock import hold_off_imports
from leadpool.ingestion.normalize import NotNormalisable, is_role_address, normalize_linkedin_url
from leadpool.ingestion.phones import phone_numbers_of
from leadpool.ingestion.timezone import country_code
from leadpool.insights import facts, score
from leadpool.models import AuditLog, Company, Lead, LeadHistory
from leadpool.pool.locks import lock_addresses
from leadpool.privacy.decisions import generalise_reasons
from leadpool.privacy.payloads import lock_payloads, redact_lead_payloads, redact_lost_calls

# columns that are not about the person, or are what the suppression machinery needs
_KEEP = frozenset(
    {
        "id",
        "apollo_id",
        "created_at",
        "updated_at",
        "replied_at",
        "reply_category",
        "converted_at",
        "unsubscribed_at",
        "complained_at",
        "wrong_person_at",
        "email_bounced_at",
        "rest_until",
        "blocklisted_at",
        "erased_at",
        "cooling_until",
        "paused_until",
        "quarantine_until",
    }
)

#: audit rows about a lead whose detail holds text an operator typed (it may name the person), and
#: those keys: erasure replaces their values by ERASED_TEXT (the row, its action and counts stay)
FREE_TEXT_AUDIT = {"consent.revoke": ("reason",), "blocklist.add": ("reason",)}
ERASED_TEXT = "(erased)"
MAX_REQUESTED_BY = 200


@dataclass
class ErasureResult:
    """What one erasure did; the counts cover the lead and ``same_person_erased`` together."""

    lead_id: int
    already_erased: bool = False
    suppressions_added: int = 0
    payloads_tombstoned: int = 0
    payloads_redacted: int = 0
    events_scrubbed: int = 0
    enrollments_ended: int = 0
    ownership_ended: bool = False
    insight_rows_deleted: int = 0
    decisions_generalised: int = 0
    consents_deleted: int = 0  # their source and evidence name the person
    # other leads of the same person (holding one of their emails or their LinkedIn URL)
    same_person_erased: list[int] = field(default_factory=list)

    def add(self, other: ErasureResult) -> None:
        for name in (
            "suppressions_added",
            "payloads_tombstoned",
            "payloads_redacted",
            "events_scrubbed",
            "enrollments_ended",
            "insight_rows_deleted",
            "decisions_generalised",
            "consents_deleted",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ownership_ended |= other.ownership_ended


def erase(
    session: Session,
    lead_id: int,
    *,
    actor: str,
    requested_by: str | None = None,
    at: datetime | None = None,
) -> ErasureResult:
    """Erase one person's personal data, from this lead and every other lead of theirs
    (idempotent: a second call changes nothing).

    ``actor`` is who erased (an operator); ``requested_by`` (optional) who asked: a ticket or an
    operator, kept in the lead's audit row. The person's own addresses (emails, numbers, LinkedIn
    profile) in either are stored as keyed hashes, as in idempotency keys: the audit log and the
    lead history outlive the erasure.
    Raises NotFound for an unknown lead and InvalidInput for an empty ``actor`` or ``requested_by``.
    """
    if not actor.strip():
        raise InvalidInput("erase needs an actor (the operator who erases)")
    if requested_by is not None and not (0 < len(requested_by.strip()) <= MAX_REQUESTED_BY):
        raise InvalidInput(f"requested_by: must hold 1 to {MAX_REQUESTED_BY} characters")
    now = at or datetime.now(UTC)
    hold_off_imports(session)  # a running import batch would write the person's data back
    lead = _read(session, [lead_id]).get(lead_id)
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    result = ErasureResult(lead_id)
    if lead.erased_at is not None:  # erasure is for good: no lock needed to see it
        result.already_erased = True
        return result

    # found before locking, so that all rows are locked in id order (leadpool.pool.locks); held
    # off, imports cannot give a lead one of these addresses meanwhile, and a concurrent erasure
    # only takes addresses away. FOR UPDATE (not the pool's NO KEY UPDATE) is what an event's
    # FOR KEY SHARE waits for: it then sees the lead erased and keeps no text.
    ids = sorted({lead_id, *_same_person(session, lead)})
    session.execute(text("SELECT id FROM leads WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"), {"ids": ids})
    leads = _read(session, ids)
    if leads[lead_id].erased_at is not None:  # a concurrent erasure of the person committed first
        result.already_erased = True
        return result

    key = get_settings().resolved_secret_key()
    to_erase = [leads[i] for i in ids if leads[i].erased_at is None]
    # an event about one of these addresses that names no lead waits for this erasure by them
    lock_addresses(session, [h for one in to_erase for _, h in _address_hmacs(session, one, key)])
    identifiers = set().union(*(_identifiers(one) for one in to_erase))
    actor = _without_person(session, to_erase, actor, key)
    requested_by = (
        _without_person(session, to_erase, requested_by.strip(), key) if requested_by is not None else None
    )
    # every payload this erasure edits, locked at once in id order: locked lead by lead, two
    # erasures of people sharing a search page and a lost call could wait on each other for ever
    lock_payloads(session, [p.id for p in to_erase], [p.apollo_id for p in to_erase if p.apollo_id])
    done: dict[int, ErasureResult] = {}
    for person_lead in to_erase:
        done[person_lead.id] = _erase_one(session, person_lead, key, actor=actor, now=now)
        result.add(done[person_lead.id])
    # once for the whole person: a lost call is found by its content, not by a lead
    lost = redact_lost_calls(session, identifiers, now)
    result.payloads_redacted += lost
    done[lead_id].payloads_redacted += lost
    result.same_person_erased = [i for i in done if i != lead_id]
    for i, one in done.items():
        # each lead's own counts: the rows of one erasure add up to its result
        detail: dict[str, object] = {k: v for k, v in one.__dict__.items() if k != "lead_id"}
        if i == lead_id:
            detail["same_person_erased"] = result.same_person_erased
            if requested_by is not None:
                detail["requested_by"] = requested_by
        else:
            detail["same_person_as"] = lead_id
        session.add(
            AuditLog(
                at=now,
                actor=actor,
                action="lead.erase",
                subject_type="lead",
                subject_id=str(i),
                detail=detail,
            )
        )
    session.flush()
    for one_lead in leads.values():
        session.expire(one_lead)
    return result


def _read(session: Session, ids: list[int]) -> dict[int, Lead]:
    rows = session.execute(
        select(Lead).where(Lead.id.in_(ids)).execution_options(populate_existing=True)
    ).scalars()
    return {lead.id: lead for lead in rows}


def _same_person(session: Session, lead: Lead) -> list[int]:
    """Other leads holding one of the person's emails (current, personal or previous) or their
    LinkedIn URL as their own email or LinkedIn URL, or listing one of those emails among their
    personal or previous emails (as the blocklist and opt-outs do), and theirs in turn."""
    found = {lead.id}
    todo = [lead]
    while todo:
        current = todo.pop()
        for kind, value in _identities(current):
            for other in address_holders(
                session, {kind: value}, exclude=current.id, personal=kind == "email"
            ):
                holder = _read(session, [other]).get(other) if other not in found else None
                if holder is not None:
                    found.add(other)
                    todo.append(holder)
    return sorted(found - {lead.id})


def _identities(lead: Lead) -> list[tuple[str, str]]:
    """The lead's person-specific addresses, normalised: emails (current, personal and previous; but
    role mailboxes) and LinkedIn. The same addresses erasure suppresses and the importer refuses."""
    out: list[tuple[str, str]] = []
    emails = [lead.email, *(lead.personal_emails or []), *(lead.previous_emails or [])]
    for kind, value in [*(("email", e) for e in emails), ("linkedin", lead.linkedin_url)]:
        if not value:
            continue
        try:
            normalised = normalize_address(kind, value)
        except InvalidInput:
            continue  # not an address anyone could hold
        if kind == "linkedin" or not is_role_address(normalised):
            out.append((kind, normalised))
    return list(dict.fromkeys(out))


def _erase_one(session: Session, lead: Lead, key: bytes, *, actor: str, now: datetime) -> ErasureResult:
    """Erase one locked, not yet erased lead (its audit row is the caller's)."""
    lead_id = lead.id
    result = ErasureResult(lead_id)
    hmacs = _address_hmacs(session, lead, key)
    result.suppressions_added = suppress(session, "erased", hmacs, lead_id=lead_id, event_id=None)
    identifiers = _identifiers(lead)
    redacted, tombstoned = redact_lead_payloads(session, lead_id, lead.apollo_id, identifiers, now)
    result.payloads_redacted = redacted
    result.payloads_tombstoned = tombstoned
    tokens = _id_tokens(session, lead)
    result.events_scrubbed = _scrub_events(session, lead_id, [h for _, h in hmacs], key, tokens)
    _scrub_client_ids(session, lead_id, key, tokens)
    result.enrollments_ended = end_enrollments(session, lead_id, "erased", actor=actor, now=now)
    owner = session.execute(
        text("DELETE FROM ownerships WHERE lead_id = :id RETURNING agency_id"), {"id": lead_id}
    ).first()
    if owner is not None:
        result.ownership_ended = True
        session.add(
            LeadHistory(
                lead_id=lead_id, at=now, action="released", agency_id=owner[0], actor=actor, reason="erased"
            )
        )
    # what insights derived from the person's profile (segment, local hour) outlives the columns
    result.insight_rows_deleted = facts.forget_lead(session, lead_id) + score.forget_lead(session, lead_id)
    result.decisions_generalised = generalise_reasons(session, lead_id)
    result.consents_deleted = len(
        session.execute(text("DELETE FROM consents WHERE lead_id = :id RETURNING id"), {"id": lead_id}).all()
    )
    _scrub_audit_text(session, lead_id, [h for _, h in hmacs])

    # every mapped person column; generated ones (allocation's rank) follow by themselves, and
    # columns other domains attach to the table are cleared by their owners (insight_score above)
    cleared = {
        c.name: None
        for c in Lead.__mapper__.columns
        if c.name not in _KEEP and c.nullable and c.computed is None and c.identity is None
    }
    session.execute(update(Lead).where(Lead.id == lead_id).values(**cleared, erased_at=now, updated_at=now))
    return result


def _scrub_events(
    session: Session, lead_id: int, hmacs: list[str], key: bytes, tokens: re.Pattern[str] | None
) -> int:
    """Drop the text and detail of events about the person, but the marks the guards count by
    (``GUARD_MARKS``); returns how many changed. Their ids lose the person's addresses too (a
    provider's retry of one after this is recorded afresh, and suppresses what the erasure
    already suppressed)."""
    # a detail that is no object (a JSON null an older client stored) has no marks to keep
    marks = (
        "(CASE WHEN jsonb_typeof(detail) = 'object' THEN (SELECT jsonb_object_agg(k, v) "
        "FROM jsonb_each(detail) AS d(k, v) WHERE k = ANY(:marks) AND v = 'true'::jsonb) END)"
    )
    scrubbed = len(
        session.execute(
            text(
                f"UPDATE events SET text = NULL, detail = {marks} "
                "WHERE (lead_id = :id OR address_hmac = ANY(:h)) "
                f"AND (text IS NOT NULL OR detail IS DISTINCT FROM {marks}) "
                "RETURNING id"
            ),
            {"id": lead_id, "h": hmacs, "marks": list(GUARD_MARKS)},
        ).all()
    )
    # email addresses: ids stored before they were hashed on arrival (stored_event_id); numbers and
    # profiles, which arrival does not hash
    for event_id, provider_event_id in session.execute(
        text("SELECT id, provider_event_id FROM events WHERE lead_id = :id OR address_hmac = ANY(:h)"),
        {"id": lead_id, "h": hmacs},
    ).all():
        hashed = _hash_tokens(stored_event_id(provider_event_id, key), tokens, key)
        if hashed != provider_event_id:
            session.execute(
                text("UPDATE events SET provider_event_id = :p WHERE id = :i"), {"p": hashed, "i": event_id}
            )
    return scrubbed


def _scrub_audit_text(session: Session, lead_id: int, hmacs: list[str]) -> None:
    """The free text of the audit rows about the lead (FREE_TEXT_AUDIT) replaced by ERASED_TEXT: the
    rows on the lead (its timeline shows them), a blocklisting by address that flagged it, and one
    by an address of the person's (``hmacs``) from before the pool held the lead: its subject, or
    any of the addresses it named (``address_hmacs``; rows written before that list was kept name
    only their first address)."""
    for action, keys in FREE_TEXT_AUDIT.items():
        for key in keys:
            session.execute(
                text(
                    "UPDATE audit_log "
                    "SET detail = detail || jsonb_build_object(CAST(:k AS text), CAST(:m AS text)) "
                    "WHERE action = :a AND detail -> CAST(:k AS text) IS NOT NULL "
                    "AND detail ->> CAST(:k AS text) IS DISTINCT FROM :m "
                    "AND ((subject_type = 'lead' AND subject_id = :sid) "
                    "OR (subject_type = 'address' AND subject_id = ANY(:h)) "
                    "OR detail -> 'address_hmacs' ?| CAST(:h AS text[]) "
                    "OR detail -> 'lead_ids' @> CAST(:ids AS jsonb))"
                ),
                {
                    "a": action,
                    "k": key,
                    "m": ERASED_TEXT,
                    "sid": str(lead_id),
                    "h": hmacs,
                    "ids": f"[{lead_id}]",
                },
            )


def _scrub_client_ids(session: Session, lead_id: int, key: bytes, tokens: re.Pattern[str] | None) -> None:
    """The person's addresses in the idempotency keys a sending tool chose for their checks (some
    build them from the recipient) replaced by keyed hashes: every email address, and the person's
    own numbers and LinkedIn profile as tools write them (``_id_tokens``).

    Each is hashed as written, so two ids that differed still differ (they may be unique per
    agency). A replay of such a key after the erasure is decided afresh: the person is erased.
    """
    # provider message ids are kept: they link a late event (a complaint weeks later) and a
    # retried confirmation to the send, and nearly all have the x@y shape of a Message-ID
    for table, column in (("touches", "idempotency_key"), ("decisions", "idempotency_key")):
        rows = session.execute(
            text(f"SELECT id, {column} FROM {table} WHERE lead_id = :l AND {column} IS NOT NULL"),
            {"l": lead_id},
        ).all()
        for row_id, value in rows:
            scrubbed = _hash_tokens(hash_addresses(value, key, fold_case=False), tokens, key)
            if scrubbed != value:
                session.execute(
                    text(f"UPDATE {table} SET {column} = :v WHERE id = :i"), {"v": scrubbed, "i": row_id}
                )


def _hash_tokens(value: str, tokens: re.Pattern[str] | None, key: bytes) -> str:
    """``value`` with each of the person's numbers and profile in it replaced by its keyed hash,
    as written (``hash_addresses`` does the same for email addresses)."""
    return value if tokens is None else tokens.sub(lambda m: "addr-" + hmac_hex(m.group(0), key)[:32], value)


def _id_tokens(session: Session, lead: Lead) -> re.Pattern[str] | None:
    """The person's numbers and LinkedIn slug (``_token_parts``) as a pattern over the ids chosen
    for them; None when they have neither."""
    parts = _token_parts(session, lead)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _without_person(session: Session, leads: list[Lead], value: str, key: bytes) -> str:
    """``value`` (an operator's words: ``actor``, ``requested_by``) with the person's own addresses
    in it replaced by keyed hashes as written (``_hash_tokens``): their email addresses, whole
    (bojo@x.com does not hold jo@x.com), their numbers however written (``303-555-0177``), and
    their LinkedIn slug."""
    numbers = {e164 for one in leads for e164 in _numbers(session, one)}
    for found in reversed(list(phonenumbers.PhoneNumberMatcher(value, _phone_region(session, leads[0])))):
        if phonenumbers.format_number(found.number, phonenumbers.PhoneNumberFormat.E164) in numbers:
            hashed = "addr-" + hmac_hex(found.raw_string, key)[:32]
            value = value[: found.start] + hashed + value[found.end :]
    emails = {
        e for one in leads for e in (one.email, *(one.personal_emails or []), *(one.previous_emails or []))
    }
    # first, so that a number or slug inside an address does not leave the rest of it behind
    parts = [
        rf"(?<![\w.+-]){re.escape(e)}(?![\w-])(?!\.\w)"
        for e in sorted(filter(None, emails), key=len, reverse=True)
    ]
    parts += [part for one in leads for part in _token_parts(session, one)]
    return _hash_tokens(
        value, re.compile("|".join(dict.fromkeys(parts)), re.IGNORECASE) if parts else None, key
    )


def _numbers(session: Session, lead: Lead) -> set[str]:
    """The lead's numbers in E.164: its phone and its other numbers, read as the importer read them."""
    found = phone_numbers_of(
        [n for n in lead.phone_numbers or [] if isinstance(n, dict)], _phone_region(session, lead)
    )
    return {e164 for e164 in {lead.phone, *(n.e164 for n in found)} if e164 and e164.startswith("+")}


def _token_parts(session: Session, lead: Lead) -> list[str]:
    """Patterns of the lead's numbers (E.164 with and without its +, and national digits) and
    LinkedIn slug. Digits match only as a whole run, so a longer number that merely holds these
    digits is not touched."""
    numbers: set[str] = set()
    for e164 in _numbers(session, lead):
        numbers |= {e164, e164[1:]}
        with contextlib.suppress(phonenumbers.NumberParseException):
            national = phonenumbers.national_significant_number(phonenumbers.parse(e164))
            if len(national) >= 7:  # shorter runs of digits are too common to be this person
                numbers.add(national)
    parts = [rf"(?<![\d+]){re.escape(n)}(?!\d)" for n in sorted(numbers, key=len, reverse=True)]
    slug = _linkedin_slug(lead.linkedin_url)
    if slug is not None and len(slug) >= 3:
        parts.append(rf"(?<![a-z0-9]){re.escape(slug)}(?![a-z0-9])")
    return parts


def _linkedin_slug(url: str | None) -> str | None:
    try:
        canonical = normalize_linkedin_url(url)
    except NotNormalisable:
        return None
    return canonical.rsplit("/in/", 1)[1] if canonical else None


def _address_hmacs(session: Session, lead: Lead, key: bytes) -> list[tuple[str, str]]:
    """Every address the person had: current email, phone, LinkedIn, personal emails, other numbers.

    The other numbers are read as the importer read them (``phone_numbers_of``), a national format
    in the person's country, else their company's (``records.map_person``); where neither is
    known, in the US (as an event naming no lead reads one)."""
    values: list[tuple[str, str]] = []
    if lead.email:
        values.append(("email", lead.email))
    if lead.phone:
        values.append(("phone", lead.phone))
    if lead.linkedin_url:
        values.append(("linkedin", lead.linkedin_url))
    values += [("email", e) for e in [*(lead.personal_emails or []), *(lead.previous_emails or [])] if e]
    region = _phone_region(session, lead)
    numbers = phone_numbers_of([n for n in lead.phone_numbers or [] if isinstance(n, dict)], region)
    values += [("phone", n.e164) for n in numbers if n.e164]
    out: list[tuple[str, str]] = []
    for kind, value in values:
        try:
            out.append((kind, address_hmac(kind, value, key, region=region)))
        except InvalidInput:
            continue  # an address that cannot be normalised could never be imported as that address
    return list(dict.fromkeys(out))


def _phone_region(session: Session, lead: Lead) -> str:
    """The country (ISO alpha-2) the lead's numbers without a country code are read in."""
    region = country_code(lead.country)
    if region is None and lead.company_id is not None:
        region = country_code(session.scalar(select(Company.country).where(Company.id == lead.company_id)))
    return region or "US"


def _identifiers(lead: Lead) -> set[str]:
    found = {
        lead.apollo_id,
        lead.email,
        lead.linkedin_url,
        lead.phone,
        *(lead.personal_emails or []),
        *(lead.previous_emails or []),
    }
    return {v.lower() for v in found if v}
