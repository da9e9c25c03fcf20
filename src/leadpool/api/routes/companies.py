"""A company's timeline: touches to all its people, their replies and opt-outs, its pauses.

The admin sees everything. An agency sees its own touches, and the replies, opt-outs and pauses
of the company (they decide whether it may touch anyone there), but not who at the company it
does not own: ``lead_id`` (and an event's ``touch_id``, source and reporter) is left out of those
entries. Events that name another agency's campaign are hidden, as on the lead timeline, and so
are conversions of people the agency does not hold (whom another agency won decides nothing for
it). An unknown company is a 404 for everyone.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool.api.auth import Principal
from leadpool.api.deps import Caller, SessionDep
from leadpool.api.leadview import jsonable
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import CompanyTimeline
from leadpool.limits import MAX_ID
from leadpool.models import Campaign, Ownership
from leadpool.timeline import TimelineEntry, company_timeline

router = APIRouter(prefix="/v1/companies", tags=["companies"], responses=COMMON_RESPONSES)
CompanyId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _summary(e: TimelineEntry) -> str:
    d = e.detail
    who = f"lead {d['lead_id']}" if d.get("lead_id") is not None else "a person"
    if e.kind == "touch":
        return f"{d.get('channel')} touch {d.get('state')} to {who}, campaign {d.get('campaign_id')}"
    if e.kind == "company.paused":
        return f"paused until {jsonable(d.get('until'))} by {who}'s {d.get('cause')} (event {d.get('cause_event_id')})"
    category = f" ({d['category']})" if d.get("category") else ""
    return f"{e.kind.split('.', 1)[-1]}{category} from {who}"


def _for_agency(session: Session, entries: list[TimelineEntry], agency_id: int) -> list[TimelineEntry]:
    campaigns = set(session.scalars(select(Campaign.id).where(Campaign.agency_id == agency_id)))
    ids = {e.detail.get("lead_id") for e in entries} - {None}
    owned = set(
        session.scalars(
            select(Ownership.lead_id).where(Ownership.agency_id == agency_id, Ownership.lead_id.in_(ids))
        )
    )
    out = []
    for e in entries:
        if e.kind == "touch" and e.detail.get("agency_id") != agency_id:
            continue
        campaign = e.detail.get("campaign_id")
        if e.kind.startswith("event.") and campaign is not None and campaign not in campaigns:
            continue
        mine = e.detail.get("lead_id") in owned
        if e.kind == "event.converted" and not mine:
            continue  # whom another agency won is not what decides whether anyone may be touched
        reporter = e.detail.get("reported_by_agency_id")
        if not mine:
            hidden = {"lead_id": None, "touch_id": None, "reported_by_agency_id": None}
            if e.kind.startswith("event."):
                hidden["source"] = None
            e = TimelineEntry(
                e.at, e.kind, {**e.detail, **hidden}, "" if e.kind.startswith("event.") else e.source
            )
        elif reporter is not None and reporter != agency_id:  # another agency's report about its person
            e = TimelineEntry(
                e.at, e.kind, {**e.detail, "reported_by_agency_id": None, "source": "another agency"}, ""
            )
        out.append(e)
    return out


@router.get("/{company_id}/timeline", response_model=CompanyTimeline)
def get_company_timeline(company_id: CompanyId, session: SessionDep, caller: Caller) -> CompanyTimeline:
    """Touches to all the company's people, their replies and opt-outs, and the company's pauses
    (an agency sees its own touches, the company's replies and pauses)."""
    entries = company_timeline(session, company_id)
    principal: Principal = caller
    if not principal.is_admin:
        assert principal.agency_id is not None
        entries = _for_agency(session, entries, principal.agency_id)
    out: list[dict[str, Any]] = [
        {
            "at": e.at,
            "kind": e.kind,
            "summary": _summary(e),
            "source": e.source,
            "detail": {k: jsonable(v) for k, v in e.detail.items()},
        }
        for e in entries
    ]
    return CompanyTimeline.model_validate({"company_id": company_id, "entries": out})
