"""A lead's timeline as the API and dashboard show it: each entry with a one-line summary.

The admin sees everything. An agency sees what is about itself (its ownership, enrollments,
decisions, touches) and what is about the person (events that name no other agency's campaign),
never another agency's rows, nor platform audit rows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool.api.auth import Principal
from leadpool.api.leadview import jsonable
from leadpool.models import Campaign
from leadpool.timeline import TimelineEntry, lead_timeline


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


def timeline_entries(session: Session, lead_id: int, principal: Principal) -> list[dict[str, Any]]:
    """The lead's timeline, oldest first, filtered for the caller (the caller checked visibility)."""
    entries = lead_timeline(session, lead_id)
    if not principal.is_admin:
        assert principal.agency_id is not None
        campaigns = set(session.scalars(select(Campaign.id).where(Campaign.agency_id == principal.agency_id)))
        entries = [
            _redacted(e, principal.agency_id)
            for e in entries
            if _visible(e, principal.agency_id, campaigns, lead_id)
        ]
    out = []
    for e in entries:
        summary, badge = _summary(e)
        out.append(
            {
                "at": e.at,
                "kind": e.kind,
                "summary": summary,
                "badge": badge,
                "source": e.source,
                "detail": {k: jsonable(v) for k, v in e.detail.items()},
            }
        )
    return out
