"""The pre-send gate: check (and reserve), check_many, confirm_sent and cancel.

A batch of checks is decided in a handful of set-based statements whatever its size:

1. read the lead, campaign, agency, ownership and enrollment of every item (a batch with
   idempotency keys takes their advisory locks and its leads' in the same statement, sorted);
2. replay earlier decisions for idempotency keys already used; apply the static rules (those
   that need no count) in memory;
3. take the advisory locks of the leads still candidates, then of their companies (sorted; the
   company weekly cap); then read the counter rows of every scope the reserving items need
   (unlocked) and the leads' live touches of the last 8 days and their companies' of the last 7
   (its snapshot is taken after the locks, so nothing committed by a competing reservation is
   missed); a scope near its cap has its counter rows locked (sorted) and is recounted exactly;
4. decide every item in order in memory (an earlier allowed item counts for later ones);
5. insert every touch and every decision and expire the leads' stale reservations in one
   statement, then raise the counters (sorted), each only while under its cap; a refused raise
   rolls the batch back to a savepoint and decides it again with the counter rows locked.

A single check first tries ``gate_fast_check`` (gate/fast.py), one call that decides and records a
clean allow; anything else comes back here as a batch of one. Any exception is a deny with
``gate_error`` (fail closed).
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import Connection as PgConnection
from psycopg import pq
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from leadpool.errors import Conflict, InvalidInput, LeadpoolError, NotFound
from leadpool.gate import caps, fast, windows
from leadpool.gate.caps import Scope
from leadpool.gate.policy import CHANNELS, GatePolicy, resolve
from leadpool.gate.reasons import GateDecision, Reason, gate_error, sort_reasons
from leadpool.gate.rules import Placement, Snapshot, placement, static_reasons
from leadpool.limits import EARLIEST, LATEST, MAX_ID

_log = logging.getLogger(__name__)

# Lead touches are read this far back: 7 rolling days plus a day of slack for local dates.
_LEAD_LOOKBACK = timedelta(days=8)


_dbapi_sql = caps.dbapi_sql  # ``:name`` binds to psycopg's, once at import for the constants


_TUPLES_OK = pq.ExecStatus.TUPLES_OK


# A SQLAlchemy connection (the session's, same transaction) or a sending worker's own psycopg one
_Conn = Connection | PgConnection[Any]


def _rows(conn: _Conn, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run one of the hot statements on the session's own DBAPI connection (same transaction)."""
    return _statements(conn, [(sql, params)])[0]


def _statements(conn: _Conn, statements: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
    """Run statements in order on the session's own DBAPI connection (same transaction); their rows.

    Skips SQLAlchemy's per-execution statement and result set-up (measured at about a tenth of
    a single check's Python time); psycopg still prepares each statement server-side after its
    fifth use. One round trip each: psycopg's pipeline mode saved the round trips but cost more
    client CPU than they did on a local server (measured: a batch of 500 took 72 ms of Python in
    a pipeline, 51 ms without). Errors are psycopg's own; ``check_many`` fails closed on any
    exception.
    """
    out = []
    with _dbapi(conn) as dbapi:
        for sql, params in statements:
            cur = dbapi.cursor()
            try:
                cur.execute(sql, params)
                # pgresult status, not cursor.description, which builds a Column per column
                out.append(list(cur.fetchall()) if cur.pgresult and cur.pgresult.status == _TUPLES_OK else [])
            finally:
                cur.close()
    return out


@contextmanager
def _dbapi(conn: _Conn) -> Iterator[Any]:
    """The session's own psycopg connection (same transaction), for the hot statements."""
    if not isinstance(conn, Connection):
        yield conn
        return
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    try:
        yield dbapi
    except Exception as e:
        # SQLAlchemy only notices a lost connection on its own executions: tell the pool, so the
        # rollback in fail_closed gives the session a fresh connection to record the gate_error
        if getattr(dbapi, "broken", False) or getattr(dbapi, "closed", False):
            conn.invalidate(e)
        raise


# Small batches run on generic plans. Each gate statement joins or unnests several tables, and
# PostgreSQL keeps choosing a custom plan for them (a generic plan's unnest() estimate looks costlier
# than a custom plan's exact one), so without this every check plans its statements anew: measured
# at 0.5 of the snapshot's 0.6 ms server CPU and 0.2 of the touches read's 0.3 ms. The setting is
# transaction-local, set just before the first statement (so that one still plans afresh) and put
# back just after the last; a failure rolls it back with the rest.
# Larger batches run on custom plans, for the opposite reason: left to choose, PostgreSQL may
# switch a prepared statement to a generic plan built while gate_counters was nearly empty (a
# sequential scan for each counter lookup) and keep it as the table grows. Seen in the benchmark,
# whose phases start from an empty table: in some runs one backend spent seconds of CPU per
# counter read while holding its advisory locks, and every other batch queued behind it (batches
# fell from 8,000 to 1,600 /s, p99 9-13 s). Planning a batch's few statements costs a few ms of
# its 150.
_GENERIC_BATCH = 20
# Sequential scans are off while the gate plans: every gate statement is index lookups by
# design, and a plan made while a table was nearly empty (a fresh installation; gate_counters
# every new day) would otherwise scan it whole for each lookup, generic plans keeping that choice
# as the table grows (measured: 9.7 ms per counter lookup at 200,000 rows, against microseconds).
_PLAN_MODE_SQL = (
    "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan'), "
    "current_setting('transaction_isolation'), "
    "set_config('plan_cache_mode', %(mode)s, true), set_config('enable_seqscan', 'off', true)"
)
_GENERIC_OFF_SQL = (
    "SELECT set_config('plan_cache_mode', %(prev)s, true), set_config('enable_seqscan', %(prev_seq)s, true)"
)


def _aware(at: datetime | None, what: str) -> None:
    if at is not None and at.tzinfo is None:
        raise InvalidInput(f"{what} {at.isoformat()} has no time zone; give an aware instant")


@dataclass(frozen=True)
class CheckRequest:
    """One question to the gate: may this campaign touch this lead on this channel now?"""

    lead_id: int
    campaign_id: int
    channel: str
    sender: str | None = None
    at: datetime | None = None
    reserve: bool = True
    idempotency_key: str | None = None

    def validate(self) -> None:
        for name in ("lead_id", "campaign_id"):
            value = getattr(self, name)
            # an id given as a string (a queue message, a form) would be accepted by SQL but miss
            # the lead's own touches and lock key in memory, which are keyed by int
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
                raise InvalidInput(f"{name} must be a positive integer (a bigint), not {value!r}")
        if not isinstance(self.channel, str) or self.channel not in CHANNELS:
            raise InvalidInput(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")
        if self.at is not None and not isinstance(self.at, datetime):
            raise InvalidInput(f"at must be a datetime with a time zone, not {type(self.at).__name__}")
        _aware(self.at, "at")
        if self.at is not None and not EARLIEST <= self.at < LATEST:
            # a reservation in the year 9999 would break every timeline that lists it
            raise InvalidInput(f"at {self.at.isoformat()} is not between 1970 and 2999")
        for name in ("sender", "idempotency_key"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InvalidInput(f"{name} must be a string, not {type(getattr(self, name)).__name__}")
        for name in ("sender", "idempotency_key"):
            if "\x00" in (getattr(self, name) or ""):
                raise InvalidInput(f"{name} contains a NUL character")
        if not isinstance(self.reserve, bool):
            raise InvalidInput(f"reserve must be true or false, not {self.reserve!r}")
        if self.sender is not None and not self.sender.strip():
            raise InvalidInput("sender is empty; leave it out instead")
        if self.idempotency_key is not None and not self.idempotency_key.strip():
            raise InvalidInput("idempotency_key is empty; leave it out instead")


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
    decision and touch. Every check is recorded in ``decisions``. Never raises for a database or
    internal failure: that is a deny with ``gate_error``, and the session's transaction has been
    rolled back. The caller commits.
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
    with _dbapi(conn) as dbapi:
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
    return _Batch(None, [req]).deny_unlocked(dbapi)


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
        return _Batch(session, items).run()
    except Exception as e:  # noqa: BLE001 - fail closed: whatever went wrong, nobody gets an allow
        _log.warning("gate check failed, denying with gate_error: %s", e, exc_info=True)
        return fail_closed(session, items, e)


def failure_message(error: Exception) -> str:
    """The gate_error sentence for an exception (its type only: messages may hold personal data)."""
    if isinstance(error, LeadpoolError):
        return f"The gate could not decide: {error.message}"
    return f"The gate could not decide ({type(error).__name__}); denied to be safe. Try again later."


def fail_closed(session: Session, items: list[CheckRequest], error: Exception) -> list[GateDecision]:
    """Deny every item with gate_error, recorded after a rollback when the database still answers."""
    decisions = [gate_error(failure_message(error)) for _ in items]
    try:
        session.rollback()
        now = datetime.now(UTC)
        conn = session.connection()
        conn.execute(
            text(
                "INSERT INTO decisions (at, lead_id, campaign_id, channel, sender, allowed, reasons) "
                "SELECT v.at, v.lead, v.campaign, v.channel, v.sender, false, CAST(v.reasons AS jsonb) "
                "FROM unnest(CAST(:at AS timestamptz[]), CAST(:lead AS bigint[]), "
                "CAST(:campaign AS bigint[]), CAST(:channel AS text[]), CAST(:sender AS text[]), "
                "CAST(:reasons AS text[])) AS v(at, lead, campaign, channel, sender, reasons)"
            ),
            {
                "at": [i.at or now for i in items],
                "lead": [i.lead_id for i in items],
                "campaign": [i.campaign_id for i in items],
                "channel": [i.channel for i in items],
                "sender": [i.sender for i in items],
                "reasons": [json.dumps([r.as_dict() for r in d.reasons]) for d in decisions],
            },
        )
    except Exception:  # noqa: BLE001 - the database is gone: the deny still stands, unrecorded
        _log.warning("could not record the gate_error decisions", exc_info=True)
        try:
            session.rollback()
        except Exception:  # noqa: BLE001
            _log.debug("rollback after a lost connection failed", exc_info=True)
    return decisions


_SNAPSHOT_SQL = _dbapi_sql(
    "SELECT (SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k) AS locked, "
    "r.ord, l.id IS NOT NULL, l.email, l.email_status, l.phone, l.linkedin_url, l.time_zone, l.company_id, "
    "l.replied_at, l.converted_at, l.unsubscribed_at, l.complained_at, l.wrong_person_at, "
    "l.email_bounced_at, l.blocklisted_at, l.erased_at, l.cooling_until, l.paused_until, "
    "c.id IS NOT NULL, c.agency_id, c.status, c.channels, c.paused_reason, CAST(c.settings AS text), "
    "a.status, CAST(a.settings AS text), o.agency_id, o.converted_at, "
    "EXISTS (SELECT 1 FROM enrollments e WHERE e.lead_id = r.lead_id AND e.campaign_id = r.campaign_id "
    "AND e.status = 'active'), "
    "l.rest_until, cp.until, cp.kind, cp.cause_event_id "
    "FROM unnest(CAST(:leads AS bigint[]), CAST(:campaigns AS bigint[])) WITH ORDINALITY "
    "AS r(lead_id, campaign_id, ord) "
    "LEFT JOIN leads l ON l.id = r.lead_id "
    "LEFT JOIN campaigns c ON c.id = r.campaign_id "
    "LEFT JOIN agencies a ON a.id = c.agency_id "
    "LEFT JOIN ownerships o ON o.lead_id = r.lead_id "
    # the longest pause of the lead's company (at check time) that this lead did not cause
    "LEFT JOIN LATERAL (SELECT p.until, p.kind, p.cause_event_id FROM company_pauses p "
    " WHERE p.company_id = l.company_id AND p.lead_id IS DISTINCT FROM l.id "
    " ORDER BY p.until DESC, p.id LIMIT 1) cp ON true "
    "ORDER BY r.ord"
)

# The rows to write travel as three JSON documents (counters, touches, decisions) rather than one
# array per column: psycopg's array adaptation of some 30 lists was the largest Python cost of a
# check after the round trips, and json.dumps is one C call.
_WRITE_SQL = _dbapi_sql(
    "WITH expired AS ("
    " UPDATE touches SET state = 'expired', ended_at = expires_at WHERE id IN ("
    "  SELECT id FROM touches WHERE lead_id = ANY(CAST(:exp_leads AS bigint[])) AND state = 'reserved'"
    "  AND expires_at <= least(CAST(:exp_at AS timestamptz), now()) FOR UPDATE SKIP LOCKED)"
    " RETURNING 1), "
    "counters AS ("
    " UPDATE gate_counters g SET n = v.n "
    " FROM json_to_recordset(CAST(:c AS json)) AS v(s text, k text, d date, n int) "
    " WHERE g.scope = v.s AND g.key = v.k AND g.day = v.d RETURNING 1), "
    "t AS MATERIALIZED ("
    " SELECT * FROM json_to_recordset(CAST(:t AS json)) AS v(ord int, lead bigint, company bigint, "
    " agency bigint, campaign bigint, channel text, sender text, at timestamptz, local_date date, "
    " expires timestamptz, idem text)), "
    "tid AS MATERIALIZED ("
    " SELECT t.ord, nextval(pg_get_serial_sequence('touches', 'id')) AS id FROM t), "
    "ins_t AS ("
    " INSERT INTO touches (id, lead_id, company_id, agency_id, campaign_id, channel, sender, state, at, "
    " local_date, expires_at, idempotency_key) "
    " SELECT tid.id, v.lead, v.company, v.agency, v.campaign, v.channel, v.sender, 'reserved', v.at, "
    " v.local_date, v.expires, v.idem "
    " FROM t AS v JOIN tid ON tid.ord = v.ord RETURNING 1), "
    "d AS MATERIALIZED ("
    " SELECT * FROM json_to_recordset(CAST(:d AS json)) AS v(ord int, at timestamptz, lead bigint, "
    " campaign bigint, agency bigint, channel text, sender text, allowed boolean, reasons jsonb, "
    " idem text)), "
    "did AS MATERIALIZED ("
    " SELECT d.ord, nextval(pg_get_serial_sequence('decisions', 'id')) AS id FROM d), "
    "ins_d AS ("
    " INSERT INTO decisions (id, at, lead_id, campaign_id, agency_id, channel, sender, allowed, reasons, "
    " touch_id, idempotency_key) "
    " SELECT did.id, v.at, v.lead, v.campaign, v.agency, v.channel, v.sender, v.allowed, "
    " v.reasons, tid.id, v.idem "
    " FROM d AS v JOIN did ON did.ord = v.ord LEFT JOIN tid ON tid.ord = v.ord RETURNING 1) "
    "SELECT did.ord, did.id, tid.id FROM did LEFT JOIN tid ON tid.ord = did.ord"
)


_LOCK_SQL = _dbapi_sql("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k")

# lead id -> [(at, local_date, expires_at or None when sent)], oldest first
_Touches = dict[int, list[tuple[datetime, date, datetime | None]]]


def _touches_params(leads: list[_Item], at_min: datetime) -> dict[str, Any]:
    """_TOUCHES_SQL's arguments: these items' leads and their companies, as of ``at_min``."""
    return {
        "ids": _ints(sorted({it.req.lead_id for it in leads})),
        "since": at_min - _LEAD_LOOKBACK,
        "cids": _ints(sorted({it.snap.company_id for it in leads if it.snap.company_id is not None})),
        "since_w": at_min - caps.WEEK,
        "at": at_min,
    }


def _collect(rows: list[Any]) -> tuple[dict[Scope, int], _Touches, _Touches]:
    """Counter values, lead touches and company touches from the rows of the reads of step 3."""
    counters: dict[Scope, int] = {}
    touches: _Touches = defaultdict(list)
    company_touches: _Touches = defaultdict(list)
    for kind, a, b, day, n, t_at, exp in rows:
        if kind == "c":
            counters[Scope(a, b, day)] = int(n)
        elif kind == "w":
            company_touches[int(n)].append((t_at, day, None if a == "sent" else exp))
        else:
            touches[int(n)].append((t_at, day, None if a == "sent" else exp))
    return counters, touches, company_touches


# The locking path takes the counter rows last (after the touches read, which the lead and company
# advisory locks already protect), so a batch holds them, and so blocks other batches of the same
# agency, for as short a time as possible.
_COUNTER_LOCK_SQL = _dbapi_sql(
    "WITH locked AS ("
    " INSERT INTO gate_counters (scope, key, day, n) "
    " SELECT v.s, v.k, v.d, 0 FROM json_to_recordset(CAST(:c AS json)) AS v(o int, s text, k text, d date) "
    " ORDER BY v.o "
    " ON CONFLICT (scope, key, day) DO UPDATE SET n = gate_counters.n "
    " RETURNING scope, key, day, n) "
    "SELECT 'c', scope, key, day, CAST(n AS bigint), CAST(NULL AS timestamptz), CAST(NULL AS timestamptz) "
    "FROM locked"
)

# Batches read their counter rows without locking them and raise them at the very end, each only
# if it is still under its cap (rows in the fixed lock order; caps keyed "scope|key|day"). The rows
# are then held only from that statement to the commit, instead of for the whole batch, which
# serialised concurrent batches of the same agencies. A counter near its cap, or one that moved
# past it meanwhile, sends the batch to the locking path (the check is decided again under lock).
# A scalar subquery per row, not a join: the planner guesses 100 rows for json_to_recordset and
# (generic plans especially) answered a join with a hash of the whole of gate_counters, which
# holds a row per scope and day (measured: 2.3 ms for one check's three rows on a 100,000-row
# table, against a few microseconds per index lookup).
_COUNTER_READ_SQL = _dbapi_sql(
    "SELECT 'c', v.s, v.k, v.d, "
    f"CAST(coalesce({caps.COUNTER_N_SQL}, 0) AS bigint), CAST(NULL AS timestamptz), "
    "CAST(NULL AS timestamptz) "
    "FROM json_to_recordset(CAST(:c AS json)) AS v(o int, s text, k text, d date)"
)
_COUNTER_RAISE_SQL = _dbapi_sql(
    "INSERT INTO gate_counters AS g (scope, key, day, n) "
    "SELECT v.s, v.k, v.d, v.n FROM json_to_recordset(CAST(:c AS json)) AS v(o int, s text, k text, d date, n int) "
    "ORDER BY v.o "
    "ON CONFLICT (scope, key, day) DO UPDATE SET n = g.n + EXCLUDED.n "
    "WHERE g.n + EXCLUDED.n <= CAST(CAST(:caps AS jsonb) ->> (g.scope || '|' || g.key || '|' || to_char(g.day, 'YYYY-MM-DD')) AS int) "
    "RETURNING 1"
)
_SAVEPOINT = "SAVEPOINT leadpool_gate_batch"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT leadpool_gate_batch"


def _ints(values: list[int]) -> str:
    """An int list as a PostgreSQL array literal (cast to bigint[] in SQL): psycopg's list adapter
    runs a regular expression per element, a measurable share of a 500-item batch."""
    return "{" + ",".join(map(str, values)) + "}"


def _scopes_json(scopes: list[Scope]) -> str:
    """Scope rows for json_to_recordset, numbered in the given (lock) order."""
    return json.dumps(
        [{"o": i, "s": x.scope, "k": x.key, "d": x.day.isoformat()} for i, x in enumerate(scopes)]
    )


class _CountersMoved(Exception):
    """A counter passed its cap between the unlocked read and the raise: decide again under lock."""


# A reservation live now counts even for a check dated later (a scheduled send): it may still be
# confirmed before it expires, and the lead's and company's caps must hold then too
_LIVE_AT = "least(CAST(:at AS timestamptz), now())"
_TOUCHES_SQL = _dbapi_sql(
    "SELECT 't', t.state, NULL, t.local_date, t.lead_id, t.at, t.expires_at FROM touches t "
    "WHERE t.lead_id = ANY(CAST(:ids AS bigint[])) AND t.at > :since "
    f"AND {caps.LIVE_SQL.format(at=_LIVE_AT)} "
    "UNION ALL "
    "SELECT 'w', t.state, NULL, t.local_date, t.company_id, t.at, t.expires_at FROM touches t "
    "WHERE t.company_id = ANY(CAST(:cids AS bigint[])) AND t.at > :since_w "
    f"AND {caps.LIVE_SQL.format(at=_LIVE_AT)}"
)

# The unlocked deny's reads in one statement (rows of one shape: _collect sorts them out) and its
# one write: a deny has no touch, counter or stale reservation to deal with.
_DENY_READ_SQL = f"{_TOUCHES_SQL} UNION ALL {_COUNTER_READ_SQL}"
_DENY_WRITE_SQL = _dbapi_sql(
    "INSERT INTO decisions (at, lead_id, campaign_id, agency_id, channel, sender, allowed, reasons) "
    "VALUES (:at, :lead, :campaign, :agency, :channel, :sender, false, CAST(:reasons AS jsonb)) RETURNING id"
)


@dataclass
class _Item:
    req: CheckRequest
    at: datetime
    snap: Snapshot
    policy: GatePolicy | None = None
    place: Placement | None = None
    reasons: list[Reason] = field(default_factory=list)
    scopes: list[tuple[Scope, int]] = field(default_factory=list)  # (scope, cap)
    decision: GateDecision | None = None  # set early for replays and per-item errors
    candidate: bool = False
    reserve_touch: bool = False


def _snapshot(row: Any, req: CheckRequest) -> Snapshot:
    return Snapshot(
        lead_id=req.lead_id,
        campaign_id=req.campaign_id,
        lead_exists=bool(row[2]),
        email=row[3],
        email_status=row[4],
        phone=row[5],
        linkedin_url=row[6],
        time_zone=row[7],
        company_id=row[8],
        replied_at=row[9],
        converted_at=row[10],
        unsubscribed_at=row[11],
        complained_at=row[12],
        wrong_person_at=row[13],
        email_bounced_at=row[14],
        blocklisted_at=row[15],
        erased_at=row[16],
        cooling_until=row[17],
        paused_until=row[18],
        campaign_exists=bool(row[19]),
        agency_id=row[20],
        campaign_status=row[21],
        campaign_channels=tuple(row[22] or ()),
        paused_reason=row[23],
        agency_status=row[25],
        owner_agency_id=row[27],
        owner_converted_at=row[28],
        enrolled=bool(row[29]),
        rest_until=row[30],
        company_pause_until=row[31],
        company_pause_kind=row[32],
        company_pause_event_id=row[33],
    )


class _Batch:
    def __init__(self, session: Session | None, reqs: list[CheckRequest]) -> None:
        self.session = session
        self.now = datetime.now(UTC)
        self.reqs = reqs
        self.plan_cache_mode: str | None = None  # the settings to put back
        self.enable_seqscan = "on"
        self.optimistic = True  # counters read unlocked, raised conditionally at the end
        self.leads_locked = False  # by the snapshot statement (batches with idempotency keys)
        self.read_counts: dict[Scope, int] = {}  # what the unlocked read saw (optimistic)
        self.cap_min: dict[Scope, int] = {}

    def run(self) -> list[GateDecision]:
        assert self.session is not None
        self.session.flush()  # the checks below are SQL: they must see the caller's pending rows
        try:
            return self._run()
        except _CountersMoved:
            self.optimistic = False
            return self._run()

    def _run(self) -> list[GateDecision]:
        assert self.session is not None
        conn = self.session.connection()
        items = self._read(conn)
        self._replay_idempotent(conn, items)
        for it in items:
            if it.decision is None:
                self._static(it)
        locked, counts, touches, company_touches = self._locks_and_counts(conn, items)
        self._decide(items, counts, touches, company_touches)
        self._write(conn, items, locked, counts)
        out = []
        for it in items:
            assert it.decision is not None
            out.append(it.decision)
        return out

    def deny_unlocked(self, dbapi: PgConnection[Any]) -> GateDecision | None:
        """A one-item batch's deny, decided from unlocked reads and recorded; None: not certain.

        For a sending worker's own autocommit connection after the fast path declined (see
        ``deny_unlocked`` below): the snapshot, then the touches and the counters in one
        statement (and an exact count of scopes at their cap), the same rules in memory, and the
        decision, with no transaction, advisory lock or counter lock. Only a deny is ever recorded here, so no cap can be
        exceeded by it; anything not certain to be the full check's answer returns None before
        writing.
        """
        (it,) = self._items(_rows(dbapi, _SNAPSHOT_SQL, self._snapshot_params(set())))
        if it.decision is not None:  # the settings do not resolve: the full check words it
            return None
        self._static(it)
        if not it.snap.lead_exists or not it.scopes:  # nothing to count: the full check words it
            return None
        params = _touches_params([it], it.at)
        params["c"] = _scopes_json(sorted({sc for sc, _ in it.scopes}))
        counts, touches, company_touches = _collect(_rows(dbapi, _DENY_READ_SQL, params))
        # A counter never under-counts, but one at its cap may over-count (a reservation that
        # expired unconfirmed is still in n), so those scopes are counted exactly, as the full
        # check counts them: a sender or agency spent for the day is a certain deny, asked again
        # and again; a slot freed meanwhile makes the answer an allow, which the full check gives
        # (writing the true count back under the row's lock).
        at_cap = [sc for sc, cap in it.scopes if counts.get(sc, 0) >= cap]
        if at_cap:
            counts.update(caps.exact_counts(dbapi, at_cap, it.at))
        self._decide([it], counts, touches, company_touches)
        d = it.decision
        if d is None or d.allowed:  # an allow takes the locks: full check
            return None
        (row,) = _rows(
            dbapi,
            _DENY_WRITE_SQL,
            {
                "at": it.at,
                "lead": it.req.lead_id,
                "campaign": it.req.campaign_id,
                "agency": it.snap.agency_id,
                "channel": it.req.channel,
                "sender": it.req.sender,
                "reasons": json.dumps([r.as_dict() for r in d.reasons]),
            },
        )
        d.decision_id = int(row[0])
        return d

    # 1. snapshot (+ advisory locks when the batch has idempotency keys)
    def _read(self, conn: Connection) -> list[_Item]:
        # A key must be locked before its stored decision is looked up, and idempotency and lead
        # keys are one lock group (sorted together, as gate_fast_check takes them), so a batch with
        # keys locks its reserving leads here too. Without keys the leads are locked in step 3,
        # only those still candidates after the static rules: fewer locks, held from after the
        # snapshot and the Python of step 2 to the commit instead of for the whole batch (alone
        # it made no difference the benchmark could measure: its batches are CPU-bound).
        keys = {caps.lock_key("idem", r.idempotency_key) for r in self.reqs if r.idempotency_key}
        self.leads_locked = bool(keys)
        if keys:
            keys |= {caps.lock_key("lead", r.lead_id) for r in self.reqs if r.reserve}
        params = self._snapshot_params(keys)
        mode = "force_generic_plan" if len(self.reqs) <= _GENERIC_BATCH else "force_custom_plan"
        before, rows = _statements(conn, [(_PLAN_MODE_SQL, {"mode": mode}), (_SNAPSHOT_SQL, params)])
        if self.plan_cache_mode is None:  # a second pass finds the first pass's settings
            self.plan_cache_mode, self.enable_seqscan = str(before[0][0]), str(before[0][1])
        if before[0][2] != "read committed":
            # the touches and counters are read after the locks, so a statement's snapshot must
            # be taken after its lock wait: under repeatable read or serializable it is the
            # transaction's first, and a touch committed by whoever held the lock would be missed
            raise LeadpoolError(
                f"the gate decides in READ COMMITTED transactions; this one is {before[0][2]}, "
                "which could miss a touch committed while it waited for a lock"
            )
        return self._items(rows)

    def _snapshot_params(self, keys: set[int]) -> dict[str, Any]:
        return {
            "keys": _ints(sorted(keys)),
            "leads": _ints([r.lead_id for r in self.reqs]),
            "campaigns": _ints([r.campaign_id for r in self.reqs]),
        }

    def _items(self, rows: list[Any]) -> list[_Item]:
        items = []
        remembered: set[int] = set()  # once per campaign per batch: the stamp is an md5
        # once per (agency settings, campaign settings) text per batch: resolving parses and
        # re-serialises both (measured: 7 ms of a 500-item batch's 150 under the profiler, per item)
        policies: dict[tuple[str | None, str | None], GatePolicy | InvalidInput] = {}
        for req, row in zip(self.reqs, rows, strict=True):
            it = _Item(req, req.at or self.now, _snapshot(row, req))
            policy = policies.get((row[26], row[24]))
            if policy is None:
                try:
                    policy = resolve(
                        json.loads(row[26]) if row[26] else None, json.loads(row[24]) if row[24] else None
                    )
                except InvalidInput as e:
                    policy = e
                policies[(row[26], row[24])] = policy
            if isinstance(policy, InvalidInput):
                it.decision = gate_error(policy.message)
            else:
                it.policy = policy
                if it.snap.campaign_exists and req.campaign_id not in remembered:
                    remembered.add(req.campaign_id)
                    fast.remember(req.campaign_id, fast.settings_stamp(row[26], row[24]), it.policy)
            items.append(it)
        return items

    # 2. idempotency
    def _replay_idempotent(self, conn: Connection, items: list[_Item]) -> None:
        keyed = [it for it in items if it.req.idempotency_key and it.snap.agency_id is not None]
        if not keyed:
            return
        rows = conn.execute(
            text(
                "SELECT d.agency_id, d.idempotency_key, d.id, d.lead_id, d.campaign_id, d.channel, "
                "d.allowed, d.reasons, d.touch_id FROM decisions d "
                "JOIN unnest(CAST(:a AS bigint[]), CAST(:k AS text[])) AS v(a, k) "
                "ON d.agency_id = v.a AND d.idempotency_key = v.k"
            ),
            {"a": [it.snap.agency_id for it in keyed], "k": [it.req.idempotency_key for it in keyed]},
        ).all()
        stored = {(r[0], r[1]): r for r in rows}
        for it in keyed:
            r = stored.get((it.snap.agency_id, it.req.idempotency_key))
            if r is None:
                continue
            if (r[3], r[4], r[5]) != (it.req.lead_id, it.req.campaign_id, it.req.channel):
                it.decision = gate_error(
                    f"Idempotency key {it.req.idempotency_key!r} was already used for another check "
                    f"(lead {r[3]}, campaign {r[4]}, {r[5]}); use a new key."
                )
                continue
            if r[6] and r[8] is None and it.req.reserve:
                # the key's allow reserved nothing (a dry run): replaying it would send uncounted
                it.decision = gate_error(
                    f"Idempotency key {it.req.idempotency_key!r} was already used for a check without "
                    "a reservation; use a new key for the reserving one."
                )
                continue
            it.decision = GateDecision(
                "allow" if r[6] else "deny",
                [Reason.from_dict(x) for x in r[7]],
                r[8],
                r[2],
                replayed=True,
            )

    def _static(self, it: _Item) -> None:
        assert it.policy is not None
        it.place = placement(it.snap, it.at)
        it.reasons = static_reasons(it.snap, it.req.channel, it.policy, it.at, it.place)
        it.candidate = it.req.reserve and not it.reasons
        s = it.snap
        if s.lead_exists and s.company_id is not None:
            it.scopes.append(
                (caps.company_scope(s.company_id, it.place.local_date), it.policy.company_daily_cap)
            )
        if it.req.sender is not None:
            it.scopes.append(
                (
                    caps.sender_scope(it.req.channel, it.req.sender, it.at),
                    it.policy.sender_cap(it.req.channel),
                )
            )
        if s.agency_id is not None:
            it.scopes.append(
                (caps.agency_scope(s.agency_id, it.req.channel, it.at), it.policy.agency_daily_cap)
            )

    # 3+4. the leads' and companies' recent touches, then the counter rows of reserving items
    # (read unlocked, or locked in sorted order once a batch is on the locking path), after the
    # lead and company locks: the touches read's snapshot is taken after them, so no touch
    # committed by a competing reservation of the same lead or company is missed. Then counters
    # of the other items are read, and scopes near their cap are recounted exactly (unlocked
    # while the counters hold exact counts, else under the counter rows' locks).
    def _locks_and_counts(
        self, conn: Connection, items: list[_Item]
    ) -> tuple[dict[Scope, int], dict[Scope, int], _Touches, _Touches]:
        live = [it for it in items if it.decision is None]
        cand_scopes = sorted({sc for it in live if it.candidate for sc, _ in it.scopes})
        leads = [it for it in live if it.snap.lead_exists]
        at_min = min((it.at for it in live), default=self.now)
        # The candidates' leads (unless step 1 locked them) and companies (the company weekly cap
        # is lock + count, like the lead caps: a rolling window needs touch times), in one
        # statement: lead keys ((1 << 56) + id) all sort before company keys ((2 << 56) + id), so
        # one sorted array keeps the fixed lock order (leads, then companies, then counter rows);
        # the counts run in the next statements, whose snapshots are taken after the waits.
        lock_keys = sorted(
            {
                caps.lock_key("company", it.snap.company_id)
                for it in live
                if it.candidate and it.snap.company_id
            }
        )
        if not self.leads_locked:
            lock_keys = (
                sorted({caps.lock_key("lead", it.req.lead_id) for it in live if it.candidate}) + lock_keys
            )
        statements: list[tuple[str, dict[str, Any]]] = []
        if lock_keys:
            statements.append((_LOCK_SQL, {"keys": _ints(lock_keys)}))
        rows: list[Any] = []
        if leads:
            statements.append((_TOUCHES_SQL, _touches_params(leads, at_min)))
        # as JSON: psycopg's text-array adaptation was the largest Python cost left in a batch
        scope_params = {"c": _scopes_json(cand_scopes)}
        if cand_scopes:
            statements.append((_COUNTER_READ_SQL if self.optimistic else _COUNTER_LOCK_SQL, scope_params))
        if statements:
            # separate statements, in order: the touches read's snapshot is taken when it starts,
            # after the lock wait
            results = _statements(conn, statements)
            for result in results[1 if lock_keys else 0 :]:  # not the lock statement's count
                rows.extend(result)
        locked, touches, company_touches = _collect(rows)
        others = [sc for it in live if not it.candidate for sc, _ in it.scopes if sc not in locked]
        base = dict(locked)
        base.update(caps.read_counters(conn, others))
        k_cand: Counter[Scope] = Counter()
        k_all: Counter[Scope] = Counter()
        cap_min: dict[Scope, int] = {}
        for it in live:
            for sc, cap in it.scopes:
                k_all[sc] += 1
                k_cand[sc] += 1 if it.candidate else 0
                cap_min[sc] = min(cap, cap_min.get(sc, cap))

        def near_cap() -> list[Scope]:
            return [
                sc
                for sc, n in base.items()
                if n + k_cand[sc] > cap_min[sc] or (k_all[sc] > k_cand[sc] and n + k_cand[sc] >= cap_min[sc])
            ]

        recount = near_cap()
        if recount and self.optimistic and cand_scopes:
            # A cap is close: count those scopes exactly. Unlocked is enough while each counter
            # holds its exact count, since the conditional raise still guards it; a counter that
            # over-counts (a reservation that expired unconfirmed is still in n) must have its
            # true value written back, so the batch then locks the counter rows after all and
            # counts again under the lock. (Locking whenever a cap was close sent almost every
            # batch of the benchmark down the locking path once companies reached their daily
            # cap, where it held every agency's counter rows to the commit.)
            exact = caps.exact_counts(conn, recount, at_min)
            if any(exact[sc] < locked[sc] for sc in recount if sc in locked):
                self.optimistic = False
                for _, a, b, day, n, _, _ in _rows(conn, _COUNTER_LOCK_SQL, scope_params):
                    locked[Scope(a, b, day)] = int(n)
                base.update(locked)
                recount = near_cap()
            else:
                for sc, n in exact.items():
                    base[sc] = n
                    if sc in locked:  # committed meanwhile: decide on it, raise by our own only
                        locked[sc] = n
                recount = []
        if self.optimistic:
            self.read_counts = dict(locked)
            self.cap_min = cap_min
            locked = {}  # nothing is locked: _write raises the counters conditionally
        if recount:
            base.update(caps.exact_counts(conn, recount, at_min))
        return locked, base, touches, company_touches

    # 5. decide in order
    def _decide(
        self,
        items: list[_Item],
        counts: dict[Scope, int],
        touches: _Touches,
        company_touches: _Touches,
    ) -> None:
        now = datetime.now(UTC)
        for it in items:
            if it.decision is not None:
                continue
            assert it.policy is not None and it.place is not None
            p, at, place = it.policy, it.at, it.place
            live_at = min(at, now)  # as _TOUCHES_SQL: a reservation live now counts for a later check
            reasons = list(it.reasons)
            if it.snap.lead_exists:
                lt = [(t, d) for t, d, exp in touches.get(it.req.lead_id, []) if exp is None or exp > live_at]
                day = sum(1 for _, d in lt if d == place.local_date)
                if day >= p.lead_daily_cap:
                    reasons.append(
                        Reason(
                            "lead_daily_cap",
                            f"Lead {it.req.lead_id} already has {day} touch(es) on {place.local_date} "
                            f"({_zone_name(place)}); the limit is {p.lead_daily_cap} per day.",
                            windows.next_local_midnight(at, place.zone) if p.lead_daily_cap > 0 else None,
                        )
                    )
                week = [t for t, _ in lt if t > at - caps.WEEK]
                if len(week) >= p.lead_weekly_cap:
                    reasons.append(
                        Reason(
                            "lead_weekly_cap",
                            f"Lead {it.req.lead_id} already has {len(week)} touch(es) in the last 7 days; "
                            f"the limit is {p.lead_weekly_cap}.",
                            caps.weekly_retry_after(week, p.lead_weekly_cap),
                        )
                    )
            cid = it.snap.company_id if it.snap.lead_exists else None
            for sc, cap in it.scopes:
                n = counts.get(sc, 0)
                if n >= cap:
                    reasons.append(_scope_reason(sc, n, cap, at, place))
            if cid is not None:
                cweek = [
                    t
                    for t, _, exp in company_touches.get(cid, [])
                    if (exp is None or exp > live_at) and t > at - caps.WEEK
                ]
                if len(cweek) >= p.company_weekly_cap:
                    reasons.append(
                        Reason(
                            "company_weekly_cap",
                            f"Company {cid} already has {len(cweek)} touch(es) across its people in the last "
                            f"7 days (all agencies); the limit is {p.company_weekly_cap}.",
                            caps.weekly_retry_after(cweek, p.company_weekly_cap),
                        )
                    )
            if reasons:
                it.decision = GateDecision("deny", sort_reasons(reasons))
                continue
            it.decision = GateDecision("allow", [])
            if it.req.reserve:
                it.reserve_touch = True
                touches.setdefault(it.req.lead_id, []).append((at, place.local_date, at + _ttl(p)))
                if cid is not None:
                    company_touches.setdefault(cid, []).append((at, place.local_date, at + _ttl(p)))
                for sc, _ in it.scopes:
                    counts[sc] = counts.get(sc, 0) + 1

    def _raises(self, counts: dict[Scope, int]) -> list[tuple[Scope, int]]:
        """(scope, by how much) for every counter this batch's reservations raise, in lock order."""
        return sorted((sc, counts[sc] - n) for sc, n in self.read_counts.items() if counts.get(sc, n) != n)

    # 6. one statement writes everything
    def _write(
        self, conn: Connection, items: list[_Item], locked: dict[Scope, int], counts: dict[Scope, int]
    ) -> None:
        changed = sorted(sc for sc, n in locked.items() if counts[sc] != n)
        t_items = [(i, it) for i, it in enumerate(items) if it.reserve_touch]
        d_items = [
            (i, it) for i, it in enumerate(items) if it.decision is not None and not it.decision.replayed
        ]
        exp_leads = sorted({it.req.lead_id for _, it in t_items})
        counters = [{"s": sc.scope, "k": sc.key, "d": sc.day.isoformat(), "n": counts[sc]} for sc in changed]
        t_rows = []
        for i, it in t_items:
            assert it.place is not None
            t_rows.append(
                {
                    "ord": i,
                    "lead": it.req.lead_id,
                    "company": it.snap.company_id,
                    "agency": it.snap.agency_id,
                    "campaign": it.req.campaign_id,
                    "channel": it.req.channel,
                    "sender": it.req.sender,
                    "at": it.at.isoformat(),
                    "local_date": it.place.local_date.isoformat(),
                    "expires": (it.at + _ttl(it.policy)).isoformat(),
                    "idem": it.req.idempotency_key,
                }
            )
        d_rows = []
        for i, it in d_items:
            decision = it.decision
            assert decision is not None
            d_rows.append(
                {
                    "ord": i,
                    "at": it.at.isoformat(),
                    "lead": it.req.lead_id,
                    "campaign": it.req.campaign_id,
                    "agency": it.snap.agency_id,
                    "channel": it.req.channel,
                    "sender": it.req.sender,
                    "allowed": decision.allowed,
                    "reasons": [r.as_dict() for r in decision.reasons],
                    # a gate_error is not stored under the key: a retry with the same key decides afresh
                    "idem": it.req.idempotency_key
                    if it.snap.agency_id is not None and "gate_error" not in decision.codes
                    else None,
                }
            )
        params: dict[str, Any] = {
            "exp_leads": _ints(exp_leads),
            "exp_at": min((it.at for it in items), default=self.now),
            "c": json.dumps(counters),
            "t": json.dumps(t_rows),
            "d": json.dumps(d_rows),
        }
        statements: list[tuple[str, dict[str, Any]]] = [(_WRITE_SQL, params)]
        raises = self._raises(counts) if self.optimistic else []
        if raises:
            statements.insert(0, (_SAVEPOINT, {}))
            caps_by_key = {f"{sc.scope}|{sc.key}|{sc.day.isoformat()}": self.cap_min[sc] for sc, _ in raises}
            raise_rows = [
                {"o": i, "s": sc.scope, "k": sc.key, "d": sc.day.isoformat(), "n": n}
                for i, (sc, n) in enumerate(raises)
            ]
            statements.append(
                (_COUNTER_RAISE_SQL, {"c": json.dumps(raise_rows), "caps": json.dumps(caps_by_key)})
            )
        if self.plan_cache_mode is not None:
            statements.append(
                (_GENERIC_OFF_SQL, {"prev": self.plan_cache_mode, "prev_seq": self.enable_seqscan})
            )
        results = _statements(conn, statements)
        if raises:
            if len(results[2]) != len(raises):
                with _dbapi(conn) as dbapi:
                    dbapi.execute(_ROLLBACK_TO)
                raise _CountersMoved()
            rows = results[1]
        else:
            rows = results[0]
        for ord_, decision_id, touch_id in rows:
            decision = items[ord_].decision
            assert decision is not None
            decision.decision_id = int(decision_id)
            decision.touch_id = int(touch_id) if touch_id is not None else None


def _ttl(policy: GatePolicy | None) -> timedelta:
    assert policy is not None
    return timedelta(seconds=policy.reservation_ttl_seconds)


def _zone_name(place: Placement) -> str:
    return place.zone.key if place.zone else "UTC, the lead's time zone being unknown"


def _scope_reason(sc: Scope, n: int, cap: int, at: datetime, place: Placement) -> Reason:
    if sc.scope == "company":
        return Reason(
            "company_daily_cap",
            f"Company {sc.key} already has {n} touch(es) across its people on {sc.day}; "
            f"the limit is {cap} per day.",
            windows.next_local_midnight(at, place.zone) if cap > 0 else None,
        )
    retry = caps.utc_midnight_after(sc.day) if cap > 0 else None
    if sc.scope == "sender":
        channel, sender = sc.key.split(":", 1)
        return Reason(
            "sender_daily_cap",
            f"Sender {sender} has {n} {channel} touch(es) on {sc.day} (UTC); the limit is {cap} per day.",
            retry,
        )
    agency, channel = sc.key.split(":", 1)
    return Reason(
        "agency_daily_cap",
        f"Agency {agency} has {n} {channel} touch(es) on {sc.day} (UTC); the limit is {cap} per day.",
        retry,
    )


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


def confirm_sent(
    session: Session, touch_id: int, provider_message_id: str, *, at: datetime | None = None
) -> TouchState:
    """Mark a reserved touch as sent. Idempotent for the same provider message id.

    Raises Conflict when the reservation was cancelled, expired (it stopped counting against the
    caps, so it may not be sent any more) or was confirmed with another message id.
    """
    if not provider_message_id.strip():
        raise InvalidInput("provider_message_id is empty")
    _aware(at, "at")
    at = at or datetime.now(UTC)
    conn = session.connection()
    row = conn.execute(
        text(
            "UPDATE touches SET state = 'sent', sent_at = :at, provider_message_id = :pmid "
            f"WHERE id = :id AND state = 'reserved' AND expires_at > :at RETURNING {_TOUCH_COLS}"
        ),
        {"id": touch_id, "at": at, "pmid": provider_message_id},
    ).first()
    if row is not None:
        return TouchState(*row)
    cur = _touch(conn, touch_id)
    if cur.state == "sent" and cur.provider_message_id == provider_message_id:
        return TouchState(*cur[:5])
    if cur.state == "sent":
        raise Conflict(f"touch {touch_id} was already confirmed with another provider message id")
    if cur.state == "reserved":
        raise Conflict(
            f"touch {touch_id}'s reservation expired at {cur.expires_at.isoformat()}; check again before sending"
        )
    raise Conflict(f"touch {touch_id} is {cur.state}; it cannot be confirmed")


def cancel(session: Session, touch_id: int, *, at: datetime | None = None) -> TouchState:
    """Cancel a reserved touch so it stops counting. Idempotent; a sent touch cannot be cancelled."""
    _aware(at, "at")
    at = at or datetime.now(UTC)
    conn = session.connection()
    row = conn.execute(
        text(
            "UPDATE touches SET state = 'cancelled', ended_at = :at WHERE id = :id AND state = 'reserved' "
            f"RETURNING {_TOUCH_COLS}, expires_at, company_id, local_date, sender, channel, agency_id, at"
        ),
        {"id": touch_id, "at": at},
    ).first()
    if row is None:
        cur = _touch(conn, touch_id)
        if cur.state in ("cancelled", "expired"):
            return TouchState(*cur[:5])
        raise Conflict(f"touch {touch_id} was already sent; it cannot be cancelled")
    if row.expires_at > at:
        # it was still counted: give its slot back (rows sorted, the lock order every check uses)
        scopes = [caps.agency_scope(row.agency_id, row.channel, row.at)]
        if row.company_id is not None:
            scopes.append(caps.company_scope(row.company_id, row.local_date))
        if row.sender is not None:
            scopes.append(caps.sender_scope(row.channel, row.sender, row.at))
        for sc in sorted(scopes):
            conn.execute(
                text(
                    "UPDATE gate_counters SET n = n - 1 WHERE scope = :s AND key = :k AND day = :d AND n > 0"
                ),
                {"s": sc.scope, "k": sc.key, "d": sc.day},
            )
    return TouchState(*row[:5])


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
