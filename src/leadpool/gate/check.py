"""The pre-send gate: check (and reserve) and check_many.

A batch of checks is decided in a handful of set-based statements whatever its size (batch.py says
how, statements.py holds them); reservations are finished in touches.py.

A single check first tries ``gate_fast_check`` (gate/fast.py), one call that decides and records a
clean allow; anything else comes back here as a batch of one. Any exception is a deny with
``gate_error`` (fail closed).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection as PgConnection
from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.errors import InvalidInput, LeadpoolError
from leadpool.gate import fast
from leadpool.gate.batch import Batch, IdempotencyKeyReused
from leadpool.gate.reasons import GateDecision, gate_error
from leadpool.gate.request import CheckRequest
from leadpool.gate.statements import raw_connection
from leadpool.gate.touches import TouchState, cancel, confirm_sent, expire_reservations

__all__ = [
    "CheckRequest",
    "TouchState",
    "cancel",
    "check",
    "check_many",
    "check_one",
    "confirm_sent",
    "deny_unlocked",
    "expire_reservations",
    "fail_closed",
    "failure_message",
    "record_denials",
]

_log = logging.getLogger(__name__)


def check(
    session: Session,
    *,
    lead_id: int,
    campaign_id: int,
    channel: str,
    sender: str | None = None,
    at: datetime | None = None,
    reserve: bool = True,
    idempotency_key: str | None = None,
) -> GateDecision:
    """Decide whether ``campaign_id`` may touch ``lead_id`` on ``channel`` at ``at`` (default now).

    Returns allow, or deny with every reason that applies. An allowed check with ``reserve`` records
    a touch in state reserved (its id in ``touch_id``) that counts against every cap until it is
    confirmed, cancelled or expires. The same ``idempotency_key`` (per agency) returns the same
    decision and touch; a key already used for another check (or a dry run's key for a reserving
    check) raises ``IdempotencyKeyReused`` (a ``Conflict``), as bad input raises ``InvalidInput``.
    Every check is recorded in ``decisions``. Never raises for a database or internal failure:
    that is a deny with ``gate_error``, and the session's transaction has been rolled back. The
    caller commits.
    """
    return check_one(
        session, CheckRequest(lead_id, campaign_id, channel, sender, at, reserve, idempotency_key)
    )


def check_one(session: Session, req: CheckRequest) -> GateDecision:
    """``check`` for a request already built (the API's): the fast path first, then the full check."""
    if req.reserve:
        req.validate()
        try:
            decision = _fast_allow(session, req)
        except IdempotencyKeyReused:
            raise
        except Exception as e:  # noqa: BLE001 - fail closed, as check_many does
            _log.warning("gate check failed, denying with gate_error: %s", e, exc_info=True)
            return fail_closed(session, [req], e)[0]
        if decision is not None:
            return decision
    return check_many(session, [req])[0]


def _fast_allow(session: Session, req: CheckRequest) -> GateDecision | None:
    """A clean allow decided in one call on the server, or None for the full check (gate/fast.py)."""
    session.flush()  # the checks are SQL: they must see the caller's pending rows
    conn = session.connection()
    with raw_connection(conn) as dbapi:
        done = fast.try_allow(
            dbapi,
            lead_id=req.lead_id,
            campaign_id=req.campaign_id,
            channel=req.channel,
            sender=req.sender,
            at=req.at or datetime.now(UTC),
            idempotency_key=req.idempotency_key,
        )
    if done is None:
        return None
    return GateDecision("allow", [], done[0], done[1])


def deny_unlocked(dbapi: PgConnection[Any], req: CheckRequest) -> GateDecision | None:
    """After the fast path declined a single check: its deny, recorded, or None for the full check.

    On a sending worker's own autocommit connection (``GateWorker``) each statement commits on its
    own, and this reads what the full check would read without its transaction and locks: a deny
    needs no reservation to guard, so no lock, and the reads see every committed touch. About a
    fifth of the benchmark's checks are denials, and the full check, a transaction of some ten
    statements, cost about ten times a fast allow's client CPU. Anything that is not a certain
    deny (an allow after all, settings that do not resolve) writes nothing and returns None. Not for requests with an idempotency key: a decision stored under a key is
    taken under the key's lock.
    """
    assert req.idempotency_key is None
    req.validate()
    return Batch(None, [req]).deny_unlocked(dbapi)


def check_many(session: Session, items: list[CheckRequest]) -> list[GateDecision]:
    """Decide a batch in a few set-based statements, with the same guarantees as ``check``.

    Items are decided in order: an allowed reservation counts against the items after it.
    """
    seen: set[str] = set()
    for item in items:
        item.validate()
        if item.idempotency_key is not None:
            if item.idempotency_key in seen:
                raise InvalidInput(f"idempotency key {item.idempotency_key!r} appears twice in one batch")
            seen.add(item.idempotency_key)
    if not items:
        return []
    try:
        return Batch(session, items).run()
    except IdempotencyKeyReused:
        raise  # the caller's mistake, like bad input: nothing was written
    except Exception as e:  # noqa: BLE001 - fail closed: whatever went wrong, nobody gets an allow
        _log.warning("gate check failed, denying with gate_error: %s", e, exc_info=True)
        return fail_closed(session, items, e)


def failure_message(error: Exception) -> str:
    """The gate_error sentence for an exception (its type only: messages may hold personal data)."""
    if isinstance(error, LeadpoolError):
        return f"The gate could not decide: {error.message}"
    return f"The gate could not decide ({type(error).__name__}); denied to be safe. Try again later."


def record_denials(
    session: Session,
    items: list[CheckRequest],
    decisions: list[GateDecision],
    *,
    agency_id: int | None = None,
) -> None:
    """Record denials decided without the gate's statements (every check is recorded), in one
    statement, setting their ``decision_id``; never under an idempotency key (a retry asks afresh)."""
    now = datetime.now(UTC)
    ids = (
        session.connection()
        .execute(
            text(
                "WITH v AS MATERIALIZED (SELECT v.*, nextval(pg_get_serial_sequence('decisions', 'id')) AS id "
                "FROM unnest(CAST(:at AS timestamptz[]), CAST(:lead AS bigint[]), "
                "CAST(:campaign AS bigint[]), CAST(:channel AS text[]), CAST(:sender AS text[]), "
                "CAST(:reasons AS text[])) WITH ORDINALITY AS v(at, lead, campaign, channel, sender, reasons, ord)), "
                "ins AS (INSERT INTO decisions (id, at, lead_id, campaign_id, agency_id, channel, sender, allowed, "
                "reasons) SELECT v.id, v.at, v.lead, v.campaign, CAST(:agency AS bigint), v.channel, v.sender, false, "
                "CAST(v.reasons AS jsonb) FROM v RETURNING 1) "
                "SELECT v.id FROM v ORDER BY v.ord"
            ),
            {
                "agency": agency_id,
                "at": [i.at or now for i in items],
                "lead": [i.lead_id for i in items],
                "campaign": [i.campaign_id for i in items],
                "channel": [i.channel for i in items],
                "sender": [i.sender for i in items],
                "reasons": [json.dumps([r.as_dict() for r in d.reasons]) for d in decisions],
            },
        )
        .scalars()
        .all()
    )
    for d, decision_id in zip(decisions, ids, strict=True):
        d.decision_id = int(decision_id)


def fail_closed(session: Session, items: list[CheckRequest], error: Exception) -> list[GateDecision]:
    """Deny every item with gate_error, recorded after a rollback when the database still answers."""
    decisions = [gate_error(failure_message(error)) for _ in items]
    try:
        session.rollback()
        record_denials(session, items, decisions)
    except Exception:  # noqa: BLE001 - the database is gone: the deny still stands, unrecorded
        _log.warning("could not record the gate_error decisions", exc_info=True)
        try:
            session.rollback()
        except Exception:  # noqa: BLE001
            _log.debug("rollback after a lost connection failed", exc_info=True)
    return decisions
