"""A lead's story in order: ownership and enrollment changes, gate decisions, touches, events, audit.

Events stored before the pool held the person (matched later by address hash) are included too.
Entries at the same instant are ordered history, decision, touch, event, audit, then by row id,
so a check comes before the touch it reserved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from leadpool.config import get_settings
from leadpool.errors import InvalidInput, NotFound
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import AuditLog, Decision, Event, Lead, LeadHistory, Touch

_OWNERSHIP_ACTIONS = {"acquired", "released", "converted", "transferred", "quarantined"}
_RANK = {"history": 0, "decision": 1, "touch": 2, "event": 3, "audit": 4}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # ownership.<action>, enrollment.<action>, decision, touch, event.<type>, audit.<action>
    detail: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # table:id, so an entry can be traced to its row

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def lead_timeline(session: Session, lead_id: int) -> list[TimelineEntry]:
    """Everything that happened to one lead, oldest first. Raises NotFound for an unknown lead."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    rows: list[tuple[datetime, int, int, TimelineEntry]] = []

    for h in session.execute(select(LeadHistory).where(LeadHistory.lead_id == lead_id)).scalars():
        group = "ownership" if h.action in _OWNERSHIP_ACTIONS else "enrollment"
        entry = TimelineEntry(
            h.at,
            f"{group}.{h.action}",
            {"agency_id": h.agency_id, "campaign_id": h.campaign_id, "actor": h.actor, "reason": h.reason},
            f"lead_history:{h.id}",
        )
        rows.append((h.at, _RANK["history"], h.id, entry))

    for d in session.execute(select(Decision).where(Decision.lead_id == lead_id)).scalars():
        entry = TimelineEntry(
            d.at,
            "decision",
            {
                "allowed": d.allowed,
                "channel": d.channel,
                "campaign_id": d.campaign_id,
                "agency_id": d.agency_id,
                "sender": d.sender,
                "reasons": d.reasons,
                "touch_id": d.touch_id,
            },
            f"decisions:{d.id}",
        )
        rows.append((d.at, _RANK["decision"], d.id, entry))

    for t in session.execute(select(Touch).where(Touch.lead_id == lead_id)).scalars():
        entry = TimelineEntry(
            t.at,
            "touch",
            {
                "state": t.state,
                "channel": t.channel,
                "campaign_id": t.campaign_id,
                "agency_id": t.agency_id,
                "sender": t.sender,
                "sent_at": t.sent_at,
                "ended_at": t.ended_at,
                "provider_message_id": t.provider_message_id,
            },
            f"touches:{t.id}",
        )
        rows.append((t.at, _RANK["touch"], t.id, entry))

    hmacs = _lead_hmacs(lead)
    cond = Event.lead_id == lead_id
    if hmacs:
        cond = or_(cond, Event.address_hmac.in_(hmacs))
    for e in session.execute(select(Event).where(cond)).scalars():
        entry = TimelineEntry(
            e.occurred_at,
            f"event.{e.type}",
            {
                "category": e.category,
                "channel": e.channel,
                "source": e.source,
                "provider_event_id": e.provider_event_id,
                "campaign_id": e.campaign_id,
                "touch_id": e.touch_id,
                "sender": e.sender,
                "received_at": e.received_at,
                "detail": e.detail,
            },
            f"events:{e.id}",
        )
        rows.append((e.occurred_at, _RANK["event"], e.id, entry))

    audits = select(AuditLog).where(AuditLog.subject_type == "lead", AuditLog.subject_id == str(lead_id))
    for a in session.execute(audits).scalars():
        entry = TimelineEntry(
            a.at, f"audit.{a.action}", {"actor": a.actor, **(a.detail or {})}, f"audit_log:{a.id}"
        )
        rows.append((a.at, _RANK["audit"], a.id, entry))

    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [r[3] for r in rows]


def _lead_hmacs(lead: Lead) -> list[str]:
    key = get_settings().resolved_secret_key()
    out: list[str] = []
    for kind, value in (("email", lead.email), ("phone", lead.phone), ("linkedin", lead.linkedin_url)):
        if value:
            try:
                out.append(address_hmac(kind, value, key))
            except InvalidInput:
                continue
    return out
