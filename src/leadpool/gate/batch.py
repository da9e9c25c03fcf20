"""How a batch of checks is decided: a handful of set-based statements whatever its size.

1. read the lead, campaign, agency, ownership and enrollment of every item (a batch with
   idempotency keys takes their advisory locks and its leads' in the same statement, sorted);
2. replay earlier decisions for idempotency keys already used; apply the static rules (those
   that need no count) in memory;
3. take the advisory locks of the leads still candidates, then of their companies (sorted; the
   company weekly cap), then of their senders with a weekly cap; then read the counter rows of
   every scope the reserving items need (unlocked) and the leads' live touches of the last 8 days
   and their companies' and those senders' of the last 7
   (its snapshot is taken after the locks, so nothing committed by a competing reservation is
   missed); a scope near its cap has its counter rows locked (sorted) and is recounted exactly;
4. decide every item in order in memory (an earlier allowed item counts for later ones);
5. insert every touch and every decision and expire the leads' stale reservations in one
   statement, then raise the counters (sorted), each only while under its cap; a refused raise
   rolls the batch back to a savepoint and decides it again with the counter rows locked.

The statements themselves are in ``statements.py``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import Connection as PgConnection
from psycopg.pq import TransactionStatus
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from leadpool.errors import Conflict, InvalidInput, LeadpoolError
from leadpool.gate import caps, fast, windows
from leadpool.gate.caps import Scope
from leadpool.gate.policy import GatePolicy, resolve
from leadpool.gate.reasons import GateDecision, Reason, gate_error, sort_reasons
from leadpool.gate.request import CheckRequest
from leadpool.gate.rules import Placement, Snapshot, placement, static_reasons
from leadpool.gate.statements import (
    COUNTER_LOCK_SQL,
    COUNTER_RAISE_SQL,
    COUNTER_READ_SQL,
    DENY_READ_SQL,
    DENY_WRITE_SQL,
    GENERIC_BATCH,
    GENERIC_OFF_SQL,
    LOCK_SQL,
    PLAN_MODE_SQL,
    ROLLBACK_TO,
    SAVEPOINT,
    SENDER_WEEK_SQL,
    SNAPSHOT_SQL,
    TOUCHES_SQL,
    WRITE_SQL,
    fetch_rows,
    int_array,
    raw_connection,
    run_statements,
    scopes_json,
)

# Lead touches are read this far back: 7 rolling days plus a day of slack for local dates.
_LEAD_LOOKBACK = timedelta(days=8)

# lead id -> [(at, local_date, expires_at or None when sent)], oldest first
_Touches = dict[int, list[tuple[datetime, date, datetime | None]]]


def _touches_params(leads: list[_Item], at_min: datetime) -> dict[str, Any]:
    """TOUCHES_SQL's arguments: these items' leads, their companies and their senders with a
    weekly cap, as of ``at_min``."""
    return {
        "ids": int_array(sorted({it.req.lead_id for it in leads})),
        "since": at_min - _LEAD_LOOKBACK,
        "cids": int_array(sorted({it.snap.company_id for it in leads if it.snap.company_id is not None})),
        "since_w": at_min - caps.WEEK,
        "skeys": json.dumps(sorted({it.sender_week[0] for it in leads if it.sender_week is not None})),
        "at": at_min,
    }


@dataclass
class _Recent:
    """The live touches of the last days that the rolling caps count, oldest first."""

    leads: _Touches = field(default_factory=lambda: defaultdict(list))
    companies: _Touches = field(default_factory=lambda: defaultdict(list))
    senders: dict[str, list[tuple[datetime, date, datetime | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def _collect(rows: list[Any]) -> tuple[dict[Scope, int], _Recent]:
    """Counter values and the leads', companies' and senders' touches from the reads of step 3."""
    counters: dict[Scope, int] = {}
    recent = _Recent()
    for kind, a, b, day, n, t_at, exp in rows:
        if kind == "c":
            counters[Scope(a, b, day)] = int(n)
        elif kind == "w":
            recent.companies[int(n)].append((t_at, day, None if a == "sent" else exp))
        elif kind == "s":
            recent.senders[b].append((t_at, day, None if a == "sent" else exp))
        else:
            recent.leads[int(n)].append((t_at, day, None if a == "sent" else exp))
    return counters, recent


class _CountersMoved(Exception):
    """A counter passed its cap between the unlocked read and the raise, or a sender's week
    changed before its lock at the write: decide again under lock."""


class IdempotencyKeyReused(Conflict):
    """An idempotency key already stored for a different check (another lead, campaign or channel,
    or a dry run replayed as a reserving check)."""


@dataclass
class _Item:
    req: CheckRequest
    at: datetime
    snap: Snapshot
    policy: GatePolicy | None = None
    place: Placement | None = None
    reasons: list[Reason] = field(default_factory=list)
    scopes: list[tuple[Scope, int]] = field(default_factory=list)  # (scope, cap)
    sender_week: tuple[str, int] | None = None  # (channel:sender, its weekly cap) when it has one
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
        time_zone_source=row[34],
        sender_key=req.sender_key,
        sender_paused=bool(row[35]),
        sender_pause_until=row[36],
        sender_pause_reason=row[37],
        blocked_domain=row[38],
        blocked_by_agency=bool(row[39]),
        country_code=row[40] or row[49],
        country_by_number=row[40] is None and row[49] is not None,
        consents=tuple(zip(row[41], row[42], row[43], strict=True)) if row[41] is not None else (),
        country_zones=tuple(row[44] or ()),
        number_zones=tuple(row[45] or ()),
        dead_domain_until=row[46],
        dead_domain_since=row[47],
        dead_domain_status=row[48],
    )


class Batch:
    def __init__(self, session: Session | None, reqs: list[CheckRequest]) -> None:
        self.session = session
        self.now = datetime.now(UTC)
        self.reqs = reqs
        self.plan_cache_mode: str | None = None  # the settings to put back
        self.enable_seqscan = "on"
        self.jit = "on"
        self.optimistic = True  # counters read unlocked, raised conditionally at the end
        self.leads_locked = False  # by the snapshot statement (batches with idempotency keys)
        self.read_counts: dict[Scope, int] = {}  # what the unlocked read saw (optimistic)
        self.cap_min: dict[Scope, int] = {}
        self.week_params: dict[str, Any] = {}  # the touches read's window and instant (step 3)

    def run(self) -> list[GateDecision]:
        assert self.session is not None
        self.session.flush()  # the checks below are SQL: they must see the caller's pending rows
        try:
            try:
                return self._run()
            except _CountersMoved:
                self.optimistic = False
                return self._run()
        except LeadpoolError:
            # refused mid-batch (a reused idempotency key, the wrong isolation level) with the
            # caller's transaction still usable: its plan settings go back, as after a batch
            conn = self.session.connection()
            dbapi = conn.connection.dbapi_connection
            usable = dbapi is not None and dbapi.info.transaction_status == TransactionStatus.INTRANS
            if self.plan_cache_mode is not None and usable:
                run_statements(conn, [(GENERIC_OFF_SQL, self._settings_back())])
            raise

    def _settings_back(self) -> dict[str, Any]:
        """GENERIC_OFF_SQL's parameters: the caller's plan settings, as the first pass found them."""
        return {"prev": self.plan_cache_mode, "prev_seq": self.enable_seqscan, "prev_jit": self.jit}

    def _run(self) -> list[GateDecision]:
        assert self.session is not None
        conn = self.session.connection()
        items = self._read(conn)
        self._replay_idempotent(conn, items)
        for it in items:
            if it.decision is None:
                self._static(it)
        locked, counts, recent = self._locks_and_counts(conn, items)
        self._decide(items, counts, recent)
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
        (it,) = self._items(fetch_rows(dbapi, SNAPSHOT_SQL, self._snapshot_params(set())))
        if it.decision is not None:  # the settings do not resolve: the full check words it
            return None
        self._static(it)
        if not it.snap.lead_exists or not it.scopes:  # nothing to count: the full check words it
            return None
        params = _touches_params([it], it.at)
        params["c"] = scopes_json(sorted({sc for sc, _ in it.scopes}))
        counts, recent = _collect(fetch_rows(dbapi, DENY_READ_SQL, params))
        # A counter never under-counts, but one at its cap may over-count (a reservation that
        # expired unconfirmed is still in n), so those scopes are counted exactly, as the full
        # check counts them: a sender or agency spent for the day is a certain deny, asked again
        # and again; a slot freed meanwhile makes the answer an allow, which the full check gives
        # (writing the true count back under the row's lock).
        at_cap = [sc for sc, cap in it.scopes if counts.get(sc, 0) >= cap]
        if at_cap:
            counts.update(caps.exact_counts(dbapi, at_cap, it.at))
        self._decide([it], counts, recent)
        d = it.decision
        if d is None or d.allowed:  # an allow takes the locks: full check
            return None
        (row,) = fetch_rows(
            dbapi,
            DENY_WRITE_SQL,
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
        mode = "force_generic_plan" if len(self.reqs) <= GENERIC_BATCH else "force_custom_plan"
        before, rows = run_statements(conn, [(PLAN_MODE_SQL, {"mode": mode}), (SNAPSHOT_SQL, params)])
        if self.plan_cache_mode is None:  # a second pass finds the first pass's settings
            self.plan_cache_mode, self.enable_seqscan = str(before[0][0]), str(before[0][1])
            self.jit = str(before[0][3])
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
            "keys": int_array(sorted(keys)),
            "leads": int_array([r.lead_id for r in self.reqs]),
            "campaigns": int_array([r.campaign_id for r in self.reqs]),
            "senders": [r.sender_key for r in self.reqs],
            "channels": [r.channel for r in self.reqs],
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
                "d.allowed, d.reasons, d.touch_id, t.state, t.expires_at FROM decisions d "
                "JOIN unnest(CAST(:a AS bigint[]), CAST(:k AS text[])) AS v(a, k) "
                "ON d.agency_id = v.a AND d.idempotency_key = v.k "
                "LEFT JOIN touches t ON t.id = d.touch_id"
            ),
            {"a": [it.snap.agency_id for it in keyed], "k": [it.req.idempotency_key for it in keyed]},
        ).all()
        stored = {(r[0], r[1]): r for r in rows}
        for it in keyed:
            r = stored.get((it.snap.agency_id, it.req.idempotency_key))
            if r is None:
                continue
            # the caller's mistake, not the gate's failure: raised (409), so that a retry policy does
            # not take it for an outage, and the whole batch is refused with nothing written
            if (r[3], r[4], r[5]) != (it.req.lead_id, it.req.campaign_id, it.req.channel):
                raise IdempotencyKeyReused(
                    f"idempotency key {it.req.idempotency_key!r} was already used for another check "
                    f"(lead {r[3]}, campaign {r[4]}, {r[5]}); use a new key"
                )
            if r[6] and r[8] is None and it.req.reserve:
                # the key's allow reserved nothing (a dry run): replaying it would send uncounted
                raise IdempotencyKeyReused(
                    f"idempotency key {it.req.idempotency_key!r} was already used for a check without "
                    "a reservation; use a new key for the reserving one"
                )
            if r[8] is not None and (
                r[9] in ("cancelled", "expired") or (r[9] == "reserved" and r[10] <= it.at)
            ):
                # the key's touch no longer counts: replaying its allow would have the sender send
                # on it, a send its confirm refuses (409) and no cap counts, as for a dry run's key
                ended = "was cancelled" if r[9] == "cancelled" else f"expired at {r[10].isoformat()}"
                raise IdempotencyKeyReused(
                    f"idempotency key {it.req.idempotency_key!r} reserved touch {r[8]}, whose reservation "
                    f"{ended}; nothing may be sent on it: use a new key for a new check"
                )
            it.decision = GateDecision(
                "allow" if r[6] else "deny",
                [Reason.from_dict(x) for x in r[7]],
                r[8],
                r[2],
                replayed=True,
            )

    def _static(self, it: _Item) -> None:
        assert it.policy is not None
        it.place = placement(it.snap, it.at, it.req.channel)
        it.reasons = static_reasons(it.snap, it.req.channel, it.policy, it.at, it.place)
        it.candidate = it.req.reserve and not it.reasons
        s = it.snap
        if s.lead_exists and s.company_id is not None:
            it.scopes.append(
                (caps.company_scope(s.company_id, it.place.local_date), it.policy.company_daily_cap)
            )
        if it.req.sender is not None:
            weekly = it.policy.sender_weekly_cap(it.req.channel)
            if weekly is not None:
                assert it.req.sender_key is not None
                it.sender_week = (it.req.sender_key, weekly)
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
    ) -> tuple[dict[Scope, int], dict[Scope, int], _Recent]:
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
        # then, on the locking path, the senders' rolling weeks (lock + count too), a group of their
        # own after the companies (their keys are hashes, which would sort anywhere), as
        # gate_fast_check takes them. The optimistic path counts them unlocked and takes their
        # locks at the write, to check the counts then (held from there to the commit, like the
        # counter rows, not for the whole batch: batches sharing a LinkedIn seat queued behind
        # each other: check_many lost about a fifth of its rate in the benchmark)
        if not self.optimistic:
            lock_keys += _sender_lock_keys(it for it in live if it.candidate)
        statements: list[tuple[str, dict[str, Any]]] = []
        if lock_keys:
            statements.append((LOCK_SQL, {"keys": int_array(lock_keys)}))
        rows: list[Any] = []
        if leads:
            self.week_params = _touches_params(leads, at_min)
            statements.append((TOUCHES_SQL, self.week_params))
        # as JSON: psycopg's text-array adaptation was the largest Python cost left in a batch
        scope_params = {"c": scopes_json(cand_scopes)}
        if cand_scopes:
            statements.append((COUNTER_READ_SQL if self.optimistic else COUNTER_LOCK_SQL, scope_params))
        if statements:
            # separate statements, in order: the touches read's snapshot is taken when it starts,
            # after the lock wait
            results = run_statements(conn, statements)
            for result in results[1 if lock_keys else 0 :]:  # not the lock statement's count
                rows.extend(result)
        locked, recent = _collect(rows)
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
                for _, a, b, day, n, _, _ in fetch_rows(conn, COUNTER_LOCK_SQL, scope_params):
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
        return locked, base, recent

    # 5. decide in order
    def _decide(
        self,
        items: list[_Item],
        counts: dict[Scope, int],
        recent: _Recent,
    ) -> None:
        now = datetime.now(UTC)
        touches, company_touches = recent.leads, recent.companies
        for it in items:
            if it.decision is not None:
                continue
            assert it.policy is not None and it.place is not None
            p, at, place = it.policy, it.at, it.place
            live_at = min(at, now)  # as TOUCHES_SQL: a reservation live now counts for a later check
            reasons = list(it.reasons)
            if it.snap.lead_exists:
                lt = [(t, d) for t, d, exp in touches.get(it.req.lead_id, []) if exp is None or exp > live_at]
                per_day = Counter(d for _, d in lt)
                day = per_day[place.local_date]
                if day >= p.lead_daily_cap:
                    reasons.append(
                        Reason(
                            "lead_daily_cap",
                            f"Lead {it.req.lead_id} already has {day} touch(es) on {place.local_date} "
                            f"({_zone_name(place)}); the limit is {p.lead_daily_cap} per day.",
                            _next_free_day(at, place, per_day, p.lead_daily_cap),
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
            if it.sender_week is not None:
                reasons.extend(_sender_week_reason(it, recent, live_at))
            if reasons:
                window = p.window_for(it.req.channel)
                it.decision = GateDecision(
                    "deny", sort_reasons([_when_open(r, window, place) for r in reasons])
                )
                continue
            it.decision = GateDecision("allow", [])
            if it.req.reserve:
                it.reserve_touch = True
                touches.setdefault(it.req.lead_id, []).append((at, place.local_date, at + _ttl(p)))
                if cid is not None:
                    company_touches.setdefault(cid, []).append((at, place.local_date, at + _ttl(p)))
                # whatever this item's own weekly cap (null: none), its touch is in the sender's
                # week for a later item of a campaign that has one, as it is one check after another
                if it.req.sender_key is not None:
                    recent.senders[it.req.sender_key].append((at, place.local_date, at + _ttl(p)))
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
            "exp_leads": int_array(exp_leads),
            "exp_at": min((it.at for it in items), default=self.now),
            "c": json.dumps(counters),
            "t": json.dumps(t_rows),
            "d": json.dumps(d_rows),
        }
        raises = self._raises(counts) if self.optimistic else []
        # On the optimistic path the senders' weeks were counted unlocked: every sender this batch
        # reserves for is locked now, after the write (whose touches then count themselves) and
        # before the counter rows, and each capped one counted again within its cap
        senders = [it for _, it in t_items if it.req.sender_key is not None] if self.optimistic else []
        capped: dict[str, int] = {}
        for it in senders:
            if it.sender_week is not None:
                key, cap = it.sender_week
                capped[key] = min(cap, capped.get(key, cap))
        statements: list[tuple[str, dict[str, Any]]] = []
        if raises or capped:
            statements.append((SAVEPOINT, {}))
        at_write = len(statements)
        statements.append((WRITE_SQL, params))
        if senders:
            statements.append((LOCK_SQL, {"keys": int_array(_sender_lock_keys(senders))}))
        at_week = len(statements)
        if capped:
            statements.append((SENDER_WEEK_SQL, {**self.week_params, "skeys": json.dumps(sorted(capped))}))
        at_raise = len(statements)
        if raises:
            caps_by_key = {f"{sc.scope}|{sc.key}|{sc.day.isoformat()}": self.cap_min[sc] for sc, _ in raises}
            raise_rows = [
                {"o": i, "s": sc.scope, "k": sc.key, "d": sc.day.isoformat(), "n": n}
                for i, (sc, n) in enumerate(raises)
            ]
            statements.append(
                (COUNTER_RAISE_SQL, {"c": json.dumps(raise_rows), "caps": json.dumps(caps_by_key)})
            )
        if self.plan_cache_mode is not None:
            statements.append((GENERIC_OFF_SQL, self._settings_back()))
        results = run_statements(conn, statements)
        moved = bool(raises) and len(results[at_raise]) != len(raises)
        if capped and not moved:
            # as the counter raise: kept while within the cap, the batch's own touches included
            # (counted over the widest window, from the earliest check: every item's lies inside
            # it); its denials stand
            moved = any(int(n) > capped[key] for key, n in results[at_week])
        if moved:
            with raw_connection(conn) as dbapi:
                dbapi.execute(ROLLBACK_TO)
            raise _CountersMoved()
        rows = results[at_write]
        for ord_, decision_id, touch_id in rows:
            decision = items[ord_].decision
            assert decision is not None
            decision.decision_id = int(decision_id)
            decision.touch_id = int(touch_id) if touch_id is not None else None


def _sender_lock_keys(items: Any) -> list[int]:
    """The advisory-lock keys of these items' senders, sorted. Every reserving check naming a
    sender takes its sender's lock, whether its own campaign caps the sender's week or not: a
    capped check must wait for (and count) an uncapped one's touch of the same sender."""
    return sorted(
        {caps.lock_key("sender_week", it.req.sender_key) for it in items if it.req.sender_key is not None}
    )


def _sender_week_reason(it: _Item, recent: _Recent, live_at: datetime) -> list[Reason]:
    """``sender_weekly_cap`` when the sender's live touches of the rolling 7 days reach its cap."""
    assert it.sender_week is not None
    key, cap = it.sender_week
    week = [
        t
        for t, _, exp in recent.senders.get(key, [])
        if (exp is None or exp > live_at) and t > it.at - caps.WEEK
    ]
    if len(week) < cap:
        return []
    channel, sender = key.split(":", 1)
    return [
        Reason(
            "sender_weekly_cap",
            f"Sender {sender} has {len(week)} {channel} touch(es) in the last 7 days (all agencies); "
            f"the limit is {cap}.",
            caps.weekly_retry_after(week, cap),
        )
    ]


def _next_free_day(at: datetime, place: Placement, per_day: Counter[date], cap: int) -> datetime | None:
    """The start of the first local day after ``at``'s with room for one more touch of the lead:
    a touch scheduled ahead (``at`` tomorrow) may have spent the next day already."""
    if cap <= 0:
        return None
    start = windows.next_local_midnight(at, place.zone)
    while per_day[windows.local_date(start, place.zone)] >= cap:  # the lead's touches are few
        start = windows.next_local_midnight(start, place.zone)
    return start


def _when_open(reason: Reason, window: windows.SendWindow | None, place: Placement) -> Reason:
    """The reason with its retry_after moved to when the channel's window is open: a worker sleeps
    until it, and a cap that resets at local midnight, or a cooling that ends on a Saturday,
    would only be denied again as quiet hours."""
    if reason.retry_after is None or reason.code == "quiet_hours":
        return reason
    opens = windows.next_open_on_all(window, reason.retry_after, place.clocks)
    return reason if opens == reason.retry_after else replace(reason, retry_after=opens)


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
