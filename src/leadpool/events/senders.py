"""Sender health: a mailbox whose hard bounces, spam complaints or policy blocks pass their limit
sends nothing more.

Policy rejections (SMTP 5.7.x, provider blocks) are stored as ``sender_block`` events, never as
suppressions of the recipient. The campaign guards look at one campaign, and a mailbox sends for
several: a stale list bought for one, or a reputation failing for all, showed only once each
campaign had its own 50 sends, and complaints spread over campaigns tripped none of them. So
three sender guards pause the sending account itself (``sender_pauses``, keyed
``channel:sender`` like the gate's sender counters), and the gate denies ``sender_paused`` to
every check that names it:

* the **bounce guard**: hard bounces (and soft ones counted as hard) above
  ``LEADPOOL_EVENTS_SENDER_BOUNCE_GUARD_RATE`` (2%, the compliance reference's suggested mailbox
  default, below the campaign's 3%) of the sender's last ``BOUNCE_GUARD_WINDOW`` email sends (once
  it has ``BOUNCE_GUARD_MIN_SENDS``): paused until someone resumes it, as a campaign is;
* the **complaint guard**: spam complaints (at least ``COMPLAINT_GUARD_MIN_COMPLAINTS``, 2: one
  report is no rate) above ``LEADPOOL_EVENTS_SENDER_COMPLAINT_GUARD_RATE`` (0.1%, the Gmail/Yahoo
  "keep below") of the sender's last ``SENDER_COMPLAINT_GUARD_WINDOW`` (2000) email sends (once it
  has ``BOUNCE_GUARD_MIN_SENDS``): paused until resumed. Per mailbox; a sending domain's rate
  over all its mailboxes is the sending-domain guard's (``leadpool.events.sending_domains``);
* the **block guard**: ``SENDER_BLOCK_GUARD_COUNT`` policy blocks (3) of its own sends within
  ``SENDER_BLOCK_GUARD_HOURS`` (24) pause it for that many hours after the last one: blocks often
  lift by themselves (a rate limit, a listing that expires), and sending on into them is what
  keeps a reputation down.

An agency sees and resumes only the pauses one of its own sends caused.

A pause until resumed is never shortened by a timed one. A resume deletes the pause and writes an
audit row; the next bounce (or complaint) over the limit pauses it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from leadpool.events import effects as fx
from leadpool.events.effects import COMPLAINT_EVENTS, HARD_BOUNCE_EVENTS
from leadpool.events.settings import EventSettings
from leadpool.gate.request import normalize_sender
from leadpool.gate.request import sender_key as gate_sender_key
from leadpool.models import CHANNELS, AuditLog, Event, SenderPause, Touch

#: a sending domain's key in ``sender_pauses``: ``domain:DOMAIN``, which no ``channel:sender``
#: key can spell (a mailbox spelled ``@domain`` keys ``email:@domain``)
DOMAIN_KEY_PREFIX = "domain:"


def sender_key(channel: str, sender: str) -> str:
    """The key of a sender's pause and counters: ``channel:sender``, one spelling per sender."""
    return gate_sender_key(channel, normalize_sender(sender))


def sender_blocks(session: Session, sender: str, *, since: datetime) -> int:
    """How many policy rejections ``sender`` received since ``since`` (by the provider's event time)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.type == "sender_block", Event.sender == sender, Event.occurred_at >= since)
        )
        or 0
    )


@dataclass(frozen=True)
class _Guard:
    """What one sender guard counts in the window of the sender's recent email sends, and its
    limits (read from the settings)."""

    reason: str  # sender_pauses.reason, and the audit row's actor
    counted: str  # the events (alias e) of a send that count against it, as SQL
    label: str  # the count's name in the pause's detail
    window: Callable[[EventSettings], int]
    at_least: Callable[[EventSettings], int]
    rate: Callable[[EventSettings], float]


_BOUNCES = _Guard(
    "sender_bounce_guard",
    HARD_BOUNCE_EVENTS,
    "hard_bounces",
    window=lambda s: s.bounce_guard_window,
    at_least=lambda s: 1,
    rate=lambda s: s.sender_bounce_guard_rate,
)
# Its own window (SENDER_COMPLAINT_GUARD_WINDOW, 2000): with 2 complaints at least, a window of
# 200 sends shows 1% or more, so the 0.1% limit would never decide anything
_COMPLAINTS = _Guard(
    "sender_complaint_guard",
    COMPLAINT_EVENTS,
    "complaints",
    window=lambda s: s.sender_complaint_guard_window,
    at_least=lambda s: s.complaint_guard_min_complaints,
    rate=lambda s: s.sender_complaint_guard_rate,
)


def bounce_guard(
    session: Session,
    sender: str,
    settings: EventSettings,
    *,
    event_id: int,
    occurred_at: datetime,
    now: datetime,
) -> bool:
    """Pause an email sender whose hard-bounce rate over its last N sends passes the limit."""
    return _rate_guard(
        session, sender, _BOUNCES, settings, event_id=event_id, occurred_at=occurred_at, now=now
    )


def complaint_guard(
    session: Session,
    sender: str,
    settings: EventSettings,
    *,
    event_id: int,
    occurred_at: datetime,
    now: datetime,
) -> bool:
    """Pause an email sender whose spam-complaint rate over its last N sends passes the limit."""
    return _rate_guard(
        session, sender, _COMPLAINTS, settings, event_id=event_id, occurred_at=occurred_at, now=now
    )


def _rate_guard(
    session: Session,
    sender: str,
    guard: _Guard,
    settings: EventSettings,
    *,
    event_id: int,
    occurred_at: datetime,
    now: datetime,
) -> bool:
    key = sender_key("email", sender)
    # two bounces (or complaints) at once: each would miss the other's; one lock for both guards
    fx.guard_lock(session, ("sender-guard", key))
    # ix_touches_sender_at reads the sender's touches newest first; only sent emails count
    sends, bad = session.execute(
        text(
            "WITH recent AS ("
            "  SELECT id FROM touches WHERE sender = :s AND channel = 'email' AND state = 'sent'"
            "  ORDER BY at DESC LIMIT :window"
            f") SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM events e "
            f"  WHERE e.touch_id = recent.id AND ({guard.counted}))) FROM recent"
        ),
        {"s": normalize_sender(sender), "window": guard.window(settings)},
    ).one()
    if (
        sends < settings.bounce_guard_min_sends
        or bad < guard.at_least(settings)
        or bad / sends <= guard.rate(settings)
    ):
        return False
    detail = {"sends": sends, guard.label: bad}
    return pause_sender(session, key, guard.reason, None, event_id, occurred_at, detail, now)


def block_guard(
    session: Session,
    touch: Touch,
    settings: EventSettings,
    *,
    event_id: int,
    now: datetime,
) -> bool:
    """Pause the sender of ``touch`` once it has N policy blocks within the window, until the
    window after the last of them.

    Only blocks tied to the sender's own touches count (a provider's event naming the message,
    or an agency reporting its own send): a block reported by address alone could name anyone's
    mailbox. Blocks arrive late and out of order (retries, reconciliation), so every window that
    could still be running is looked at, not only the one ending at the block that just came."""
    assert touch.sender is not None
    window = timedelta(hours=settings.sender_block_guard_hours)
    key = sender_key(touch.channel, touch.sender)
    fx.guard_lock(session, ("sender-guard", key))
    # a window still running ends after now, so it starts after now - 2 windows
    # one block per send: the provider's webhook and the agency's own report of one block (two
    # sources, two event ids) are one block
    first = func.min(Event.occurred_at)
    times = list(
        session.scalars(
            select(first)
            .join(Touch, Touch.id == Event.touch_id)
            .where(
                Event.type == "sender_block",
                Touch.sender == touch.sender,
                Touch.channel == touch.channel,
                Event.occurred_at > now - 2 * window,
            )
            .group_by(Event.touch_id)
            .order_by(first)
        )
    )
    n = settings.sender_block_guard_count
    for last in range(len(times) - 1, n - 2, -1):  # the latest window first
        if times[last] + window <= now:
            return False
        if times[last - n + 1] > times[last] - window:  # n blocks within (last - window, last]
            detail = {"blocks": n, "hours": settings.sender_block_guard_hours}
            return pause_sender(
                session, key, "sender_block_guard", times[last] + window, event_id, times[last], detail, now
            )
    return False


def pause_sender(
    session: Session,
    key: str,
    reason: str,
    until: datetime | None,
    event_id: int,
    occurred_at: datetime,
    detail: dict[str, int],
    now: datetime,
) -> bool:
    """Pause the sender (or sending domain) ``key`` for ``reason``, caused by event ``event_id``;
    an ``audit_log`` row ``sender.pause``. False when a pause as long or longer is already there."""
    new = {
        "reason": reason,
        "paused_at": occurred_at,
        "until": until,
        "cause_event_id": event_id,
        "detail": detail,
    }
    stmt = pg_insert(SenderPause).values(sender=key, **new)
    # a pause until resumed stays; a timed one gives way to a longer one or to one until resumed
    longer = SenderPause.until.is_not(None) & (
        stmt.excluded.until.is_(None) | (stmt.excluded.until > SenderPause.until)
    )
    stmt = stmt.on_conflict_do_update(index_elements=[SenderPause.sender], set_=new, where=longer)
    if session.execute(stmt.returning(SenderPause.sender)).first() is None:
        return False
    session.add(
        AuditLog(
            at=now,
            actor=reason,
            action="sender.pause",
            subject_type="sender",
            subject_id=key,
            detail={**detail, "until": until.isoformat() if until else None, "event_id": event_id},
        )
    )
    return True


@dataclass(frozen=True)
class PausedSender:
    sender: str  # channel:sender
    reason: str
    paused_at: datetime
    until: datetime | None
    cause_event_id: int | None
    detail: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {
            "sender": self.sender,
            "reason": self.reason,
            "paused_at": self.paused_at.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "cause_event_id": self.cause_event_id,
            "detail": self.detail,
        }


def paused_senders(session: Session, *, at: datetime, agency_id: int | None = None) -> list[PausedSender]:
    """The senders paused at ``at``; for an agency, the pauses one of its own sends caused."""
    q = select(SenderPause).where(SenderPause.until.is_(None) | (SenderPause.until > at))
    if agency_id is not None:
        q = q.where(_used_by(agency_id))
    return [
        PausedSender(p.sender, p.reason, p.paused_at, p.until, p.cause_event_id, dict(p.detail or {}))
        for p in session.scalars(q.order_by(SenderPause.sender))
    ]


def _used_by(agency_id: int) -> TextClause:
    # the agency whose send the causing event was about: one that merely named the sender in a
    # check (or confirmed a send it never made) neither sees nor ends another agency's pause
    return text(
        "EXISTS (SELECT 1 FROM events e JOIN touches t ON t.id = e.touch_id "
        "WHERE e.id = sender_pauses.cause_event_id AND t.agency_id = :agency)"
    ).bindparams(agency=agency_id)


def spelled_keys(channel: str, sender: str) -> list[str]:
    """The keys an operator may mean by ``sender`` on ``channel``, the likeliest first: a key as
    the lists show it (``email:sdr1@agency.example``, ``domain:agency.example``), for an email
    ``@domain`` the sending domain's, and last the account as checks name it (a mailbox spelled
    ``@domain`` is one of its own)."""
    keys = [sender_key(channel, sender)]
    spelled = normalize_sender(sender)
    if channel == "email" and spelled.startswith("@") and spelled.strip("@. "):
        keys.insert(0, f"{DOMAIN_KEY_PREFIX}{spelled.lstrip('@').rstrip('. ')}")
    kind, colon, rest = spelled.partition(":")
    kind = kind.lower()
    if colon and rest.strip(" ."):
        if kind in CHANNELS:
            keys.insert(0, gate_sender_key(kind, normalize_sender(rest)))
        elif kind == DOMAIN_KEY_PREFIX[:-1]:
            keys.insert(0, f"{DOMAIN_KEY_PREFIX}{rest.strip().lower().rstrip('. ')}")
    return keys


def resume_sender(
    session: Session, channel: str, sender: str, *, actor: str, at: datetime, agency_id: int | None = None
) -> PausedSender | None:
    """End a sender's pause (an agency: only one its own send caused). Returns the pause
    ended, None when the sender was not paused. Flushes, never commits. An email sender spelled
    ``@domain`` names the sending domain's pause (``leadpool.events.sending_domains``)."""
    for key in spelled_keys(channel, sender):
        ended = _end_pause(session, key, actor=actor, at=at, agency_id=agency_id)
        if ended is not None:
            return ended
    return None


def _end_pause(
    session: Session, key: str, *, actor: str, at: datetime, agency_id: int | None
) -> PausedSender | None:
    q = delete(SenderPause).where(SenderPause.sender == key)
    if agency_id is not None:
        q = q.where(_used_by(agency_id))
    row = session.execute(
        q.returning(
            SenderPause.sender,
            SenderPause.reason,
            SenderPause.paused_at,
            SenderPause.until,
            SenderPause.cause_event_id,
            SenderPause.detail,
        )
    ).first()
    if row is None:
        return None
    ended = PausedSender(row[0], row[1], row[2], row[3], row[4], dict(row[5] or {}))
    session.add(
        AuditLog(
            at=at,
            actor=actor,
            action="sender.resume",
            subject_type="sender",
            subject_id=key,
            detail={"reason": ended.reason, "paused_at": ended.paused_at.isoformat()},
        )
    )
    return ended
