"""Leads: import (admin), read one lead and its timeline (admin, or the agency that owns it),
erase (admin)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from leadpool.api import metrics, tenancy
from leadpool.api.deps import AdminCaller, Caller, SessionDep, database
from leadpool.api.leadview import lead_detail
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.api.timelineview import CursorParam, LimitParam, OrderParam, timeline_page
from leadpool.client.models import (
    TIMELINE_DEFAULT_LIMIT,
    ErasureRequest,
    ErasureResult,
    ImportResult,
    LeadDetail,
    Timeline,
)
from leadpool.errors import InvalidInput
from leadpool.ingestion.formats import people_of
from leadpool.ingestion.service import import_people
from leadpool.limits import MAX_ID
from leadpool.privacy import erase

router = APIRouter(prefix="/v1/leads", tags=["leads"], responses=COMMON_RESPONSES)
LeadId = Annotated[int, Path(ge=1, le=MAX_ID)]
IMPORT_ENDPOINT = "api:leads/import"

_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "Any Apollo JSON shape the importer takes: a people search page ({people: [...]}), a "
            "people/match or bulk_match response, a contacts page, one person object, or a list of them. "
            "The body is kept byte-for-byte as a raw payload."
        ),
        "content": {
            "application/json": {
                "schema": {"anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}
            }
        },
    }
}


def _people(raw: bytes) -> tuple[str, list[Any]]:
    try:
        text = raw.decode("utf-8")
        doc = orjson.loads(raw)
    except (UnicodeDecodeError, orjson.JSONDecodeError) as e:
        raise InvalidInput(f"body: not valid UTF-8 JSON ({e})") from e
    try:
        people = people_of(doc)
    except InvalidInput as e:
        raise InvalidInput(f"body: {e.message}") from None
    if people is None:
        raise InvalidInput("body: not an Apollo people response, person object or list of person objects")
    return text, people


@router.post("/import", response_model=ImportResult, openapi_extra=_IMPORT_BODY)
async def import_leads(request: Request, caller: AdminCaller) -> ImportResult:
    """Import people into the pool (merged by Apollo id, email or LinkedIn URL). Records that
    cannot be used are listed in ``rejected`` with their index; the others land."""
    raw = await request.body()
    text, people = _people(raw)
    result = await run_in_threadpool(
        import_people,
        database(request),
        people,
        endpoint=IMPORT_ENDPOINT,
        raw_body=text,
        source_name=str(request.url.path),
    )
    merged = result.updated + result.unchanged + result.merged
    metrics.IMPORTED_RECORDS.labels(outcome="inserted").inc(result.inserted)
    metrics.IMPORTED_RECORDS.labels(outcome="merged").inc(merged)
    metrics.IMPORTED_RECORDS.labels(outcome="rejected").inc(result.rejected_count)
    return ImportResult.model_validate(
        {
            "inserted": result.inserted,
            "merged": merged,
            "updated": result.updated,
            "rejected": [{"index": r.index, "reason": r.reason} for r in result.rejected],
            "lead_ids": result.lead_ids,
            "companies_inserted": result.companies_inserted,
        }
    )


@router.get("/{lead_id}", response_model=LeadDetail)
def get_lead(lead_id: LeadId, session: SessionDep, caller: Caller) -> LeadDetail:
    """Every stored field of the lead, its company, its owner and its raw Apollo payloads."""
    return LeadDetail.model_validate(lead_detail(session, tenancy.lead(session, caller, lead_id), caller))


@router.get("/{lead_id}/timeline", response_model=Timeline)
def get_timeline(
    lead_id: LeadId,
    session: SessionDep,
    caller: Caller,
    limit: LimitParam = TIMELINE_DEFAULT_LIMIT,
    order: OrderParam = "asc",
    cursor: CursorParam = None,
) -> Timeline:
    """Ownership changes, enrollments, decisions with reasons, touches and events, in order
    (an agency sees its own rows and the events about the person), a page at a time: follow
    ``next_cursor`` until it is null."""
    tenancy.lead(session, caller, lead_id)
    page = timeline_page(session, lead_id, caller, limit=limit, cursor=cursor, newest_first=order == "desc")
    return Timeline.model_validate(
        {"lead_id": lead_id, "entries": page.entries, "next_cursor": page.next_cursor}
    )


@router.post("/{lead_id}/erase", response_model=ErasureResult)
def erase_lead(
    lead_id: LeadId, session: SessionDep, caller: AdminCaller, body: ErasureRequest | None = None
) -> ErasureResult:
    """Erase the person's personal data; keyed hashes of their addresses stay suppressed so no
    import brings them back. Idempotent. The body is optional: ``requested_by`` says who asked (the
    person's own addresses in it are kept only as keyed hashes)."""
    tenancy.lead(session, caller, lead_id)
    requested_by = body.requested_by if body is not None else None
    result = erase(session, lead_id, actor=caller.actor, requested_by=requested_by)
    return ErasureResult.model_validate(asdict(result))
