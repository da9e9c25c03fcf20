"""Raw payloads that name an erased person: edit out their data, keep everyone else's.

Payloads are found by ``apollo_person_ids`` and by the importer's ``lead_raw_payloads`` links
(CSV rows and files keyed by email or LinkedIn have no Apollo id). A payload that describes only
this person has its body replaced by a tombstone and its request parameters dropped; one that
describes several people (a search page, a bulk match) keeps the others: this person's objects are
removed from the JSON body (``matches`` entries become null so positions still line up with the
request), request entries naming them are removed, and a top-level ``_leadpool_redacted`` marker
records how many objects were removed and when. A multi-person body that is not JSON cannot be
edited safely and is tombstoned whole.

Paid calls whose answer was lost (``apollo.enrich.store_lost_call``) have an empty body, no
Apollo id and no lead link: their request is the only place naming the people asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from leadpool.ingestion.normalize import NotNormalisable, normalize_email, normalize_linkedin_url
from leadpool.models import LeadRawPayload, RawPayload

# every lost call has this body hash: the indexed way to find them among all payloads
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()

# how normalize_linkedin_url writes a profile, before its slug
_PROFILE = "https://www.linkedin.com/in/"


def lock_payloads(session: Session, lead_ids: list[int], apollo_ids: list[str]) -> None:
    """Lock, in id order, every payload an erasure of these leads may edit: those linked to them,
    those naming their Apollo ids, and every lost call (matched later by content)."""
    found = union_all(
        select(LeadRawPayload.raw_payload_id).where(LeadRawPayload.lead_id.in_(lead_ids)),
        *(select(RawPayload.id).where(RawPayload.apollo_person_ids.contains([a])) for a in apollo_ids),
        select(RawPayload.id).where(
            RawPayload.body_sha256 == EMPTY_BODY_SHA256, RawPayload.request.is_not(None)
        ),
    )
    session.execute(
        select(RawPayload.id).where(RawPayload.id.in_(found)).order_by(RawPayload.id).with_for_update()
    ).all()


def redact_lead_payloads(
    session: Session, lead_id: int, apollo_id: str | None, identifiers: set[str], now: datetime
) -> tuple[int, int]:
    """Edit every payload describing the lead; returns (redacted, tombstoned)."""
    found = union_all(
        select(LeadRawPayload.raw_payload_id).where(LeadRawPayload.lead_id == lead_id),
        *(
            [select(RawPayload.id).where(RawPayload.apollo_person_ids.contains([apollo_id]))]
            if apollo_id
            else []
        ),
    )
    payloads = (
        session.execute(
            select(RawPayload).where(RawPayload.id.in_(found)).order_by(RawPayload.id).with_for_update()
        )
        .scalars()
        .all()
    )
    shared = _payloads_shared_with_others(session, lead_id, [p.id for p in payloads])
    redacted = 0
    for payload in payloads:
        redacted += _redact_payload(payload, apollo_id, identifiers, now, shared=payload.id in shared)
    return redacted, len(payloads) - redacted


def redact_lost_calls(session: Session, identifiers: set[str], now: datetime) -> int:
    """Take the person out of the requests of paid calls whose answer was lost; returns how many
    changed. Such a call may name someone the pool met only later, so it is matched by content."""
    payloads = (
        session.execute(
            select(RawPayload)
            .where(RawPayload.body_sha256 == EMPTY_BODY_SHA256, RawPayload.request.is_not(None))
            .with_for_update()
        )
        .scalars()
        .all()
    )
    changed = 0
    for payload in payloads:
        request = payload.request
        if not _mentions(request, identifiers):
            continue
        if isinstance(request, dict) and any(
            isinstance(v, str) and _names_person(v, identifiers) for v in request.values()
        ):
            payload.request = None  # a one-person call (people/match): all of it is about them
        else:
            payload.request = _strip_request(request, identifiers)
        # the failure text may quote what Apollo answered about the call
        headers = _strip_request(dict(payload.response_headers or {}), identifiers)
        headers["_leadpool_redacted"] = {"reason": "erasure", "at": now.isoformat()}
        payload.response_headers = headers
        changed += 1
    return changed


def redact_people(session: Session, payload_id: int, people: list[dict[str, Any]]) -> None:
    """Take erased people out of one stored payload that also carries others (or only its
    envelope: the credits it cost stay on the row), e.g. a paid response naming an erased person
    under an identity the pool did not know (a second Apollo id)."""
    payload = session.execute(
        select(RawPayload).where(RawPayload.id == payload_id).with_for_update()
    ).scalar()
    if payload is not None:
        _take_out(payload, people)


def redact_people_rows(cur: psycopg.Cursor[Any], payload_id: int, people: list[dict[str, Any]]) -> None:
    """:func:`redact_people` on an import batch's own cursor, in the batch's transaction (which
    stored the payload or met them in it): nothing of theirs is ever committed with it."""
    cur.execute(
        "SELECT body, request, apollo_person_ids FROM raw_payloads WHERE id = %s FOR UPDATE", (payload_id,)
    )
    row = cur.fetchone()
    if row is None:
        return
    payload = RawPayload(body=row[0], request=row[1], apollo_person_ids=row[2])
    _take_out(payload, people)
    cur.execute(
        "UPDATE raw_payloads SET body = %s, body_sha256 = %s, request = %s, apollo_person_ids = %s WHERE id = %s",
        (
            payload.body,
            payload.body_sha256,
            None if payload.request is None else Jsonb(payload.request),
            None if payload.apollo_person_ids is None else Jsonb(payload.apollo_person_ids),
            payload_id,
        ),
    )


def _take_out(payload: RawPayload, people: list[dict[str, Any]]) -> None:
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
        if low in identifiers:
            return True
        # a request holds what the caller sent, e.g. "uk.linkedin.com/in/Jane-Roe/" for the
        # stored "https://www.linkedin.com/in/jane-roe"
        if "linkedin" in low and _normalised(normalize_linkedin_url, item) in identifiers:
            return True
        if "@" in low and _normalised(normalize_email, item) in identifiers:
            return True
        # a text quoting an address (a failure's "no match for jo@x.com."): the whole address or
        # profile, never a part of another (bojo@x.com is not jo@x.com, /in/annabelle not /in/anna)
        quoted = _quoted(identifiers)
        return quoted is not None and re.search(quoted, item, re.IGNORECASE) is not None
    return False


def _quoted(identifiers: set[str]) -> str | None:
    """A pattern of the person's email addresses and LinkedIn profiles as whole words of a text."""
    parts = [
        rf"(?<![\w.+-]){re.escape(i)}(?![\w-])(?!\.\w)"
        if "@" in i
        else rf"linkedin\.com/in/{re.escape(i.partition(_PROFILE)[2])}(?![\w%-])"
        for i in sorted(identifiers)
        if "@" in i or i.startswith(_PROFILE)
    ]
    return "|".join(parts) or None


def _mentions(doc: Any, identifiers: set[str]) -> bool:
    """Anything anywhere in ``doc`` names the person."""
    if isinstance(doc, list):
        return any(_mentions(v, identifiers) for v in doc)
    if isinstance(doc, dict):
        return any(_mentions(v, identifiers) for v in doc.values())
    return _names_person(doc, identifiers)


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
