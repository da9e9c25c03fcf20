"""A company's timeline: touches to all its people, their replies and opt-outs, its pauses.

The admin sees everything. An agency sees its own touches, and the replies, opt-outs and pauses
of the company (they decide whether it may touch anyone there), but not who at the company it
does not own: ``lead_id`` (and an event's ``touch_id``, source and reporter) is left out of those
entries. Events that name another agency's campaign are hidden, as on the lead timeline, and so
are conversions of people the agency does not hold (whom another agency won decides nothing for
it). An unknown company is a 404 for everyone. Paged like the lead timeline
(:mod:`leadpool.api.timelineview`); the agency's filter applies to every page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool.api.auth import Principal
from leadpool.api.deps import Caller, SessionDep
from leadpool.api.leadview import jsonable
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.api.timelineview import CursorParam, LimitParam, OrderParam, cursor_context, sealed_page
from leadpool.client.models import TIMELINE_DEFAULT_LIMIT, CompanyTimeline
from leadpool.errors import NotFound
from leadpool.limits import MAX_ID
from leadpool.models import Campaign, Company, Ownership
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


def _for_agency(
    session: Session, entries: Sequence[TimelineEntry], agency_id: int, campaigns: set[int]
) -> list[TimelineEntry | None]:
    """What the agency sees of each entry (None: hidden)."""
    ids = {e.detail.get("lead_id") for e in entries} - {None}
    owned = set(
        session.scalars(
            select(Ownership.lead_id).where(Ownership.agency_id == agency_id, Ownership.lead_id.in_(ids))
        )
    )
    return [_agency_entry(e, agency_id, campaigns, owned) for e in entries]


def _agency_entry(
    e: TimelineEntry, agency_id: int, campaigns: set[int], owned: set[int]
) -> TimelineEntry | None:
    if e.kind == "touch" and e.detail.get("agency_id") != agency_id:
        return None
    campaign = e.detail.get("campaign_id")
    if e.kind.startswith("event.") and campaign is not None and campaign not in campaigns:
        return None
    mine = e.detail.get("lead_id") in owned
    if e.kind == "event.converted" and not mine:
        return None  # whom another agency won is not what decides whether anyone may be touched
    reporter = e.detail.get("reported_by_agency_id")
    if not mine:
        hidden = {"lead_id": None, "touch_id": None, "reported_by_agency_id": None}
        if e.kind.startswith("event."):
            hidden["source"] = None
        return TimelineEntry(
            e.at, e.kind, {**e.detail, **hidden}, "" if e.kind.startswith("event.") else e.source
        )
    if reporter is not None and reporter != agency_id:  # another agency's report about its person
        return TimelineEntry(
            e.at, e.kind, {**e.detail, "reported_by_agency_id": None, "source": "another agency"}, ""
        )
    return e


@router.get("/{company_id}/timeline", response_model=CompanyTimeline)
def get_company_timeline(
    company_id: CompanyId,
    session: SessionDep,
    caller: Caller,
    limit: LimitParam = TIMELINE_DEFAULT_LIMIT,
    order: OrderParam = "asc",
    cursor: CursorParam = None,
) -> CompanyTimeline:
    """Touches to all the company's people, their replies and opt-outs, and the company's pauses
    (an agency sees its own touches, the company's replies and pauses), a page at a time: follow
    ``next_cursor`` until it is null."""
    if session.get(Company, company_id) is None:
        raise NotFound(f"company {company_id} not found")
    principal: Principal = caller
    view: Callable[[Sequence[TimelineEntry]], list[TimelineEntry | None]] | None = None
    if not principal.is_admin:
        agency_id = principal.agency_id
        assert agency_id is not None
        campaigns = set(session.scalars(select(Campaign.id).where(Campaign.agency_id == agency_id)))

        def agency_view(entries: Sequence[TimelineEntry]) -> list[TimelineEntry | None]:
            return _for_agency(session, entries, agency_id, campaigns)

        view = agency_view
    entries, next_cursor = sealed_page(
        lambda n, pos, newest: company_timeline(session, company_id, limit=n, after=pos, newest_first=newest),
        context=cursor_context("company", company_id, order == "desc", principal),
        limit=limit,
        cursor=cursor,
        newest_first=order == "desc",
        view=view,
    )
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
    return CompanyTimeline.model_validate(
        {
            "company_id": company_id,
            "entries": out,
            "next_cursor": next_cursor,
        }
    )
