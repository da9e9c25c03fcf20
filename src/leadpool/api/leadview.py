"""One lead as the API and the dashboard show it: every stored column, its company, its owner,
and the raw Apollo payloads that described the person.

The admin sees raw payloads whole. An agency sees, from each payload, only the object about this
person: a search page also describes people the agency does not own. Reading the lead itself is
the pool's read side (:func:`leadpool.pool.lead_detail`).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool import pool
from leadpool.api.auth import Principal
from leadpool.ingestion.formats import people_of
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


def _person_only(body: str, lead: Lead) -> Any:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    for person in people_of(doc) or []:
        if not isinstance(person, dict):
            continue
        if (lead.apollo_id and person.get("id") == lead.apollo_id) or (
            lead.email and str(person.get("email") or "").lower() == lead.email
        ):
            return person
    return None


def raw_payloads(session: Session, ids: list[int], lead: Lead, principal: Principal) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = session.scalars(
        select(RawPayload)
        .where(RawPayload.id.in_(ids))
        .order_by(RawPayload.fetched_at.desc(), RawPayload.id.desc())
        .limit(MAX_PAYLOADS)
    )
    out = []
    for p in rows:
        meta = {
            "id": p.id,
            "endpoint": p.endpoint,
            "source_name": p.source_name if principal.is_admin else None,
            "fetched_at": jsonable(p.fetched_at),
            "credits_consumed": jsonable(p.credits_consumed),
            "body_sha256": p.body_sha256,
        }
        meta["person"] = _person_only(p.body, lead)
        meta["body_bytes"] = len(p.body.encode())
        if principal.is_admin:
            meta["body"] = p.body
        out.append(meta)
    return out


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
        "scores": [{k: jsonable(v) for k, v in sc.items()} for sc in scores],
    }
