"""A sending worker's own connection to the gate: one round trip for a clean allow.

``check(session, ...)`` runs inside the caller's transaction, so a check costs a session, a BEGIN,
the call and a COMMIT, with SQLAlchemy's bookkeeping around each (measured: about 0.7 ms of client
CPU per check, more than the server spends deciding). A worker that only asks the gate before
each send needs none of that. ``GateWorker`` keeps one psycopg connection in autocommit mode and
sends ``gate_fast_check`` alone: the statement is its own transaction, so a clean allow is
decided, reserved, recorded and committed in one round trip. Anything else (a reason applies, a
cap is near, a replayed idempotency key, a campaign this process has not resolved yet) wrote
nothing there. A deny is then decided from unlocked reads on the same connection and recorded
(``check.deny_unlocked``: three statements, plus an exact count per kind of scope at its cap; no transaction:
a deny guards no reservation, so it needs no lock). What is not a certain deny (an allow after
all, a request with an idempotency key) is decided by the full check in a transaction of its
own, with the same guarantees as ``check``.

Fails closed like ``check``: a lost connection or any error is a deny with ``gate_error`` (the
connection is dropped and opened again on the next check), never an exception or an allow.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import psycopg

from leadpool.db import Database, session_scope
from leadpool.gate import fast
from leadpool.gate.batch import IdempotencyKeyReused
from leadpool.gate.check import CheckRequest, check_many, deny_unlocked, fail_closed, failure_message
from leadpool.gate.reasons import GateDecision, gate_error

_log = logging.getLogger(__name__)


class GateWorker:
    """Checks for one sending worker (one thread): ``with GateWorker(db) as gate: gate.check(...)``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: psycopg.Connection[Any] | None = None

    def check(
        self,
        *,
        lead_id: int,
        campaign_id: int,
        channel: str,
        sender: str | None = None,
        at: datetime | None = None,
        reserve: bool = True,
        idempotency_key: str | None = None,
    ) -> GateDecision:
        """The same question and answer as ``leadpool.gate.check``, committed when it returns."""
        # one instant for every step, as in one check(): the fast path's, the deny's, the full one's
        when = at or datetime.now(UTC)
        req = CheckRequest(lead_id, campaign_id, channel, sender, when, reserve, idempotency_key)
        req.validate()  # bad input raises InvalidInput, as check() does: nothing is asked or stored
        if reserve:
            try:
                conn = self._connection()
                done = fast.try_allow(
                    conn,
                    lead_id=lead_id,
                    campaign_id=campaign_id,
                    channel=channel,
                    sender=req.sender,  # as the request spells it (normalised)
                    at=when,
                    idempotency_key=idempotency_key,
                )
                if done is not None:
                    return GateDecision("allow", [], done[0], done[1])
                if idempotency_key is None:
                    denied = deny_unlocked(conn, req)
                    if denied is not None:
                        return denied
            except Exception as e:  # noqa: BLE001 - fail closed
                _log.warning("gate check failed, denying with gate_error: %s", e, exc_info=True)
                self._drop()
                return self._record_error(req, e)
        try:
            with session_scope(self.db) as session:
                return check_many(session, [req])[0]
        except IdempotencyKeyReused:
            raise  # the caller's mistake, as check() raises it
        except Exception as e:  # noqa: BLE001 - the commit failed: nothing the check decided stands
            _log.warning("gate check could not commit, denying with gate_error: %s", e, exc_info=True)
            return gate_error(failure_message(e))

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop()
            self._conn = psycopg.connect(self.db.uri, autocommit=True)
            # this connection runs only the gate's few statements, each a handful of index
            # lookups: a plan per execution would cost more than the execution, and a plan made
            # while a table was nearly empty must not be a sequential scan (as in statements.py)
            self._conn.execute("SET plan_cache_mode = force_generic_plan")
            self._conn.execute("SET enable_seqscan = off")
            self._conn.execute("SET jit = off")
            # the lock-then-count of gate_fast_check needs each statement's snapshot taken after
            # its lock wait, whatever the server's or role's default isolation level
            self._conn.execute("SET default_transaction_isolation = 'read committed'")
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                _log.debug("closing a failed gate connection failed", exc_info=True)

    def _record_error(self, req: CheckRequest, error: Exception) -> GateDecision:
        try:
            with session_scope(self.db) as session:
                return fail_closed(session, [req], error)[0]
        except Exception:  # noqa: BLE001 - the database is gone: the deny stands, unrecorded
            _log.warning("could not record the gate_error decision", exc_info=True)
            return gate_error(failure_message(error))

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
