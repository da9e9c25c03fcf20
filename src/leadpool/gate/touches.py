"""Finishing a reservation: confirm_sent, cancel, and the expiry of those left to run out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from leadpool.errors import Conflict, InvalidInput, NotFound
from leadpool.gate import caps
from leadpool.gate.request import require_aware


@dataclass
class TouchState:
    """A touch after confirm_sent or cancel."""

    id: int
    state: str
    provider_message_id: str | None
    sent_at: datetime | None
    ended_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "touch_id": self.id,
            "state": self.state,
            "provider_message_id": self.provider_message_id,
            "sent_at": self.sent_at,
            "ended_at": self.ended_at,
        }


_TOUCH_COLS = "id, state, provider_message_id, sent_at, ended_at"


def _touch(conn: Connection, touch_id: int) -> Any:
    row = conn.execute(
        text(f"SELECT {_TOUCH_COLS}, expires_at FROM touches WHERE id = :id"), {"id": touch_id}
    ).first()
    if row is None:
        raise NotFound(f"touch {touch_id} does not exist")
    return row


def normalize_message_id(value: str) -> str:
    """A provider message id as touches store it and events look it up: without surrounding
    whitespace and one pair of surrounding angle brackets. ``<abc@mail>`` (a Message-ID header,
    Mailgun's send API, SendGrid's ``smtp-id``) and ``abc@mail`` (Mailgun's webhook) are one id."""
    value = value.strip()
    if len(value) >= 2 and value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value


_ONE_ID = text("SELECT pg_advisory_xact_lock(hashtextextended('provider_message_id:' || :pmid, 0))")
_OTHER_AGENCYS = text(
    "SELECT 1 FROM touches o JOIN touches t ON t.id = :id "
    "WHERE o.provider_message_id IN (:pmid, '<' || :pmid || '>') AND o.agency_id <> t.agency_id LIMIT 1"
)


def confirm_sent(
    session: Session, touch_id: int, provider_message_id: str, *, at: datetime | None = None
) -> TouchState:
    """Mark a reserved touch as sent. Idempotent for the same provider message id (compared as
    ``normalize_message_id`` stores it: a retry with or without the brackets is the same id).

    Raises Conflict when the reservation was cancelled, expired at ``at`` (it stopped counting
    against the caps, so it may not be sent any more; one marked expired is still confirmed as of
    a time inside its TTL) or was confirmed with another message id.
    """
    provider_message_id = normalize_message_id(provider_message_id)
    if not provider_message_id:
        raise InvalidInput("provider_message_id is empty")
    require_aware(at, "at")
    at = at or datetime.now(UTC)
    conn = session.connection()
    # one confirmation of a message id at a time: two agencies confirming one id at once both
    # passed the test below
    conn.execute(_ONE_ID, {"pmid": provider_message_id})
    if conn.execute(_OTHER_AGENCYS, {"id": touch_id, "pmid": provider_message_id}).first() is not None:
        # events naming only this id would land on whichever send has it: one agency could take
        # another's (its unsubscribes, replies) by confirming with its message id
        raise Conflict(f"provider_message_id {provider_message_id!r} is another agency's send")
    # 'expired' is only the lazy mark of a reservation past its TTL (the worker's job, or the next
    # check of the lead): a send dated inside the TTL is accepted whether the mark came first or not
    row = conn.execute(
        text(
            "UPDATE touches SET state = 'sent', sent_at = :at, provider_message_id = :pmid, ended_at = NULL "
            "WHERE id = :id AND state IN ('reserved', 'expired') AND expires_at > :at "
            f"RETURNING {_TOUCH_COLS}, {_SCOPE_COLS}, clock_timestamp() >= expires_at"
        ),
        {"id": touch_id, "at": at, "pmid": provider_message_id},
    ).first()
    if row is not None:
        if row[-1]:
            # confirmed after its TTL ran out: a recount meanwhile left it out of its counters (and
            # may have given its slot away), so they are written back exactly, now that it counts
            _write_exact(conn, _scopes(row), datetime.now(UTC))
        return TouchState(*row[:5])
    cur = _touch(conn, touch_id)
    # stored before ids were normalised, it may still have its brackets
    stored = cur.provider_message_id
    if cur.state == "sent" and stored is not None and normalize_message_id(stored) == provider_message_id:
        return TouchState(*cur[:5])
    if cur.state == "sent":
        raise Conflict(f"touch {touch_id} was already confirmed with another provider message id")
    if cur.state in ("reserved", "expired"):
        raise Conflict(
            f"touch {touch_id}'s reservation expired at {cur.expires_at.isoformat()}; check again before sending"
        )
    raise Conflict(f"touch {touch_id} is {cur.state}; it cannot be confirmed")


def cancel(session: Session, touch_id: int, *, at: datetime | None = None) -> TouchState:
    """Cancel a reserved touch so it stops counting. Idempotent; a sent touch cannot be cancelled."""
    require_aware(at, "at")
    at = at or datetime.now(UTC)
    conn = session.connection()
    row = conn.execute(
        text(
            "UPDATE touches SET state = 'cancelled', ended_at = :at WHERE id = :id AND state = 'reserved' "
            f"RETURNING {_TOUCH_COLS}, {_SCOPE_COLS}"
        ),
        {"id": touch_id, "at": at},
    ).first()
    if row is None:
        cur = _touch(conn, touch_id)
        if cur.state in ("cancelled", "expired"):
            return TouchState(*cur[:5])
        raise Conflict(f"touch {touch_id} was already sent; it cannot be cancelled")
    if row.expires_at <= at:
        return TouchState(*row[:5])  # it had stopped counting by then
    scopes = _scopes(row)
    _lock_counters(conn, scopes)
    # live is decided after the rows are locked, by the clock then: a recount that committed
    # while this waited, after the reservation ran out, has already left it out of the counters
    live_now = conn.execute(text("SELECT CAST(:e AS timestamptz) > clock_timestamp()"), {"e": row.expires_at})
    if live_now.scalar_one():
        # still counted, since an exact recount never looks past now: give its slot back
        for sc in scopes:
            conn.execute(
                text(
                    "UPDATE gate_counters SET n = n - 1 WHERE scope = :s AND key = :k AND day = :d AND n > 0"
                ),
                {"s": sc.scope, "k": sc.key, "d": sc.day},
            )
    else:
        # cancelled as of a time it was live, but expired by now: a recount may already have left
        # it out of a counter, and lowering that again would let the next check past the cap. So
        # the rows are written back with the exact count as of the cancel's time (this touch no
        # longer counts), as a check near its cap does.
        _write_exact(conn, scopes, at, locked=True)
    return TouchState(*row[:5])


# a touch's columns that name its counter rows (_scopes)
_SCOPE_COLS = "expires_at, company_id, local_date, sender, channel, agency_id, at"


def _scopes(row: Any) -> list[caps.Scope]:
    """The counter rows a touch counts in, in the lock order every check uses."""
    scopes = [caps.agency_scope(row.agency_id, row.channel, row.at)]
    if row.company_id is not None:
        scopes.append(caps.company_scope(row.company_id, row.local_date))
    if row.sender is not None:
        scopes.append(caps.sender_scope(row.channel, row.sender, row.at))
    return sorted(scopes)


def _lock_counters(conn: Connection, scopes: list[caps.Scope]) -> None:
    for sc in scopes:
        conn.execute(
            text("SELECT n FROM gate_counters WHERE scope = :s AND key = :k AND day = :d FOR UPDATE"),
            {"s": sc.scope, "k": sc.key, "d": sc.day},
        )


def _write_exact(conn: Connection, scopes: list[caps.Scope], at: datetime, *, locked: bool = False) -> None:
    """Write the counter rows back with their exact counts as of ``at``, as a check near its cap
    does, under the rows' locks."""
    if not locked:
        _lock_counters(conn, scopes)
    for sc, n in caps.exact_counts(conn, scopes, at).items():
        conn.execute(
            text("UPDATE gate_counters SET n = :n WHERE scope = :s AND key = :k AND day = :d"),
            {"s": sc.scope, "k": sc.key, "d": sc.day, "n": n},
        )


def expire_reservations(session: Session, *, at: datetime | None = None, limit: int = 10000) -> int:
    """Mark reservations past their TTL as expired (they already stopped counting); returns how many.

    For a periodic job; checks also do this lazily for the leads they touch. Never as of a time
    later than now: a reservation whose TTL has not run out may still be confirmed by a sender
    that has already sent, and expiring it would lose that send from the caps.
    """
    at = at or datetime.now(UTC)
    result = session.connection().execute(
        text(
            "UPDATE touches SET state = 'expired', ended_at = expires_at WHERE id IN ("
            "SELECT id FROM touches WHERE state = 'reserved' AND expires_at <= least(:at, now()) "
            "ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED)"
        ),
        {"at": at, "limit": limit},
    )
    return int(result.rowcount)
