"""A lead's story in order: ownership and enrollment changes, gate decisions, touches, events, audit,
and the contact memory that applied to it (rest periods, pauses of its company); and a company's
story: touches to all its people, their replies and opt-outs, and the company's pauses.

Events stored before the pool held the person (matched later by address hash) are included too.
Entries at the same instant are ordered history, rest, decision, touch, event, pause, audit, then
by row id, so a check comes before the touch it reserved and an event before the pause it caused.
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
from leadpool.models import (
    AuditLog,
    Company,
    CompanyPause,
    Decision,
    Event,
    Lead,
    LeadHistory,
    RestPeriod,
    Touch,
)

_OWNERSHIP_ACTIONS = {"acquired", "released", "converted", "transferred", "quarantined"}
_RANK = {"history": 0, "rest": 1, "decision": 2, "touch": 3, "event": 4, "pause": 5, "audit": 6}
# events about a colleague that the company timeline lists (deliveries and opens are noise there)
_COMPANY_EVENT_TYPES = ("reply", "unsubscribe", "complaint", "converted")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    # ownership.<action>, enrollment.<action>, rest.started, decision, touch, event.<type>,
    # company.paused, audit.<action>
    kind: str
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
                "lead_id": e.lead_id,
                "reported_by_agency_id": e.reported_by_agency_id,
            },
            f"events:{e.id}",
        )
        rows.append((e.occurred_at, _RANK["event"], e.id, entry))

    for r in session.execute(select(RestPeriod).where(RestPeriod.lead_id == lead_id)).scalars():
        rows.append((r.started_at, _RANK["rest"], r.id, _rest_entry(r)))

    if lead.company_id is not None:
        # pauses of the company the lead belongs to now (what the gate applies), except its own
        pauses = select(CompanyPause).where(
            CompanyPause.company_id == lead.company_id,
            or_(CompanyPause.lead_id.is_(None), CompanyPause.lead_id != lead_id),
        )
        for p in session.execute(pauses).scalars():
            rows.append((p.started_at, _RANK["pause"], p.id, _pause_entry(p, with_lead=False)))

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


def _rest_entry(r: RestPeriod) -> TimelineEntry:
    return TimelineEntry(
        r.started_at,
        "rest.started",
        {
            "until": r.until,
            "reason": r.reason,  # what ended the enrollment: the cause of the rest
            "enrollment_id": r.enrollment_id,
            "campaign_id": r.campaign_id,
            "agency_id": r.agency_id,
        },
        f"rest_periods:{r.id}",
    )


def _pause_entry(p: CompanyPause, *, with_lead: bool) -> TimelineEntry:
    detail: dict[str, Any] = {
        "company_id": p.company_id,
        "until": p.until,
        "cause": p.kind,
        "cause_event_id": p.cause_event_id,
    }
    if with_lead:
        detail["lead_id"] = p.lead_id
    return TimelineEntry(p.started_at, "company.paused", detail, f"company_pauses:{p.id}")


def company_timeline(session: Session, company_id: int) -> list[TimelineEntry]:
    """A company's story, oldest first: touches to all its people (by the company recorded on the
    touch), their replies, opt-outs and conversions (people at the company now), and its pauses.
    Raises NotFound for an unknown company."""
    if session.get(Company, company_id) is None:
        raise NotFound(f"company {company_id} not found")
    rows: list[tuple[datetime, int, int, TimelineEntry]] = []
    for t in session.execute(select(Touch).where(Touch.company_id == company_id)).scalars():
        entry = TimelineEntry(
            t.at,
            "touch",
            {
                "lead_id": t.lead_id,
                "state": t.state,
                "channel": t.channel,
                "campaign_id": t.campaign_id,
                "agency_id": t.agency_id,
                "sent_at": t.sent_at,
                "ended_at": t.ended_at,
            },
            f"touches:{t.id}",
        )
        rows.append((t.at, _RANK["touch"], t.id, entry))
    people = select(Lead.id).where(Lead.company_id == company_id)
    pauses = list(
        session.execute(select(CompanyPause).where(CompanyPause.company_id == company_id)).scalars()
    )
    cause_ids = [p.cause_event_id for p in pauses]
    events = select(Event).where(
        or_(Event.lead_id.in_(people), Event.id.in_(cause_ids)) if cause_ids else Event.lead_id.in_(people),
        Event.type.in_(_COMPANY_EVENT_TYPES),
    )
    for e in session.execute(events).scalars():
        entry = TimelineEntry(
            e.occurred_at,
            f"event.{e.type}",
            {
                "lead_id": e.lead_id,
                "category": e.category,
                "channel": e.channel,
                "source": e.source,
                "campaign_id": e.campaign_id,
                "touch_id": e.touch_id,
                "reported_by_agency_id": e.reported_by_agency_id,
            },
            f"events:{e.id}",
        )
        rows.append((e.occurred_at, _RANK["event"], e.id, entry))
    for p in pauses:
        rows.append((p.started_at, _RANK["pause"], p.id, _pause_entry(p, with_lead=True)))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [r[3] for r in rows]
