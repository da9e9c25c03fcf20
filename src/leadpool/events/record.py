"""``record_event``: store one event exactly once and apply what it means, in the caller's transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from leadpool.config import get_settings
from leadpool.db.refusals import refused_value
from leadpool.errors import InvalidInput, LeadpoolError, NotFound
from leadpool.events import dead_domains, senders
from leadpool.events import effects as fx
from leadpool.events.bounces import classify_status, smtp_status
from leadpool.events.classifier import Classifier, default_classifier, is_stop_word
from leadpool.events.schemas import EventIn, EventOutcome
from leadpool.events.settings import EventSettings, get_event_settings
from leadpool.gate.touches import normalize_message_id
from leadpool.ingestion.hashing import address_hmac, hmac_hex, normalize_address, older_hmacs
from leadpool.ingestion.lock import hold_off_imports
from leadpool.ingestion.timezone import country_code
from leadpool.models import Campaign, Event, Lead, Suppression, Touch
from leadpool.pool.locks import lock_addresses, lock_leads

_CHANNEL_ADDRESS = {"email": "email", "sms": "phone", "phone": "phone", "linkedin": "linkedin"}


@dataclass
class _Resolved:
    """The event after normalisation: who it is about and what it really is."""

    type: str
    category: str | None
    return_date: date | None
    addresses: dict[str, str]  # kind -> normalised value, as given by the event
    lead: Lead | None
    touch: Touch | None
    address_type: str | None
    address_hmac: str | None
    detail: dict[str, Any]
    # leads whose current address is one the event names, in id order (read once, with their locks)
    holders: tuple[int, ...] = ()
    channel: str | None = None  # the event's channel, else its touch's
    status_line: str = ""  # ``detail.smtp_status`` as given (a DSN line), before only its code is kept


# the events that write their leads' rows (an opt-out or a bounce also every holder of the address)
_PROTECTIVE = ("hard_bounce", "soft_bounce", "complaint", "unsubscribe")
#: how far after its arrival an event may say it happened (senders' clocks drift, not by a day)
FUTURE_SKEW = timedelta(days=1)


def _dropped(r: _Resolved) -> bool:
    """A provider's drop: the message was never sent (the address was already on the provider's
    suppression list). The person is suppressed as the drop says, but nothing was sent to bounce
    or to complain about: no campaign, mailbox or company counts it (reference sections 1.1, 3)."""
    return r.detail.get("dropped") is True


def _opts_out(r: _Resolved) -> bool:
    return r.type in ("complaint", "unsubscribe") or (r.type == "reply" and r.category == "unsubscribe")


def _holders(session: Session, r: _Resolved) -> list[int]:
    """The leads a protective event also writes: those holding its address (a bounce is about that
    address alone); for an opt-out, those holding any of the person's addresses, the ones the
    event names and its lead's own. An opt-out reported by lead id (a one-click link, a STOP the
    engine tied to its lead) must reach the person's other leads as one by address does."""
    if not _opts_out(r):
        return fx.address_holders(session, r.addresses, exclude=None)
    person: dict[str, set[str]] = {kind: {value} for kind, value in r.addresses.items()}
    lead = r.lead
    if lead is not None:
        # emails and a LinkedIn profile are the person's; a number only when the opt-out came by
        # text or call (a lead's phone may be its company's switchboard, shared with colleagues;
        # an event naming no channel is not taken to be about it)
        person.setdefault("email", set()).update(e for e in (lead.email, *(lead.personal_emails or ())) if e)
        if lead.linkedin_url:
            person.setdefault("linkedin", set()).add(lead.linkedin_url)
        if lead.phone and r.channel in ("sms", "phone"):
            person.setdefault("phone", set()).add(lead.phone)
    return fx.address_holders(session, person, exclude=None, personal=True)


def lock_leads_of(session: Session, events: list[EventIn]) -> None:
    """Lock, at once and lowest id first, the leads a batch of events will write or keep words
    about, then the addresses of those that name no lead (``lock_addresses``).

    Recorded one by one, a provider's delivery locked its leads (and addresses) in its payload's
    order and held them to the end: with a cancel, a release, an erasure or another delivery
    locking in a fixed order, the two deadlocked. An event that cannot be resolved is left to
    ``record_event`` to refuse.
    """
    key = get_settings().resolved_secret_key()
    classifier = default_classifier()
    settings = get_event_settings()
    hold_off_imports(session)  # the same leads hold the same addresses until the batch commits
    ids: set[int] = set()
    addresses: set[str] = set()
    guards: set[fx.GuardKey] = set()
    for event in events:
        try:
            with session.begin_nested():
                r = _resolve(session, event, key, classifier)
                guards.update(_guards_of(session, r, key, event.occurred_at, settings))
                keeps_words = bool(event.text or r.detail)
                if r.lead is not None and (r.type not in _NO_LEAD_WRITE or keeps_words):
                    ids.add(r.lead.id)
                if r.type in _PROTECTIVE or _opts_out(r):
                    ids.update(_holders(session, r))
                if r.lead is None and keeps_words:
                    addresses.update(address_hmac(k, v, key) for k, v in r.addresses.items())
        except LeadpoolError:
            continue
        except DBAPIError as e:
            # an event the database refuses is refused again when it is recorded (and reported
            # there); a cancelled statement or a lost connection fails the whole delivery
            if not refused_value(e):
                raise
            continue
    # leads, then addresses (the order an erasure takes them in): each event then takes again
    # only what its delivery already holds
    lock_leads(session, ids)
    lock_addresses(session, addresses)
    # then the campaign and sender guards its events may run, in one order (effects.guard_lock):
    # taken event by event, two deliveries bouncing one mailbox in two campaigns deadlocked
    for guard in sorted(guards):  # campaigns (by id) before senders, as a single event takes them
        fx.guard_lock(session, guard)


def _guards_of(
    session: Session, r: _Resolved, key: bytes, occurred_at: datetime, settings: EventSettings
) -> set[fx.GuardKey]:
    """The guard locks recording ``r`` may take, to be taken up front in one order."""
    out: set[fx.GuardKey] = set()
    domain = _dead_domain_of(r, key, settings)
    if domain is not None:
        out.add((dead_domains.DOMAIN_LOCK, domain))
    if r.type == "soft_bounce" and r.address_hmac is not None:
        # the threshold counts the address's earlier soft bounces as hard for their campaigns'
        # and mailboxes' guards (_soft_bounces_count_as_hard): taken then, after this event's
        # own, those locks came out of order, and two deliveries could deadlock
        window = timedelta(days=settings.soft_bounce_window_days)
        for campaign_id, sender in session.execute(
            text(
                "SELECT DISTINCT t.campaign_id, t.sender FROM events e JOIN touches t ON t.id = e.touch_id "
                "WHERE e.address_hmac = :h AND e.type = 'soft_bounce' AND t.channel = 'email' "
                "AND e.occurred_at BETWEEN :lo AND :hi"
            ),
            {"h": r.address_hmac, "lo": occurred_at - 2 * window, "hi": occurred_at + window},
        ):
            out.add(("guard", campaign_id))
            if sender:
                out.add(("sender-guard", senders.sender_key("email", sender)))
    t = r.touch
    if t is None or _dropped(r):
        return out
    if t.channel == "email" and r.type in ("hard_bounce", "soft_bounce", "complaint"):
        out.add(("guard", t.campaign_id))
    if t.sender and (
        r.type in ("hard_bounce", "soft_bounce", "sender_block")
        or (r.type, t.channel) == ("complaint", "email")
    ):
        out.add(("sender-guard", senders.sender_key(t.channel, t.sender)))
    return out


def record_event(
    session: Session,
    event: EventIn,
    *,
    at: datetime | None = None,
    settings: EventSettings | None = None,
    classifier: Classifier | None = None,
    agency_id: int | None = None,
) -> EventOutcome:
    """Store ``event`` once per (source, provider_event_id) and apply its effects.

    A duplicate changes nothing and returns ``duplicate=True``. Events about an address the pool
    does not hold are stored under the address's keyed hash and still suppress it, so a later
    import of that address is born suppressed. ``at`` is the arrival time (default now).
    Raises ``InvalidInput`` for an address that cannot be normalised or a hard bounce with no
    email, ``NotFound`` for an unknown ``lead_id``.

    ``agency_id``: the agency reporting the event (with its own API key). Its event ids are its
    own (another agency's cannot collide with them, nor be read through a duplicate), and a lead
    it neither owns nor touched is affected only by what protects the person (an opt-out, a
    bounce): a reply it reports by address cannot end another agency's enrollments.
    """
    settings = settings or get_event_settings()
    now = at or datetime.now(UTC)
    arrived = max(now, datetime.now(UTC))  # ``at`` may replay history; never later than the clock
    if event.occurred_at > arrived + FUTURE_SKEW:
        # effects only ever lengthen (cooling, pauses): a typo in the year or a sender's broken
        # clock would stop a person, or a company for every agency, for good
        raise InvalidInput(
            f"occurred_at {event.occurred_at.isoformat()} is more than {FUTURE_SKEW.days} day after the "
            f"event arrived ({arrived:%Y-%m-%d %H:%M} UTC): an event cannot be reported before it happens"
        )
    key = get_settings().resolved_secret_key()
    stored_id = stored_event_id(event.provider_event_id, key)
    if agency_id is not None:
        stored_id = f"agency-{agency_id}:{stored_id}"
    if len(stored_id.encode()) > MAX_STORED_EVENT_ID_BYTES:
        # each address in the id grows to 37 characters: a 500-character id of short ones passes
        # the index's limit, which PostgreSQL reports as if it were a failure of its own (a 503)
        raise InvalidInput(
            f"event {event.source}: provider_event_id holds too many email addresses (stored with each "
            f"replaced by its keyed hash it would take {len(stored_id.encode())} bytes, over "
            f"{MAX_STORED_EVENT_ID_BYTES})"
        )
    hold_off_imports(session)  # before the lead is looked up: a batch's leads are seen, or see this
    r = _resolve(session, event, key, classifier or default_classifier(), agency_id)
    if agency_id is not None:
        r = _within_agency(session, r, agency_id)
    # locked before asking whether the person is erased: an erasure holds the lead's row until it
    # commits, and an event that decided from the row as it was before would keep their words
    r = _lock(session, r, keeps_words=bool(event.text or r.detail))
    if r.lead is None and (event.text or r.detail):
        # no lead row to wait on: an erasure of the person holding one of these addresses (as a
        # personal email, a shared number) is waited for by address instead
        lock_addresses(session, [address_hmac(k, v, key) for k, v in r.addresses.items()])
    # a late reply or a provider's retry about an erased person: its effects still apply, but
    # its text and provider detail (the person's words, addresses) are not kept
    # the guards' locks in one order before any is counted (a delivery already holds them)
    for guard in sorted(_guards_of(session, r, key, event.occurred_at, settings)):
        fx.guard_lock(session, guard)
    erased = _erased(session, r, key)
    if r.type == "reply" and r.category == "out_of_office" and r.lead is not None:
        # the pause this auto-reply sets, kept with it: a check after the fact sees each pause's
        # own end (paused_until on the lead holds only the latest)
        until = fx.ooo_until(r.return_date, event.occurred_at, r.lead.time_zone, settings)
        r.detail["paused_until"] = until.astimezone(UTC).isoformat()

    stmt = (
        pg_insert(Event)
        .values(
            type=r.type,
            lead_id=r.lead.id if r.lead else None,
            address_type=r.address_type,
            address_hmac=r.address_hmac,
            channel=event.channel or (r.touch.channel if r.touch else None),
            occurred_at=event.occurred_at,
            received_at=now,
            source=event.source,
            provider_event_id=stored_id,
            category=r.category,
            text=None if erased else event.text,
            # the touch's sender is the gate's own key for the mailbox; a provider's is a header
            sender=(r.touch.sender if r.touch and r.touch.sender else None) or event.sender,
            touch_id=r.touch.id if r.touch else None,
            campaign_id=event.campaign_id or (r.touch.campaign_id if r.touch else None),
            detail=fx.guard_marks(r.detail) if erased else r.detail or None,
            reported_by_agency_id=agency_id,
        )
        .on_conflict_do_nothing(constraint="uq_events_source_provider_event_id")
        .returning(Event.id)
    )
    event_id = session.execute(stmt).scalar()
    if event_id is None:
        existing = session.execute(
            select(Event.id, Event.lead_id, Event.type, Event.category).where(
                Event.source == event.source, Event.provider_event_id == stored_id
            )
        ).one()
        return EventOutcome(existing.id, True, existing.lead_id, [], existing.type, existing.category)

    effects = _apply(session, event, r, event_id, key, settings, now, agency_id)
    return EventOutcome(event_id, False, r.lead.id if r.lead else None, effects, r.type, r.category)


# events that change nothing on the lead: they take no writer's lock on it
_NO_LEAD_WRITE = ("delivered", "opened", "clicked", "sender_block")


def _lock(session: Session, r: _Resolved, *, keeps_words: bool) -> _Resolved:
    """Lock the rows the event writes, then read its lead again as it is now.

    One writer per lead at a time, so "latest reply" and history rows stay consistent; the leads
    sharing the address an opt-out or bounce names are locked with it, all in id order (the order
    release, cancel and erasure lock in: leadpool.pool.locks). An event that writes nothing on the
    lead but would keep text or detail takes FOR KEY SHARE: it waits for an erasure (FOR UPDATE)
    and for nothing else.
    """
    locked: set[int] = set()
    if r.lead is not None and r.type not in _NO_LEAD_WRITE:
        locked.add(r.lead.id)
    if r.type in _PROTECTIVE or _opts_out(r):
        r = replace(r, holders=tuple(_holders(session, r)))
        locked.update(r.holders)
    lock_leads(session, locked)
    if r.lead is not None and r.lead.id not in locked and keeps_words:
        session.execute(text("SELECT id FROM leads WHERE id = :id FOR KEY SHARE"), {"id": r.lead.id})
        locked.add(r.lead.id)
    if r.lead is not None and r.lead.id in locked:
        session.refresh(r.lead)
    return r


def _within_agency(session: Session, r: _Resolved, agency_id: int) -> _Resolved:
    """What an agency's report may act on: its own touches, and another agency's lead only to
    protect the person."""
    touch = r.touch if r.touch is not None and r.touch.agency_id == agency_id else None
    lead = r.lead
    protective = r.type in ("unsubscribe", "complaint", "hard_bounce", "soft_bounce") or (
        r.type == "reply" and r.category == "unsubscribe"
    )
    if lead is not None and not protective and (touch is None or touch.lead_id != lead.id):
        owner = session.execute(
            text("SELECT agency_id FROM ownerships WHERE lead_id = :l"), {"l": lead.id}
        ).scalar()
        if owner != agency_id:
            lead = None
    return replace(r, lead=lead, touch=touch)


def _erased(session: Session, r: _Resolved, key: bytes) -> bool:
    if r.lead is not None:  # a live lead's address is never an erased one: imports refuse those
        return r.lead.erased_at is not None
    if r.address_hmac is None:
        return False
    value = r.addresses.get(r.address_type or "")
    older = older_hmacs(r.address_type, value, key) if r.address_type and value else []
    return bool(
        session.execute(
            select(Suppression.id)
            .where(Suppression.kind == "erased", Suppression.value_hmac.in_([r.address_hmac, *older]))
            .limit(1)
        ).first()
    )


# an email address inside a provider's event id (several build theirs from the recipient's)
_ADDRESS_IN_ID = re.compile(r"[^\s:;,/<>\"'@]+@[^\s:;,/<>\"'@]+")


# the (source, provider_event_id) unique index holds keys of at most about 2,700 bytes
MAX_STORED_EVENT_ID_BYTES = 2_200  # with a source of up to 100 characters (400 bytes)


def stored_event_id(provider_event_id: str, key: bytes) -> str:
    """The id as stored: any email address in it replaced by its keyed hash (``addr-`` + 32 hex).

    Some providers' ids are built from the recipient's address (Smartlead, SES, Postmark,
    Instantly without an email id): stored as given, erasure would leave the address behind. The
    same id always maps to the same stored id, so a provider's retry is still a duplicate.
    """
    return hash_addresses(provider_event_id, key, fold_case=True)


def hash_addresses(value: str, key: bytes, *, fold_case: bool) -> str:
    """``value`` with every email address in it replaced by ``addr-`` + its keyed hash (32 hex);
    ``fold_case``: one hash for every spelling of an address (else distinct values stay distinct)."""
    return _ADDRESS_IN_ID.sub(
        lambda m: "addr-" + hmac_hex(m.group(0).lower() if fold_case else m.group(0), key)[:32], value
    )


def _region(session: Session, event: EventIn, kind: str, value: str) -> str:
    """Where a number written without its country code is read: the named lead's country (a STOP
    from a French mobile written 06 12 34 56 78), else the US."""
    if kind != "phone" or value.lstrip().startswith("+") or event.lead_id is None:
        return "US"
    country = session.scalar(select(Lead.country).where(Lead.id == event.lead_id))
    return country_code(country) or "US"


def _resolve(
    session: Session, event: EventIn, key: bytes, classifier: Classifier, agency_id: int | None = None
) -> _Resolved:
    addresses: dict[str, str] = {}
    for kind, value in (("email", event.email), ("phone", event.phone), ("linkedin", event.linkedin_url)):
        if value:
            try:
                addresses[kind] = normalize_address(kind, value, region=_region(session, event, kind, value))
            except InvalidInput as e:
                raise InvalidInput(
                    f"event {event.source}/{event.provider_event_id}: {kind} {value!r}: {e.message}"
                ) from e

    if event.campaign_id is not None and session.get(Campaign, event.campaign_id) is None:
        raise NotFound(
            f"campaign {event.campaign_id} not found (event {event.source}/{event.provider_event_id})"
        )
    lead = _find_lead(session, event, addresses)
    touch = None
    message_id = normalize_message_id(event.provider_message_id or "")
    if message_id:
        # touches confirmed before ids were normalised may keep the brackets (the index serves both)
        q = select(Touch).where(Touch.provider_message_id.in_([message_id, f"<{message_id}>"]))
        if lead is not None:
            q = q.where(Touch.lead_id == lead.id)
        if agency_id is not None:
            # an agency names its own sends: another's message id is answered as if absent (it
            # told whether another agency had sent it, and landed the event on that send)
            q = q.where(Touch.agency_id == agency_id)
        touch = session.execute(q.order_by(Touch.id.desc()).limit(1)).scalar()
        if lead is None and touch is not None:
            lead = session.get(Lead, touch.lead_id)
    if lead is None and touch is None and not addresses and event.lead_id is None:
        raise NotFound(
            f"event {event.source}/{event.provider_event_id}: no touch has provider_message_id "
            f"{event.provider_message_id!r}; name the lead_id, email, phone or linkedin_url too"
        )

    # the address the event is about: the one for its channel, else any given, else the lead's own
    address_type = _CHANNEL_ADDRESS.get(event.channel or "") if event.channel else None
    if address_type not in addresses:
        address_type = next(iter(addresses), None)
    value = addresses.get(address_type) if address_type else None
    if value is None and lead is not None:
        address_type = _CHANNEL_ADDRESS.get(event.channel or (touch.channel if touch else "") or "")
        own = {"email": lead.email, "phone": lead.phone, "linkedin": lead.linkedin_url}
        value = own.get(address_type) if address_type else None
        if value is None:
            address_type, value = next(((k, v) for k, v in own.items() if v), (None, None))
    hmac_value = address_hmac(address_type, value, key) if address_type and value else None

    detail = dict(event.detail)
    etype: str = event.type
    category: str | None = None
    return_date: date | None = None
    status_line = ""
    if etype in ("hard_bounce", "soft_bounce"):
        status = detail.get("smtp_status")
        # the code as mail logs show it ("550 5.7.1 ...") is read too; a basic code alone (550)
        # says nothing the reported kind does not
        found = smtp_status(str(status)) if status is not None else None
        if found is not None:
            status_line = str(status)
            detail["smtp_status"] = found
        etype = classify_status(found, event.type)  # type: ignore[arg-type]
        if etype != event.type:
            detail["reported_type"] = event.type
    if etype == "soft_bounce" and message_id:
        # a provider retrying one message reports each failed attempt: one soft bounce per message
        detail["message_id"] = message_id
    # the channel the event came on: its own, else its send's (one named by lead or message id alone)
    channel = event.channel or (touch.channel if touch is not None else None)
    if etype == "reply":
        category, return_date = _reply_category(
            event, classifier, detail, lead.time_zone if lead else None, channel
        )
    if etype == "hard_bounce" and address_type != "email":
        raise InvalidInput(
            f"event {event.source}/{event.provider_event_id}: a hard bounce needs an email address "
            "(or a lead that has one)"
        )
    return _Resolved(
        etype,
        category,
        return_date,
        addresses,
        lead,
        touch,
        address_type,
        hmac_value,
        detail,
        channel=channel,
        status_line=status_line,
    )


def _find_lead(session: Session, event: EventIn, addresses: dict[str, str]) -> Lead | None:
    if event.lead_id is not None:
        lead = session.get(Lead, event.lead_id)
        if lead is None:
            raise NotFound(f"lead {event.lead_id} not found (event {event.source}/{event.provider_event_id})")
        return lead
    if "email" in addresses:
        lead = session.execute(select(Lead).where(Lead.email == addresses["email"])).scalar()
        if lead is not None:
            return lead
    if "linkedin" in addresses:
        lead = session.execute(select(Lead).where(Lead.linkedin_url == addresses["linkedin"])).scalar()
        if lead is not None:
            return lead
    if "phone" in addresses:
        # a number shared by several people names nobody in particular: suppress the number only
        found = session.execute(select(Lead).where(Lead.phone == addresses["phone"]).limit(2)).scalars().all()
        if len(found) == 1:
            return found[0]
    return None


def _local_date(at: datetime, time_zone: str | None) -> date:
    try:
        return at.astimezone(ZoneInfo(time_zone)).date() if time_zone else at.astimezone(UTC).date()
    except (ZoneInfoNotFoundError, ValueError):
        return at.astimezone(UTC).date()


def _reply_category(
    event: EventIn, classifier: Classifier, detail: dict[str, Any], time_zone: str | None, channel: str | None
) -> tuple[str, date | None]:
    """The sending tool's category wins, except that an opt-out in the text always counts, and an
    auto-reply saying the person has left is a wrong person, not an absence. Relative dates
    ("back tomorrow") count from the day the reply was written on, in the lead's zone if known."""
    received = _local_date(event.occurred_at, time_zone)
    return_date = _detail_date(detail.get("return_date"))
    if event.text:
        c = classifier.classify(event.text, received=received, channel=channel)
        detail["classifier"] = {
            "category": c.category,
            "confidence": c.confidence,
            "return_date": c.return_date.isoformat() if c.return_date else None,
            "keyword": c.keyword,
        }
        if c.category == "unsubscribe" and (is_stop_word(event.text) or c.confidence >= 0.9):
            return "unsubscribe", None
        if event.category is None:
            return c.category, c.return_date or return_date
        if event.category == "out_of_office" and c.category == "wrong_person":
            # a tool files every auto-reply as out-of-office (Postmark's AutoResponder), but "I am no
            # longer with Acme" is a person who will not be back: pausing would email them again
            return "wrong_person", None
        return event.category, return_date or c.return_date
    return event.category or "other", return_date


def _detail_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _apply(
    session: Session,
    event: EventIn,
    r: _Resolved,
    event_id: int,
    key: bytes,
    settings: EventSettings,
    now: datetime,
    agency_id: int | None,
) -> list[str]:
    effects: list[str] = []
    # the agency a conversion happened with: the one reporting it, else the one whose touch it names
    converter = agency_id if agency_id is not None else (r.touch.agency_id if r.touch else None)
    lead = r.lead
    lead_id = lead.id if lead else None
    t = event.occurred_at  # the rows this writes were locked by _lock
    # an agency's report about another agency's lead (not of its own send) still stops the person,
    # but pausing their colleagues for every agency is more than an unchecked claim may do
    vouched = agency_id is None or _vouched(session, r, key, agency_id)
    # a drop suppresses the person; its send never went out, so no guard or company pause counts it
    guarded = not _dropped(r)

    if r.type == "hard_bounce":
        effects += _hard_bounce(session, r, event_id, key, t)
        effects += _dead_domain(session, r, event_id, key, t, settings, agency_id)
        if (
            guarded
            and r.touch is not None
            and r.touch.channel == "email"
            and fx.bounce_guard(session, r.touch.campaign_id, settings, now=now)
        ):
            effects.append("campaign:paused_bounce_guard")
        if (
            guarded
            and r.touch is not None
            and r.touch.channel == "email"
            and r.touch.sender
            and senders.bounce_guard(
                session, r.touch.sender, settings, event_id=event_id, occurred_at=t, now=now
            )
        ):
            effects.append("sender:paused_bounce_guard")
    elif r.type == "soft_bounce" and r.address_type == "email" and r.address_hmac:
        reached = fx.soft_bounce_threshold_at(session, r.address_hmac, t, settings)
        effects.append("soft_bounce:counted")
        if reached is not None and (
            # an agency is told only of a threshold its own reports and sends reach: one reached
            # with other agencies' says they mailed this address and it bounced
            agency_id is None
            or fx.soft_bounce_threshold_at(session, r.address_hmac, t, settings, agency_id=agency_id)
        ):
            effects.append("soft_bounce:threshold")
        if reached is not None:
            effects += _hard_bounce(session, r, event_id, key, reached)
            if vouched:
                # the soft bounces counted turn hard in their campaigns' and mailboxes' guards:
                # not on an unchecked report of another agency's (two it made up about an
                # address paused a competitor's campaign and mailbox)
                effects += _soft_bounces_count_as_hard(
                    session, r.address_hmac, reached, settings, now, event_id
                )
    elif r.type == "sender_block":
        if event.sender or (r.touch and r.touch.sender):
            effects.append("sender:block_counted")
        # only a block of one of the sender's own sends counts towards its pause (see block_guard)
        if (
            r.touch is not None
            and r.touch.sender
            and senders.block_guard(session, r.touch, settings, event_id=event_id, now=now)
        ):
            effects.append("sender:paused_block_guard")
    elif r.type in ("complaint", "unsubscribe"):
        effects += _opt_out(
            session,
            r,
            event_id,
            key,
            t,
            now,
            settings,
            complaint=r.type == "complaint",
            colleagues=vouched and guarded,
        )
        if (
            guarded
            and r.type == "complaint"
            and r.touch is not None
            and r.touch.channel == "email"
            and fx.complaint_guard(session, r.touch.campaign_id, settings, now=now)
        ):
            effects.append("campaign:paused_complaint_guard")
        # then the mailbox's, over every campaign it sends for (a campaign's lock before a sender's)
        if (
            guarded
            and r.type == "complaint"
            and r.touch is not None
            and r.touch.channel == "email"
            and r.touch.sender
            and senders.complaint_guard(
                session, r.touch.sender, settings, event_id=event_id, occurred_at=t, now=now
            )
        ):
            effects.append("sender:paused_complaint_guard")
    elif r.type == "reply":
        effects += _reply(session, r, event_id, key, t, now, settings, colleagues=vouched)
    elif r.type == "converted" and lead_id is not None and converter not in (None, _owner(session, lead_id)):
        # converted with an agency that no longer holds the lead (it was released since, and
        # another agency may hold it now): that agency's news, not the current owner's
        effects.append("conversion:not_owner")
    elif r.type == "converted" and lead_id is not None:
        if fx.mark_since(session, lead_id, "converted_at", t):
            effects.append("lead:converted")
        if fx.mark_converted_ownership(session, lead_id, t, event_id=event_id, now=now):
            effects.append("ownership:converted")
        if fx.end_enrollments(session, lead_id, "converted", actor=f"event:{event_id}", now=now):
            effects.append("enrollment:ended")
    if lead is not None and effects:
        session.expire(lead)
    return effects


def _soft_bounces_count_as_hard(
    session: Session,
    address_hmac: str,
    reached: datetime,
    settings: EventSettings,
    now: datetime,
    event_id: int,
) -> list[str]:
    """The soft bounces that made an address count as hard bounced count as hard bounces for
    their campaigns' and their mailboxes' bounce guards too."""
    touch_ids = session.execute(
        text(
            "UPDATE events SET detail = coalesce(detail, '{}'::jsonb) || '{\"counted_as_hard\": true}' "
            "WHERE address_hmac = :h AND type = 'soft_bounce' AND occurred_at BETWEEN :lo AND :hi "
            "RETURNING touch_id"
        ),
        {"h": address_hmac, "lo": reached - timedelta(days=settings.soft_bounce_window_days), "hi": reached},
    ).scalars()
    ids = [t for t in touch_ids if t is not None]
    campaigns = session.execute(
        text(
            "SELECT DISTINCT campaign_id FROM touches WHERE id = ANY(:ids) AND channel = 'email' ORDER BY 1"
        ),
        {"ids": ids},
    ).scalars()
    paused = [c for c in campaigns if fx.bounce_guard(session, c, settings, now=now)]
    out = ["campaign:paused_bounce_guard"] if paused else []
    # and for their mailboxes' guard (a campaign's locks before a sender's: effects.guard_lock)
    mailboxes = session.execute(
        text(
            "SELECT DISTINCT sender FROM touches WHERE id = ANY(:ids) AND channel = 'email' "
            "AND sender IS NOT NULL ORDER BY 1"
        ),
        {"ids": ids},
    ).scalars()
    guarded = [
        senders.bounce_guard(session, m, settings, event_id=event_id, occurred_at=reached, now=now)
        for m in list(mailboxes)
    ]
    if any(guarded):
        out.append("sender:paused_bounce_guard")
    return out


def _vouched(session: Session, r: _Resolved, key: bytes, agency_id: int) -> bool:
    """An agency's report is about its own send or its own lead, and about that lead's own address:
    naming its own lead beside another address (a competitor's lead's) vouched for that address,
    and the address's soft bounces then counted as hard in the competitor's guards."""
    lead = r.lead
    own = lead is not None and (
        (r.touch is not None and r.touch.agency_id == agency_id and r.touch.lead_id == lead.id)
        or _owner(session, lead.id) == agency_id
    )
    if lead is None or not own:
        return False
    if r.address_hmac is None or r.address_type is None:
        return True
    own_addresses = [("email", lead.email), ("phone", lead.phone), ("linkedin", lead.linkedin_url)]
    # and the addresses it had before re-enrichment: its own sends went to them
    own_addresses += [("email", e) for e in (lead.personal_emails or []) + (lead.previous_emails or [])]
    for kind, value in own_addresses:
        if kind == r.address_type and value:
            try:
                if address_hmac(kind, value, key) == r.address_hmac:
                    return True
            except InvalidInput:
                continue
    return False


def _owner(session: Session, lead_id: int) -> int | None:
    owner = session.execute(
        text("SELECT agency_id FROM ownerships WHERE lead_id = :l"), {"l": lead_id}
    ).scalar()
    return int(owner) if owner is not None else None


def _hard_bounce(session: Session, r: _Resolved, event_id: int, key: bytes, t: datetime) -> list[str]:
    out: list[str] = []
    if r.address_hmac is None:  # _resolve guarantees an email for hard bounces
        raise InvalidInput("a hard bounce needs an email address")
    lead_id = r.lead.id if r.lead else None
    if fx.suppress(session, "email_bounced", [("email", r.address_hmac)], lead_id=lead_id, event_id=event_id):
        out.append("suppressed:email_bounced")
    # any other lead whose current address this is (the gate reads the leads' own flags)
    if "email" in r.addresses:
        holders = fx.address_holders(session, {"email": r.addresses["email"]}, exclude=lead_id)
        if sum(fx.mark_since(session, other, "email_bounced_at", t) for other in holders):
            out.append("other_leads:email_bounced")
    # only the lead's current address: a different address found later is allowed again
    if (
        r.lead is not None
        and r.lead.email
        and address_hmac("email", r.lead.email, key) == r.address_hmac
        and fx.mark_since(session, r.lead.id, "email_bounced_at", t)
    ):
        out.append("lead:email_bounced")
    return out


def _dead_domain(
    session: Session,
    r: _Resolved,
    event_id: int,
    key: bytes,
    t: datetime,
    settings: EventSettings,
    agency_id: int | None,
) -> list[str]:
    """A bounce saying the address's domain accepts no mail closes the domain (dead_domains).

    Reported by an agency, only a bounce of one of its own sends, to the address that send went
    to: a bounce by address alone (or naming another address beside a send) could name any
    domain, and the closure holds for every agency (the address itself is still suppressed)."""
    domain = _dead_domain_of(r, key, settings)
    if domain is None or (agency_id is not None and not _own_send_bounced(session, r, key, agency_id)):
        return []
    status = str(r.detail["smtp_status"])
    days = settings.dead_domain_days
    if not dead_domains.close_domain(session, domain, status, event_id=event_id, at=t, days=days):
        return []
    return ["domain:dead"]


def _own_send_bounced(session: Session, r: _Resolved, key: bytes, agency_id: int) -> bool:
    """The bounce is of the agency's own send, to the address the send went to (its lead's email)."""
    if r.touch is None or r.touch.agency_id != agency_id or r.touch.channel != "email":
        return False
    sent_to = session.scalar(select(Lead.email).where(Lead.id == r.touch.lead_id))
    return sent_to is not None and address_hmac("email", sent_to, key) == r.address_hmac


def _dead_domain_of(r: _Resolved, key: bytes, settings: EventSettings) -> str | None:
    # only a permanent bounce of mail that was sent (a drop never reached the domain)
    if r.type != "hard_bounce" or r.address_hmac is None or _dropped(r):
        return None
    # the bounced address in clear: as the event gave it, else the lead's current one it names
    given = [r.addresses.get("email"), r.lead.email if r.lead is not None else None]
    address = next((a for a in given if a and address_hmac("email", a, key) == r.address_hmac), None)
    return dead_domains.closing_domain(
        r.detail.get("smtp_status"), address, settings.dead_domain_days, text=_dsn_text(r)
    )


def _dsn_text(r: _Resolved) -> str:
    """The receiving server's words the event has: the DSN line given as ``smtp_status``, the
    ``diagnostic_code`` (SES's, Postmark's ``Details``, Smartlead's and Instantly's DSN text),
    SendGrid's ``reason``, Mailgun's ``delivery_status`` message and description."""
    status, reason = r.detail.get("delivery_status"), r.detail.get("reason")
    parts = [r.status_line, r.detail.get("diagnostic_code")]
    if isinstance(reason, str) and " " in reason.strip():  # Mailgun's reason is a token ("bounce")
        parts.append(reason)
    if isinstance(status, dict):
        parts += [status.get("message"), status.get("description")]
    return " ".join(p for p in parts if isinstance(p, str))


def _person_addresses(r: _Resolved, key: bytes) -> list[tuple[str, str]]:
    pairs = [(k, address_hmac(k, v, key)) for k, v in r.addresses.items()]
    if r.address_type and r.address_hmac:
        pairs.append((r.address_type, r.address_hmac))
    if r.lead is not None:
        lead = r.lead
        for kind, value in (("email", lead.email), ("phone", lead.phone), ("linkedin", lead.linkedin_url)):
            if value:
                pairs.append((kind, address_hmac(kind, value, key)))
        for personal in lead.personal_emails or []:
            try:
                pairs.append(("email", address_hmac("email", personal, key)))
            except InvalidInput:
                continue
    return pairs


def _opt_out(
    session: Session,
    r: _Resolved,
    event_id: int,
    key: bytes,
    t: datetime,
    now: datetime,
    settings: EventSettings,
    *,
    complaint: bool,
    colleagues: bool = True,
) -> list[str]:
    """``colleagues``: also pause the person's company (every agency), as a vouched-for report may."""
    kind = "complained" if complaint else "unsubscribed"
    out: list[str] = []
    lead_id = r.lead.id if r.lead else None
    if fx.suppress(session, kind, _person_addresses(r, key), lead_id=lead_id, event_id=event_id):
        out.append(f"suppressed:{kind}")
    # the same person under another lead (a duplicate, a number shared with the event's lead or
    # naming nobody in particular): the gate reads the leads' own flags, not the suppressions
    changed = False
    withdrawn = 0
    for other in (h for h in r.holders if h != lead_id):  # read and locked in _apply
        changed |= fx.mark_since(session, other, "complained_at" if complaint else "unsubscribed_at", t)
        changed |= fx.end_enrollments(session, other, kind, actor=f"event:{event_id}", now=now) > 0
        withdrawn += fx.revoke_consents(
            session, other, t, f"{kind} (event {event_id})", actor=f"event:{event_id}"
        )
    if changed:
        out.append(f"other_leads:{kind}")
    if lead_id is not None:
        withdrawn += fx.revoke_consents(
            session, lead_id, t, f"{kind} (event {event_id})", actor=f"event:{event_id}"
        )
    if withdrawn:
        out.append("consents:revoked")
    if lead_id is not None:
        if fx.mark_since(session, lead_id, "complained_at" if complaint else "unsubscribed_at", t):
            out.append(f"lead:{kind}")
        if fx.end_enrollments(session, lead_id, kind, actor=f"event:{event_id}", now=now):
            out.append("enrollment:ended")
        if colleagues and fx.pause_company(
            session,
            lead_id,
            "complaint" if complaint else "unsubscribe",
            t,
            event_id=event_id,
            settings=settings,
            company_id=r.touch.company_id if r.touch is not None and r.touch.lead_id == lead_id else None,
        ):
            out.append("company:paused")
    return out


def _reply(
    session: Session,
    r: _Resolved,
    event_id: int,
    key: bytes,
    t: datetime,
    now: datetime,
    settings: EventSettings,
    *,
    colleagues: bool = True,
) -> list[str]:
    if (r.detail.get("classifier") or {}).get("keyword"):
        return []  # an SMS keyword (HELP, START): recorded, not the person answering
    out: list[str] = []
    lead = r.lead
    if r.category == "unsubscribe":
        out += _opt_out(session, r, event_id, key, t, now, settings, complaint=False, colleagues=colleagues)
    if lead is None:
        return out
    if r.category == "out_of_office":
        # an auto-reply is not the person answering: pause, do not stop
        until = fx.ooo_until(r.return_date, t, lead.time_zone, settings)
        if fx.extend_until(session, lead.id, "paused_until", until):
            out.append("lead:paused")
        return out
    # "not interested" is a stop for a time, not for good: 12 months of cooling for every agency
    # (the seed's table), after which the person may be allocated and contacted again. Every other
    # answer (interested, other, wrong person, an opt-out) stops automation for good (``replied``).
    if r.category != "not_interested" and fx.mark_since(session, lead.id, "replied_at", t):
        out.append("lead:replied")
    if r.category and fx.set_reply_category(session, lead.id, r.category, t, event_id):
        out.append(f"lead:reply_category:{r.category}")
    if r.category == "not_interested" and fx.extend_until(
        session, lead.id, "cooling_until", t + timedelta(days=settings.cooling_days)
    ):
        out.append("lead:cooling")
    if r.category == "wrong_person" and fx.mark_since(session, lead.id, "wrong_person_at", t):
        out.append("lead:wrong_person")
    # the replier's colleagues pause too (every agency); an unsubscribe reply paused them above
    if r.category in ("interested", "other", "not_interested") and fx.pause_company(
        session,
        lead.id,
        r.category,
        t,
        event_id=event_id,
        settings=settings,
        company_id=r.touch.company_id if r.touch is not None and r.touch.lead_id == lead.id else None,
    ):
        out.append("company:paused")
    reason = "wrong_person" if r.category == "wrong_person" else "replied"
    if r.category != "unsubscribe" and fx.end_enrollments(
        session, lead.id, reason, actor=f"event:{event_id}", now=now
    ):
        out.append("enrollment:ended")
    return out
