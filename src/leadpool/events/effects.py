"""What each event changes: suppressions, the lead's contact state, enrollments, campaigns.

Every change is monotonic and commutative, so events may arrive late, out of order or twice:
"since" columns keep the earliest time (LEAST), "until" columns the latest (GREATEST), and
suppressions are a set union (INSERT ... ON CONFLICT DO NOTHING). Times are the event's
``occurred_at``, never its arrival.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from leadpool.events.settings import EventSettings
from leadpool.models import AuditLog, LeadHistory, Suppression

STOP_REASONS = ("replied", "unsubscribed", "complained", "converted", "wrong_person")


def suppress(
    session: Session,
    kind: str,
    addresses: Iterable[tuple[str, str]],
    *,
    lead_id: int | None,
    event_id: int | None,
) -> int:
    """Add (address_type, value_hmac) pairs to the suppression list; returns how many were new."""
    rows = [
        {"kind": kind, "address_type": t, "value_hmac": h, "lead_id": lead_id, "event_id": event_id}
        for t, h in dict.fromkeys(addresses)
    ]
    if not rows:
        return 0
    stmt = (
        pg_insert(Suppression)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_suppressions_kind_address")
        .returning(Suppression.id)
    )
    return len(session.execute(stmt).all())


def address_holders(
    session: Session,
    addresses: Mapping[str, str | Collection[str]],
    *,
    exclude: int | None,
    personal: bool = False,
) -> list[int]:
    """Leads (other than ``exclude``) whose current email, phone or LinkedIn URL is one of these
    normalised ``addresses`` (keyed email/phone/linkedin: one or several of each), in id order
    (the order rows are locked).

    ``personal``: also the leads listing the email among the person's personal emails or the
    addresses their email moved away from (an opt-out is the person's; a bounce is only about the
    address, which the gate never sends those to).
    """
    given = {
        kind: sorted({value} if isinstance(value, str) else set(value)) for kind, value in addresses.items()
    }
    if not any(given.values()):
        return []
    also = (
        "OR (personal_emails && CAST(:email AS text[]) AND personal_emails IS NOT NULL) "
        "OR (previous_emails && CAST(:email AS text[]) AND previous_emails IS NOT NULL)"
        if personal and given.get("email")
        else ""
    )
    rows = session.execute(
        text(
            "SELECT id FROM leads WHERE (email = ANY (CAST(:email AS text[])) "
            "OR phone = ANY (CAST(:phone AS text[])) OR linkedin_url = ANY (CAST(:linkedin AS text[])) "
            f"{also}) AND id IS DISTINCT FROM :exclude ORDER BY id"
        ),
        {
            "email": given.get("email", []),
            "phone": given.get("phone", []),
            "linkedin": given.get("linkedin", []),
            "exclude": exclude,
        },
    ).all()
    return [int(r[0]) for r in rows]


def mark_since(session: Session, lead_id: int, column: str, at: datetime) -> bool:
    """Set a "since" column to the earliest time seen; True when it changed."""
    if column not in _SINCE_COLUMNS:
        raise ValueError(f"not a since column: {column}")
    row = session.execute(
        text(
            f"UPDATE leads SET {column} = :at, updated_at = now() "
            f"WHERE id = :id AND ({column} IS NULL OR {column} > :at) RETURNING id"
        ),
        {"id": lead_id, "at": at},
    ).first()
    return row is not None


def extend_until(session: Session, lead_id: int, column: str, until: datetime) -> bool:
    """Push an "until" column to the latest time seen; True when it changed."""
    if column not in ("cooling_until", "paused_until"):
        raise ValueError(f"not an until column: {column}")
    row = session.execute(
        text(
            f"UPDATE leads SET {column} = :until, updated_at = now() "
            f"WHERE id = :id AND ({column} IS NULL OR {column} < :until) RETURNING id"
        ),
        {"id": lead_id, "until": until},
    ).first()
    return row is not None


_SINCE_COLUMNS = (
    "replied_at",
    "converted_at",
    "unsubscribed_at",
    "complained_at",
    "wrong_person_at",
    "email_bounced_at",
    "blocklisted_at",
)


def revoke_consents(session: Session, lead_id: int, at: datetime, why: str, *, actor: str) -> int:
    """An opt-out withdraws the consents the person had given (to every agency) by then, each with
    the audit row any revocation writes; returns how many. The gate denies the opt-out itself
    anyway: this keeps the consent records true."""
    return len(
        session.execute(
            text(
                "WITH r AS (UPDATE consents SET revoked_at = :at, revoked_reason = :why "
                " WHERE lead_id = :id AND revoked_at IS NULL AND granted_at <= :at "
                " RETURNING id, lead_id, agency_id, channel) "
                "INSERT INTO audit_log (at, actor, action, subject_type, subject_id, detail) "
                "SELECT :at, :actor, 'consent.revoke', 'lead', CAST(r.lead_id AS text), "
                "jsonb_build_object('consent_id', r.id, 'agency_id', r.agency_id, 'channel', r.channel, "
                "'reason', CAST(:why AS text)) FROM r RETURNING id"
            ),
            {"id": lead_id, "at": at, "why": why, "actor": actor},
        ).all()
    )


def set_reply_category(session: Session, lead_id: int, category: str, at: datetime, event_id: int) -> bool:
    """The lead's reply category is the category of its latest reply (by occurred_at)."""
    row = session.execute(
        text(
            "UPDATE leads SET reply_category = :cat, updated_at = now() WHERE id = :id "
            "AND reply_category IS DISTINCT FROM :cat AND NOT EXISTS ("
            "  SELECT 1 FROM events e WHERE e.lead_id = :id AND e.type = 'reply' AND e.id <> :eid"
            "  AND e.category IS NOT NULL AND e.category <> 'out_of_office'"
            "  AND (e.occurred_at > :at OR (e.occurred_at = :at AND e.id > :eid))"
            ") RETURNING id"
        ),
        {"id": lead_id, "cat": category, "at": at, "eid": event_id},
    ).first()
    return row is not None


def end_enrollments(session: Session, lead_id: int, reason: str, *, actor: str, now: datetime) -> int:
    """End the lead's active enrollment(s) and write why into its history."""
    ended = session.execute(
        text(
            "UPDATE enrollments SET status = 'ended', ended_at = :now, end_reason = :reason "
            "WHERE lead_id = :id AND status = 'active' RETURNING campaign_id, agency_id"
        ),
        {"id": lead_id, "now": now, "reason": reason},
    ).all()
    for campaign_id, agency_id in ended:
        session.add(
            LeadHistory(
                lead_id=lead_id,
                at=now,
                action="unenrolled",
                agency_id=agency_id,
                campaign_id=campaign_id,
                actor=actor,
                reason=reason,
            )
        )
    return len(ended)


def mark_converted_ownership(
    session: Session, lead_id: int, at: datetime, *, event_id: int, now: datetime
) -> bool:
    """Make the current ownership sticky (release skips converted ownerships) and record it."""
    row = session.execute(
        text(
            "UPDATE ownerships SET converted_at = :at WHERE lead_id = :id "
            "AND (converted_at IS NULL OR converted_at > :at) RETURNING agency_id"
        ),
        {"id": lead_id, "at": at},
    ).first()
    if row is None:
        return False
    session.add(
        LeadHistory(
            lead_id=lead_id,
            at=now,
            action="converted",
            agency_id=row[0],
            actor=f"event:{event_id}",
            reason="converted: the lead stays with this agency",
        )
    )
    return True


def soft_bounce_threshold_at(
    session: Session,
    address_hmac: str,
    at: datetime,
    settings: EventSettings,
    *,
    agency_id: int | None = None,
) -> datetime | None:
    """When the address reached N soft bounces within the window around ``at``, else None.

    Serialised per address by an advisory lock so concurrent soft bounces cannot each miss the
    other and leave the threshold uncounted. A message counts once, at its first failure
    (Mailgun reports a temporary failure for every attempt it makes at one message).
    ``agency_id``: count only the soft bounces that agency reported or that are of its own sends.
    """
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"soft:{address_hmac}"}
    )
    window = timedelta(days=settings.soft_bounce_window_days)
    own = (
        "AND (reported_by_agency_id = :a OR touch_id IN (SELECT id FROM touches WHERE agency_id = :a)) "
        if agency_id is not None
        else ""
    )
    times: list[datetime] = list(
        session.execute(
            text(
                "SELECT min(occurred_at) FROM events WHERE address_hmac = :h AND type = 'soft_bounce' "
                f"AND occurred_at BETWEEN :lo AND :hi {own}"
                # one group per message: a touch, else the provider's message id, else the event
                # itself, each prefixed so that touch 1 and event 1 are not one message
                "GROUP BY coalesce('t:' || touch_id, 'm:' || (detail ->> 'message_id'), 'e:' || id) ORDER BY 1"
            ),
            {"h": address_hmac, "lo": at - window, "hi": at + window, "a": agency_id},
        ).scalars()
    )
    n = settings.soft_bounce_threshold
    for i in range(len(times) - n + 1):
        first, last = times[i], times[i + n - 1]
        if last - first <= window and first <= at <= last:
            return last
    return None


GuardKey = tuple[str, int | str]


@dataclass(frozen=True)
class _Guard:
    """What one campaign guard counts in the window of recent email sends."""

    name: str  # the campaign's paused_reason is campaign_<name>; the audit row's actor
    counted: str  # the events (alias e) of a send that count against it, as SQL
    label: str  # the count's name in the audit row


#: a provider's drop (``detail.dropped``: the address was on its suppression list, nothing was
#: sent) is no bounce or complaint of the send: the compliance reference, sections 1.1 and 3
_NOT_DROPPED = "e.detail ->> 'dropped' IS DISTINCT FROM 'true'"
#: the events (alias e) that make a send a hard bounce, for the campaign and sender guards
HARD_BOUNCE_EVENTS = (
    f"(e.type = 'hard_bounce' AND {_NOT_DROPPED}) "
    "OR (e.type = 'soft_bounce' AND e.detail ->> 'counted_as_hard' = 'true')"
)
#: the events (alias e) that make a send a spam complaint, for the campaign and sender guards
COMPLAINT_EVENTS = f"e.type = 'complaint' AND {_NOT_DROPPED}"
#: the marks of an event's detail those counts read. They say how a send went, nothing about
#: its recipient: an erased person's events keep them (and nothing else of their detail), or a
#: drop would count as a bounce and counted soft bounces as nothing, once she is erased
GUARD_MARKS = ("dropped", "counted_as_hard")


def guard_marks(detail: Mapping[str, object] | None) -> dict[str, bool] | None:
    """The GUARD_MARKS set in ``detail`` (None when none is)."""
    return {k: True for k in GUARD_MARKS if (detail or {}).get(k) is True} or None


_BOUNCES = _Guard("bounce_guard", HARD_BOUNCE_EVENTS, "hard_bounces")
_COMPLAINTS = _Guard("complaint_guard", COMPLAINT_EVENTS, "complaints")


def bounce_guard(session: Session, campaign_id: int, settings: EventSettings, *, now: datetime) -> bool:
    """Pause the campaign when its hard-bounce rate over its last N email sends passes the limit."""
    return _pause_if(
        session, campaign_id, _BOUNCES, settings, rate=settings.bounce_guard_rate, at_least=1, now=now
    )


def complaint_guard(session: Session, campaign_id: int, settings: EventSettings, *, now: datetime) -> bool:
    """Pause the campaign when its spam-complaint rate over its last N email sends passes the limit
    (mailbox providers block a domain long before its bounce rate would show anything)."""
    return _pause_if(
        session,
        campaign_id,
        _COMPLAINTS,
        settings,
        rate=settings.complaint_guard_rate,
        at_least=settings.complaint_guard_min_complaints,
        now=now,
    )


def guard_lock(session: Session, key: GuardKey) -> None:
    """The transaction lock of one guard's count: ``("guard", campaign id)`` or
    ``("sender-guard", "channel:sender")``. A delivery takes its events' guard locks up front in
    ``sorted`` order (``record.lock_leads_of``), and a single event takes its own the same way
    before any is counted, the campaigns' and mailboxes' of an address's earlier soft bounces
    included (a threshold counts them as hard): one order, so two deliveries never deadlock."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"{key[0]}:{key[1]}"}
    )


def _pause_if(
    session: Session,
    campaign_id: int,
    guard: _Guard,
    settings: EventSettings,
    *,
    rate: float,
    at_least: int,
    now: datetime,
) -> bool:
    guard_lock(session, ("guard", campaign_id))
    # the partial index ix_touches_campaign_id_email_sent has this filter and this order, so the
    # window reads N index entries however many emails the campaign has sent: keep them in step
    sends, bad = session.execute(
        text(
            "WITH recent AS ("
            "  SELECT id FROM touches WHERE campaign_id = :c AND channel = 'email' AND state = 'sent'"
            "  ORDER BY sent_at DESC NULLS LAST, id DESC LIMIT :window"
            ") SELECT count(*), count(*) FILTER (WHERE EXISTS ("
            f"  SELECT 1 FROM events e WHERE e.touch_id = recent.id AND ({guard.counted})"
            ")) FROM recent"
        ),
        {"c": campaign_id, "window": settings.bounce_guard_window},
    ).one()
    if sends < settings.bounce_guard_min_sends or bad < at_least or bad / sends <= rate:
        return False
    reason = f"campaign_{guard.name}"
    paused = session.execute(
        text(
            "UPDATE campaigns SET status = 'paused', paused_reason = :r, "
            "updated_at = now() WHERE id = :c AND status = 'active' RETURNING id"
        ),
        {"c": campaign_id, "r": reason},
    ).first()
    if paused is None:
        return False
    session.add(
        AuditLog(
            at=now,
            actor=guard.name,
            action="campaign.pause",
            subject_type="campaign",
            subject_id=str(campaign_id),
            detail={"reason": reason, "sends": sends, guard.label: bad},
        )
    )
    return True


def ooo_until(
    return_date: date | None, occurred_at: datetime, time_zone: str | None, settings: EventSettings
) -> datetime:
    """Start of the return day in the lead's time zone (UTC if unknown), else occurred_at + default."""
    if return_date is not None:
        try:
            tz = ZoneInfo(time_zone) if time_zone else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        until = datetime.combine(return_date, time.min, tzinfo=tz)
        if occurred_at < until <= occurred_at + timedelta(days=settings.ooo_max_days):
            return until
    return occurred_at + timedelta(days=settings.ooo_default_days)


def company_pause_days(kind: str, settings: EventSettings) -> int | None:
    """How long an event of ``kind`` pauses the person's colleagues (None: it does not)."""
    if kind in ("interested", "other"):
        return settings.company_pause_reply_days
    if kind == "not_interested":
        return settings.company_pause_not_interested_days
    if kind in ("unsubscribe", "complaint"):
        return settings.company_pause_opt_out_days
    return None


def pause_company(
    session: Session,
    lead_id: int,
    kind: str,
    at: datetime,
    *,
    event_id: int,
    settings: EventSettings,
    company_id: int | None = None,
) -> bool:
    """Pause automated touches to the other people at the lead's company (every agency).

    ``company_id``: the company the event is about when it names a touch (the touch's, recorded
    when it was made: a late reply to a touch at X pauses X even if the person has moved since);
    else the lead's current one. One row per causing event (unique ``cause_event_id``), so a
    replayed event adds nothing; the gate takes the latest ``until`` of the company's pauses, so
    pauses from events arriving in any order combine to the same answer. A lead without a company
    pauses nobody.
    """
    days = company_pause_days(kind, settings)
    if days is None or days <= 0:
        return False
    row = session.execute(
        text(
            "INSERT INTO company_pauses (company_id, lead_id, kind, cause_event_id, started_at, until) "
            "SELECT coalesce(CAST(:company AS bigint), l.company_id), l.id, :kind, :eid, :at, :until "
            "FROM leads l WHERE l.id = :id AND coalesce(CAST(:company AS bigint), l.company_id) IS NOT NULL "
            "ON CONFLICT (cause_event_id) DO NOTHING RETURNING id"
        ),
        {
            "id": lead_id,
            "company": company_id,
            "kind": kind,
            "eid": event_id,
            "at": at,
            "until": at + timedelta(days=days),
        },
    ).first()
    return row is not None
