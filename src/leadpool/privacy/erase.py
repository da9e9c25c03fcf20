"""Erasure: remove a person's personal data, keep only keyed hashes so no import brings them back.

What stays: the lead row as a tombstone (id, Apollo id, contact-state timestamps, ``erased_at``),
``erased`` suppressions holding HMACs of every email, phone and LinkedIn URL the person had,
event rows (address kept only as HMAC; reply text and provider detail removed), touches and
decisions (no personal data in them), lead history, and an audit row.

The Apollo person id is kept on the tombstone on purpose: it is the vendor's opaque record id,
not contact data, and it is how the importer recognises and refuses the same Apollo record when
it arrives without any address.

Raw payloads are found by ``apollo_person_ids`` and by the importer's ``lead_raw_payloads`` links
(CSV rows and files keyed by email or LinkedIn have no Apollo id). A payload that describes only this person has its
body replaced by a tombstone and its request parameters dropped; one that describes several
people (a search page, a bulk match) keeps the others: this person's objects are removed from the
JSON body (``matches`` entries become null so positions still line up with the request), request
entries naming them are removed, and a top-level ``_leadpool_redacted`` marker records how many
objects were removed and when. A multi-person body that is not JSON cannot be edited safely and is
tombstoned whole.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, text, update
from sqlalchemy.orm import Session

from leadpool.config import get_settings
from leadpool.errors import InvalidInput, NotFound
from leadpool.events.effects import end_enrollments, suppress
from leadpool.events.record import stored_event_id
from leadpool.ingestion.hashing import address_hmac
from leadpool.ingestion.lock import hold_off_imports
from leadpool.ingestion.normalize import NotNormalisable, normalize_email, normalize_linkedin_url
from leadpool.models import AuditLog, Lead, LeadHistory, LeadRawPayload, RawPayload

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


@dataclass
class ErasureResult:
    lead_id: int
    already_erased: bool = False
    suppressions_added: int = 0
    payloads_tombstoned: int = 0
    payloads_redacted: int = 0
    events_scrubbed: int = 0
    enrollments_ended: int = 0
    ownership_ended: bool = False


def erase(session: Session, lead_id: int, *, actor: str, at: datetime | None = None) -> ErasureResult:
    """Erase one person's personal data (idempotent: a second call changes nothing).

    Raises NotFound for an unknown lead and InvalidInput for an empty ``actor``.
    """
    if not actor.strip():
        raise InvalidInput("erase needs an actor (who asked for the erasure)")
    now = at or datetime.now(UTC)
    hold_off_imports(session)  # a running import batch would write the person's data back
    lead = session.execute(select(Lead).where(Lead.id == lead_id).with_for_update()).scalar()
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    result = ErasureResult(lead_id)
    if lead.erased_at is not None:
        result.already_erased = True
        return result

    key = get_settings().resolved_secret_key()
    hmacs = _address_hmacs(lead, key)
    result.suppressions_added = suppress(session, "erased", hmacs, lead_id=lead_id, event_id=None)
    identifiers = _identifiers(lead)

    # payloads naming the person's Apollo id, plus every payload the importer linked to the lead
    # (CSV rows and files keyed by email or LinkedIn carry no Apollo id)
    linked = select(LeadRawPayload.raw_payload_id).where(LeadRawPayload.lead_id == lead_id)
    found: ColumnElement[bool] = RawPayload.id.in_(linked)
    if lead.apollo_id:
        found = or_(found, RawPayload.apollo_person_ids.contains([lead.apollo_id]))
    payloads = session.execute(select(RawPayload).where(found).with_for_update()).scalars().all()
    shared = _payloads_shared_with_others(session, lead_id, [p.id for p in payloads])
    for payload in payloads:
        if _redact_payload(payload, lead.apollo_id, identifiers, now, shared=payload.id in shared):
            result.payloads_redacted += 1
        else:
            result.payloads_tombstoned += 1

    result.events_scrubbed = len(
        session.execute(
            text(
                "UPDATE events SET text = NULL, detail = NULL "
                "WHERE (lead_id = :id OR address_hmac = ANY(:h)) AND (text IS NOT NULL OR detail IS NOT NULL) "
                "RETURNING id"
            ),
            {"id": lead_id, "h": [h for _, h in hmacs]},
        ).all()
    )
    # event ids stored before addresses in them were hashed on arrival (stored_event_id)
    for event_id, provider_event_id in session.execute(
        text(
            "SELECT id, provider_event_id FROM events "
            "WHERE (lead_id = :id OR address_hmac = ANY(:h)) AND provider_event_id LIKE '%@%'"
        ),
        {"id": lead_id, "h": [h for _, h in hmacs]},
    ).all():
        session.execute(
            text("UPDATE events SET provider_event_id = :p WHERE id = :i"),
            {"p": stored_event_id(provider_event_id, key), "i": event_id},
        )
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

    # generated columns (e.g. allocation's rank) follow the cleared values by themselves
    # every mapped person column; columns other domains attach to the table (scores, ranks) hold
    # no personal data and are left to their owners
    cleared = {
        c.name: None
        for c in Lead.__mapper__.columns
        if c.name not in _KEEP and c.nullable and c.computed is None and c.identity is None
    }
    session.execute(update(Lead).where(Lead.id == lead_id).values(**cleared, erased_at=now, updated_at=now))
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action="lead.erase",
            subject_type="lead",
            subject_id=str(lead_id),
            detail={k: v for k, v in result.__dict__.items() if k != "lead_id"},
        )
    )
    session.flush()
    session.expire(lead)
    return result


def _address_hmacs(lead: Lead, key: bytes) -> list[tuple[str, str]]:
    """Every address the person had: current email, phone, LinkedIn, personal emails, other numbers."""
    values: list[tuple[str, str]] = []
    if lead.email:
        values.append(("email", lead.email))
    if lead.phone:
        values.append(("phone", lead.phone))
    if lead.linkedin_url:
        values.append(("linkedin", lead.linkedin_url))
    values += [("email", e) for e in lead.personal_emails or [] if e]
    for number in lead.phone_numbers or []:
        if isinstance(number, dict):
            raw = number.get("sanitized_number") or number.get("raw_number")
            if isinstance(raw, str) and raw:
                values.append(("phone", raw))
    out: list[tuple[str, str]] = []
    for kind, value in values:
        try:
            out.append((kind, address_hmac(kind, value, key, region="US")))
        except InvalidInput:
            continue  # an address that cannot be normalised could never be imported as that address
    return list(dict.fromkeys(out))


def _identifiers(lead: Lead) -> set[str]:
    found = {lead.apollo_id, lead.email, lead.linkedin_url, lead.phone, *(lead.personal_emails or [])}
    return {v.lower() for v in found if v}


def redact_people(session: Session, payload_id: int, people: list[dict[str, Any]]) -> None:
    """Take erased people out of one stored payload that also carries others (or only its
    envelope: the credits it cost stay on the row), e.g. a paid response naming an erased person
    under an identity the pool did not know (a second Apollo id)."""
    payload = session.execute(
        select(RawPayload).where(RawPayload.id == payload_id).with_for_update()
    ).scalar()
    if payload is None:
        return
    now = datetime.now(UTC)
    for person in people:
        apollo_id = person.get("id") if isinstance(person.get("id"), str) else None
        found = {
            apollo_id,
            _normalised(normalize_email, person.get("email")),
            _normalised(normalize_linkedin_url, person.get("linkedin_url")),
        }
        _redact_payload(payload, apollo_id, {v.lower() for v in found if v}, now, shared=True)


def _payloads_shared_with_others(session: Session, lead_id: int, payload_ids: list[int]) -> set[int]:
    """Payloads the importer also linked to other leads: those must be edited, not tombstoned."""
    if not payload_ids:
        return set()
    rows = session.execute(
        select(LeadRawPayload.raw_payload_id)
        .where(LeadRawPayload.raw_payload_id.in_(payload_ids), LeadRawPayload.lead_id != lead_id)
        .distinct()
    ).scalars()
    return set(rows)


def _is_person(item: Any, apollo_id: str | None, identifiers: set[str]) -> bool:
    """A person object in a payload: by Apollo id, or by email / LinkedIn URL when it has no id."""
    if not isinstance(item, dict):
        return False
    if apollo_id and (item.get("id") == apollo_id or item.get("person_id") == apollo_id):
        return True
    if "email" not in item and "linkedin_url" not in item:
        return False
    found = {
        _normalised(normalize_email, item.get("email")),
        _normalised(normalize_linkedin_url, item.get("linkedin_url")),
    }
    return bool({v.lower() for v in found if v} & identifiers)


def _normalised(normalise: Callable[[str | None], str | None], value: Any) -> str | None:
    """The normalised form, or None for a value that is not one (e.g. a company LinkedIn page)."""
    if not isinstance(value, str):
        return None
    try:
        return normalise(value)
    except NotNormalisable:
        return None


def _names_person(item: Any, identifiers: set[str]) -> bool:
    """A request entry (e.g. a bulk-match detail) that names the person by any identifier."""
    if isinstance(item, dict):
        return any(_names_person(v, identifiers) for v in item.values())
    if isinstance(item, str):
        low = item.strip().lower()
        return low in identifiers or any(i in low for i in identifiers if "@" in i or "linkedin.com" in i)
    return False


def _strip(
    doc: Any, apollo_id: str | None, identifiers: set[str], parent_key: str | None = None
) -> tuple[Any, int]:
    if isinstance(doc, list):
        kept: list[Any] = []
        removed = 0
        for item in doc:
            if _is_person(item, apollo_id, identifiers):
                removed += 1
                if parent_key == "matches":
                    kept.append(None)  # bulk match results line up with the request by position
                continue
            new, n = _strip(item, apollo_id, identifiers, parent_key)
            kept.append(new)
            removed += n
        return kept, removed
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        removed = 0
        for k, v in doc.items():
            if _is_person(v, apollo_id, identifiers):
                out[k] = None
                removed += 1
                continue
            new, n = _strip(v, apollo_id, identifiers, k)
            out[k] = new
            removed += n
        return out, removed
    return doc, 0


def _strip_request(request: Any, identifiers: set[str]) -> Any:
    if isinstance(request, dict):
        return {
            k: (
                "[redacted]"
                if isinstance(v, str) and _names_person(v, identifiers)
                else _strip_request(v, identifiers)
            )
            for k, v in request.items()
        }
    if isinstance(request, list):
        return [_strip_request(v, identifiers) for v in request if not _names_person(v, identifiers)]
    return request


def _set_body(payload: RawPayload, body: str) -> None:
    payload.body = body
    payload.body_sha256 = hashlib.sha256(body.encode()).hexdigest()


def _redact_payload(
    payload: RawPayload, apollo_id: str | None, identifiers: set[str], now: datetime, *, shared: bool
) -> bool:
    """Edit one payload; True when others' data was kept (redacted), False when tombstoned."""
    others = [i for i in payload.apollo_person_ids or [] if i != apollo_id]
    marker = {"reason": "erasure", "at": now.isoformat()}
    doc: Any = None
    if others or shared:
        try:
            doc = json.loads(payload.body)
        except json.JSONDecodeError:
            doc = None
    if doc is None:
        _set_body(payload, json.dumps({"_leadpool_redacted": {**marker, "whole_payload": True}}))
        payload.request = None
        payload.apollo_person_ids = None
        return False
    stripped, removed = _strip(doc, apollo_id, identifiers)
    if isinstance(stripped, list):
        stripped = {"people": stripped}
    previous = stripped.get("_leadpool_redacted")
    count = removed + (previous.get("people_removed", 0) if isinstance(previous, dict) else 0)
    stripped["_leadpool_redacted"] = {**marker, "people_removed": count}
    _set_body(payload, json.dumps(stripped, ensure_ascii=False))
    payload.request = _strip_request(payload.request, identifiers) if payload.request else payload.request
    payload.apollo_person_ids = others or None
    return True
