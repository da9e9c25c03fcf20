"""One lead as the API and the dashboard show it: every stored column, its company, its owner,
and the raw Apollo payloads that described the person.

A payload may be a whole import (thousands of people, up to 16 MiB), so reading a lead returns of
each payload its metadata and only the object about this person, taken out of the body by
PostgreSQL: an agency sees nothing else (a search page also describes people it does not own).
The admin also gets a small body inline, and any body whole from ``GET /v1/raw-payloads/{id}``.
Reading the lead itself is the pool's read side (:func:`leadpool.pool.lead_detail`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from leadpool import pool
from leadpool.api.auth import Principal
from leadpool.db.refusals import refused_value
from leadpool.errors import NotFound
from leadpool.models import Lead, Ownership, RawPayload

MAX_PAYLOADS = 20


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():  # stored before imports refused them: shown as no value
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# a payload body this small (a single person's match) comes inline for the admin; any larger one
# only from GET /v1/raw-payloads/{id}
INLINE_BODY_MAX = 64 * 1024
# what may precede a JSON text: whitespace and a byte order mark (kept in bodies of saved files)
_JSON_LEAD = " \t\r\n\ufeff"

# The payloads' metadata, and this person's own object taken out of each body by PostgreSQL, so a
# body (up to a whole import) is never sent to Python: the person objects of a body are found as
# ``leadpool.ingestion.formats.people_of`` finds them (a list of people; the people, contacts and
# matches lists and the person of a response, a contact's person_id being the person's id; or one
# bare person), and the first one with the lead's Apollo id or email is this person.
_PAYLOADS = text(
    """
SELECT p.id, p.endpoint, p.source_name, p.fetched_at, p.credits_consumed, p.body_sha256,
       octet_length(p.body) AS body_bytes,
       CASE WHEN :admin AND octet_length(p.body) <= :inline_max THEN p.body END AS body,
       CASE WHEN :extract THEN (
         SELECT c.person FROM (
           SELECT 0 AS grp, e.ord, e.value AS person
             FROM jsonb_array_elements(CASE WHEN jsonb_typeof(d.doc) = 'array' THEN d.doc END)
                  WITH ORDINALITY AS e(value, ord)
           UNION ALL
           SELECT 1, e.ord, e.value
             FROM jsonb_array_elements(CASE WHEN d.envelope AND jsonb_typeof(d.doc -> 'people') = 'array'
                                            THEN d.doc -> 'people' END) WITH ORDINALITY AS e(value, ord)
           UNION ALL
           SELECT 2, e.ord,
                  CASE WHEN jsonb_typeof(e.value) = 'object'
                       THEN (e.value - 'person_id')
                            || jsonb_build_object('contact_id', e.value -> 'id', 'id', e.value -> 'person_id')
                       ELSE e.value END
             FROM jsonb_array_elements(CASE WHEN d.envelope AND jsonb_typeof(d.doc -> 'contacts') = 'array'
                                            THEN d.doc -> 'contacts' END) WITH ORDINALITY AS e(value, ord)
           UNION ALL
           SELECT 3, e.ord, e.value
             FROM jsonb_array_elements(CASE WHEN d.envelope AND jsonb_typeof(d.doc -> 'matches') = 'array'
                                            THEN d.doc -> 'matches' END) WITH ORDINALITY AS e(value, ord)
           UNION ALL
           SELECT 4, 0, d.doc -> 'person' WHERE d.envelope
           UNION ALL
           SELECT 5, 0, d.doc
            WHERE jsonb_typeof(d.doc) = 'object' AND NOT d.envelope
              AND d.doc ?| array['id', 'email', 'linkedin_url', 'first_name']
         ) AS c
         WHERE jsonb_typeof(c.person) = 'object'
           AND ((c.person -> 'id') = to_jsonb(CAST(:apollo_id AS text))
                OR lower(c.person ->> 'email') = :email)
         ORDER BY c.grp, c.ord
         LIMIT 1
       ) END AS person
  FROM (
    -- the newest first, so only their bodies are parsed
    SELECT id, endpoint, source_name, fetched_at, credits_consumed, body_sha256, body
      FROM raw_payloads
     WHERE id = ANY(:ids)
     ORDER BY fetched_at DESC, id DESC
     LIMIT :n
  ) AS p
  LEFT JOIN LATERAL (
    SELECT j.doc, jsonb_typeof(j.doc) = 'object'
                  AND j.doc ?| array['people', 'contacts', 'person', 'matches'] AS envelope
      FROM (SELECT CASE WHEN :extract AND left(ltrim(p.body, :json_lead), 1) IN ('{', '[')
                        THEN CAST(ltrim(p.body, :json_lead) AS jsonb) END AS doc) AS j
  ) AS d ON true
 ORDER BY p.fetched_at DESC, p.id DESC
"""
)


def _payload_rows(session: Session, ids: list[int], lead: Lead, principal: Principal) -> Sequence[RowMapping]:
    params: dict[str, Any] = {
        "ids": ids,
        "admin": principal.is_admin,
        "inline_max": INLINE_BODY_MAX,
        "json_lead": _JSON_LEAD,
        "apollo_id": lead.apollo_id,
        "email": lead.email,
        "extract": bool(lead.apollo_id or lead.email),
        "n": MAX_PAYLOADS,
    }
    try:
        with session.begin_nested():
            return session.execute(_PAYLOADS, params).mappings().all()
    except DBAPIError as e:
        if not refused_value(e):  # a statement timeout is the request's 503, not a bad body
            raise
        # a body that looks like JSON but is not (or holds what jsonb cannot, a \u0000)
    rows = []
    for row in session.execute(_PAYLOADS, {**params, "extract": False}).mappings().all():
        try:
            with session.begin_nested():
                rows.append(session.execute(_PAYLOADS, {**params, "ids": [row["id"]]}).mappings().one())
        except DBAPIError as e:
            if not refused_value(e):
                raise
            rows.append(row)  # no person to show from this one
    return rows


def raw_payloads(session: Session, ids: list[int], lead: Lead, principal: Principal) -> list[dict[str, Any]]:
    """The newest payloads describing the lead (at most ``MAX_PAYLOADS``): metadata, and this
    person's own object (``person``, None if the body holds none); for the admin also where the
    whole body is (``body_url``), and the body itself when it is small."""
    if not ids:
        return []
    out = []
    for p in _payload_rows(session, ids, lead, principal):
        meta: dict[str, Any] = {
            "id": p["id"],
            "endpoint": p["endpoint"],
            "source_name": p["source_name"] if principal.is_admin else None,
            "fetched_at": jsonable(p["fetched_at"]),
            "credits_consumed": jsonable(p["credits_consumed"]),
            "body_sha256": p["body_sha256"],
            "person": p["person"],
            "body_bytes": p["body_bytes"],
        }
        if principal.is_admin:
            meta["body_url"] = f"/v1/raw-payloads/{p['id']}"
            if p["body"] is not None:
                meta["body"] = p["body"]
        out.append(meta)
    return out


def raw_payload(session: Session, payload_id: int, principal: Principal) -> dict[str, Any]:
    """One payload whole: the admin's only (anyone else: NotFound, as if absent)."""
    found = session.get(RawPayload, payload_id) if principal.is_admin else None
    if found is None:
        raise NotFound(f"raw payload {payload_id} not found")
    return {
        "id": found.id,
        "endpoint": found.endpoint,
        "source_name": found.source_name,
        "line_no": found.line_no,
        "fetched_at": found.fetched_at,
        "credits_consumed": jsonable(found.credits_consumed),
        "body_sha256": found.body_sha256,
        "body_bytes": len(found.body.encode()),
        "apollo_person_ids": found.apollo_person_ids,
        "request": found.request,
        "response_headers": found.response_headers,
        "body": found.body,
    }


def lead_detail(session: Session, lead: Lead, principal: Principal) -> dict[str, Any]:
    detail = pool.lead_detail(session, lead)
    company = detail.pop("company")
    payload_ids = list(detail.pop("raw_payload_ids"))
    scores = detail.pop("scores")
    owner = session.scalar(select(Ownership.agency_id).where(Ownership.lead_id == lead.id))
    return {
        "id": lead.id,
        "fields": {k: jsonable(v) for k, v in detail.items()},
        "company": {k: jsonable(v) for k, v in company.items()} if company is not None else None,
        "owner_agency_id": owner,
        "raw_payloads": raw_payloads(session, payload_ids, lead, principal),
        "raw_payloads_total": len(payload_ids),
        "scores": [{k: jsonable(v) for k, v in sc.items()} for sc in scores],
    }
