"""A lead's timeline as the API and dashboard show it: each entry with a one-line summary, a page
at a time.

The admin sees everything. An agency sees what is about itself (its ownership, enrollments,
decisions, touches) and what is about the person (events that name no other agency's campaign),
never another agency's rows, nor platform audit rows. The filter applies to every page: a page
holds up to ``limit`` entries the caller may see, and its cursor continues after the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from fastapi import Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool.api.auth import Principal
from leadpool.api.leadview import jsonable
from leadpool.client.models import TIMELINE_DEFAULT_LIMIT, TIMELINE_MAX_LIMIT
from leadpool.models import Campaign
from leadpool.timeline import Fetch, Position, TimelineEntry, lead_timeline, visible_page

# the paging parameters of both timeline endpoints
LimitParam = Annotated[
    int,
    Query(
        ge=1,
        le=TIMELINE_MAX_LIMIT,
        description=f"Entries per page (at most {TIMELINE_MAX_LIMIT}).",
    ),
]
OrderParam = Annotated[
    Literal["asc", "desc"],
    Query(description="asc: oldest first (the default); desc: newest first."),
]
CursorParam = Annotated[
    str | None,
    Query(
        max_length=100,
        # any version's shape (an old "t1." cursor gets the same refusal as any other stale one)
        pattern=r"^t[0-9]\.[A-Za-z0-9_-]+$",
        description="The next_cursor of the previous page (with the same order): the entries after it. "
        "An opaque, sealed token: valid only with the service that issued it (its secret key).",
    ),
]


def _summary(e: TimelineEntry) -> tuple[str, str]:
    """(sentence, badge) for one entry."""
    d = e.detail
    if e.kind == "decision":
        verdict = "allow" if d.get("allowed") else "deny"
        codes = ", ".join(str(r.get("code")) for r in d.get("reasons") or [])
        via = f" from {d['sender']}" if d.get("sender") else ""
        tail = f" (touch {d['touch_id']})" if d.get("touch_id") else (f": {codes}" if codes else "")
        return f"{verdict} {d.get('channel')}{via}, campaign {d.get('campaign_id')}{tail}", verdict
    if e.kind == "touch":
        msg = f", message {d['provider_message_id']}" if d.get("provider_message_id") else ""
        return f"{d.get('channel')} touch {d.get('state')}, campaign {d.get('campaign_id')}{msg}", str(
            d.get("state")
        )
    if e.kind.startswith(("ownership.", "enrollment.")):
        who = f"agency {d['agency_id']}" if d.get("agency_id") else ""
        where = f" campaign {d['campaign_id']}" if d.get("campaign_id") else ""
        why = f" ({d['reason']})" if d.get("reason") else ""
        return f"{e.kind.split('.', 1)[1]} {who}{where} by {d.get('actor')}{why}".replace("  ", " "), ""
    if e.kind.startswith("event."):
        category = f" ({d['category']})" if d.get("category") else ""
        return f"{e.kind.split('.', 1)[1]}{category} via {d.get('source')} on {d.get('channel') or '-'}", (
            "deny" if e.kind in ("event.hard_bounce", "event.complaint", "event.unsubscribe") else ""
        )
    if e.kind == "rest.started":
        return f"rest until {jsonable(d.get('until'))}: enrollment ended ({d.get('reason')})", "deny"
    if e.kind == "company.paused":
        cause = f"a colleague's {d.get('cause')} (event {d.get('cause_event_id')})"
        return f"company {d.get('company_id')} paused until {jsonable(d.get('until'))}: {cause}", "deny"
    return f"{e.kind} by {d.get('actor', '-')}", ""


# what an agency sees of an event another agency reported that acted on its lead
_OTHERS_REPORT_FIELDS = ("category", "channel", "received_at")


def _visible(e: TimelineEntry, agency_id: int, campaigns: set[int], lead_id: int) -> bool:
    if e.kind.startswith("audit."):
        return False
    reporter = e.detail.get("reported_by_agency_id")
    if reporter is not None and reporter != agency_id:
        # another agency's report: shown only where it acted on this lead (an opt-out, a bounce)
        return bool(e.detail.get("lead_id") == lead_id)
    owner = e.detail.get("agency_id")
    if owner is not None:
        return bool(owner == agency_id)
    campaign = e.detail.get("campaign_id")
    return campaign is None or campaign in campaigns


def _redacted(e: TimelineEntry, agency_id: int) -> TimelineEntry:
    """Another agency's report without what is that agency's own (its sender, ids, detail)."""
    reporter = e.detail.get("reported_by_agency_id")
    if reporter is None or reporter == agency_id:
        return e
    detail = {k: e.detail.get(k) for k in _OTHERS_REPORT_FIELDS}
    return replace(e, detail={**detail, "source": "another agency"}, source="")


@dataclass(frozen=True)
class TimelinePage:
    entries: list[dict[str, Any]]
    next_cursor: str | None  # None: nothing left in this order


def timeline_page(
    session: Session,
    lead_id: int,
    principal: Principal,
    *,
    limit: int = TIMELINE_DEFAULT_LIMIT,
    cursor: str | None = None,
    newest_first: bool = False,
) -> TimelinePage:
    """One page of the lead's timeline, filtered for the caller (the caller checked visibility):
    oldest first (``newest_first``: the reverse), after ``cursor`` (a ``next_cursor``), at most
    ``limit`` entries. Raises InvalidInput for a cursor that is not one."""
    view: Callable[[Sequence[TimelineEntry]], list[TimelineEntry | None]] | None = None
    if not principal.is_admin:
        agency_id = principal.agency_id
        assert agency_id is not None
        campaigns = set(session.scalars(select(Campaign.id).where(Campaign.agency_id == agency_id)))

        def agency_view(entries: Sequence[TimelineEntry]) -> list[TimelineEntry | None]:
            return [
                _redacted(e, agency_id) if _visible(e, agency_id, campaigns, lead_id) else None
                for e in entries
            ]

        view = agency_view

    entries, next_cursor = sealed_page(
        lambda n, pos, newest: lead_timeline(session, lead_id, limit=n, after=pos, newest_first=newest),
        context=cursor_context("lead", lead_id, newest_first, principal),
        limit=limit,
        cursor=cursor,
        newest_first=newest_first,
        view=view,
    )
    return TimelinePage([_as_json(e) for e in entries], next_cursor)


def cursor_context(kind: str, subject_id: int, newest_first: bool, principal: Principal) -> str:
    """What a timeline cursor is bound to: replayed on another timeline, in the other order or by
    another caller, one past entries hidden from its caller would place them in time."""
    return f"{kind}:{subject_id}:{'desc' if newest_first else 'asc'}:{principal.actor}"


def sealed_page(
    fetch: Fetch,
    *,
    context: str,
    limit: int,
    cursor: str | None,
    newest_first: bool,
    view: Callable[[Sequence[TimelineEntry]], list[TimelineEntry | None]] | None,
) -> tuple[list[TimelineEntry], str | None]:
    """One page as the caller sees it (``visible_page``), from and to cursors sealed for
    ``context``; raises InvalidInput for a cursor that is not one of them."""
    after = Position.from_cursor(cursor, context=context) if cursor is not None else None
    entries, next_after = visible_page(fetch, limit=limit, after=after, newest_first=newest_first, view=view)
    return entries, next_after.cursor(context=context) if next_after is not None else None


def _as_json(e: TimelineEntry) -> dict[str, Any]:
    summary, badge = _summary(e)
    return {
        "at": e.at,
        "kind": e.kind,
        "summary": summary,
        "badge": badge,
        "source": e.source,
        "detail": {k: jsonable(v) for k, v in e.detail.items()},
    }
