"""Caps: the lock keys, counter rows and exact counts that keep every cap under concurrency.

Design (measured in benchmarks/gate.py, explained in docs/gate.md):

* Lead caps (1/local day, 3/rolling 7 days) need the timestamps of the lead's recent touches, so
  they are **lock + count**: a transaction-scoped advisory lock on the lead, then a count of its live
  touches (indexed by ``(lead_id, at)``) in a later statement, so the count's snapshot is taken after
  the lock and sees every touch committed by whoever held it before.
* Company, sender and agency caps are **counter rows** (``gate_counters``, one per scope and day).
  A reservation raises its rows with ``INSERT .. ON CONFLICT DO UPDATE`` only while under the cap
  (a batch reads them unlocked first and raises them last; the locking path takes them with
  ``SET n = n``, which locks the row even when nothing changes). ``n`` never under-counts: it is raised for every
  reservation and lowered only on cancel, and expired reservations stay in it. When ``n`` is near
  the cap the touches of that scope are recounted exactly while the row lock is held, and the true
  value is written back, so an expired or cancelled reservation gives its slot back exactly when
  it matters, and the 5,000-a-day agency count is not repeated on every check.
* A sender's weekly cap (an addition: a LinkedIn account's rolling 7 days) is lock + count too:
  an advisory lock on the sender (taken by every reserving check that names one, capped or not),
  then a count of its live touches (indexed by ``(sender, at)``).
* Deadlocks are avoided by a fixed order: advisory locks of idempotency keys and leads sorted
  together by their 64-bit key, then companies' sorted by key, then senders' sorted by key, then
  counter rows sorted by (scope, key, day), each group in one statement. A transaction never waits for a lock that comes before
  one it holds in that order.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from psycopg import Connection as PgConnection
from sqlalchemy import text
from sqlalchemy.engine import Connection

from leadpool.gate.request import sender_key

WEEK = timedelta(days=7)


@lru_cache(maxsize=64)
def dbapi_sql(sql: str) -> str:
    """``:name`` binds to psycopg's ``%(name)s`` (``::type`` casts untouched)."""
    assert "%" not in sql
    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql)


def _all(conn: Connection | PgConnection[Any], sql: str, params: dict[str, Any]) -> list[Any]:
    """The rows of one statement on a session's connection or on a sending worker's own one."""
    if isinstance(conn, Connection):
        return list(conn.execute(text(sql), params).all())
    return conn.execute(dbapi_sql(sql), params).fetchall()


# The n of the counter row of json_to_recordset row v, or NULL: one index lookup per row (a join
# with json_to_recordset's guessed 100 rows could hash the whole table; see statements.COUNTER_READ_SQL).
COUNTER_N_SQL = "(SELECT g.n FROM gate_counters g WHERE g.scope = v.s AND g.key = v.k AND g.day = v.d)"

# "Live" = counts against caps at instant :at. Used in every count so the rule lives in one place.
LIVE_SQL = "(t.state = 'sent' OR (t.state = 'reserved' AND t.expires_at > {at}))"


# Leads and companies get keys the database can compute too (gate_fast_check, migration 0009):
# the kind in the top byte, the id below it. Anything else is hashed.
_ID_KINDS = {"lead": 1, "company": 2}
_ID_LIMIT = 1 << 56


def lock_key(kind: str, value: object) -> int:
    """A signed 64-bit advisory-lock key; a collision only serialises two unrelated checks."""
    tag = _ID_KINDS.get(kind)
    if tag is not None and isinstance(value, int) and 0 <= value < _ID_LIMIT:
        return (tag << 56) + value
    digest = hashlib.blake2b(f"leadpool.gate:{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Scope(NamedTuple):
    """One counter row: company (key = company id, lead-local day) or sender/agency (UTC day).

    A named tuple: a batch hashes and sorts its scopes tens of thousands of times, and a tuple's
    hash and comparisons run in C (a dataclass's were a tenth of check_many's Python time).
    """

    scope: str
    key: str
    day: date


def company_scope(company_id: int, local_day: date) -> Scope:
    return Scope("company", str(company_id), local_day)


def sender_scope(channel: str, sender: str, at: datetime) -> Scope:
    return Scope("sender", sender_key(channel, sender), at.astimezone(UTC).date())


def agency_scope(agency_id: int, channel: str, at: datetime) -> Scope:
    return Scope("agency", f"{agency_id}:{channel}", at.astimezone(UTC).date())


def utc_midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def read_counters(conn: Connection, scopes: list[Scope]) -> dict[Scope, int]:
    """The ``n`` of counter rows without locking them (a missing row is 0)."""
    if not scopes:
        return {}
    uniq = sorted(set(scopes))
    rows = conn.execute(
        text(
            f"SELECT v.s, v.k, v.d, {COUNTER_N_SQL} "
            "FROM json_to_recordset(CAST(:c AS json)) AS v(s text, k text, d date)"
        ),
        # JSON, not three arrays: adapting thousands of strings to a text[] costs more in Python
        {"c": json.dumps([{"s": x.scope, "k": x.key, "d": x.day.isoformat()} for x in uniq])},
    ).all()
    found = {Scope(r[0], r[1], r[2]): int(r[3]) for r in rows if r[3] is not None}
    return {s: found.get(s, 0) for s in uniq}


def exact_counts(conn: Connection | PgConnection[Any], scopes: list[Scope], at: datetime) -> dict[Scope, int]:
    """Live touches per scope at ``at``, counted from the touches themselves.

    Never as of later than now: the count is written back to the counter rows, which must stay an
    upper bound for every later check, and a reservation live now may be confirmed after its
    ``at`` has passed (a check dated ahead would otherwise leave out touches live now)."""
    uniq = sorted(set(scopes))
    out = {s: 0 for s in uniq}
    live = LIVE_SQL.format(at="least(CAST(:at AS timestamptz), now())")
    comp = [s for s in uniq if s.scope == "company"]
    send = [s for s in uniq if s.scope == "sender"]
    agen = [s for s in uniq if s.scope == "agency"]
    if comp:
        # the (company_id, at) index narrows to a 3-day band around the lead-local day
        rows = _all(
            conn,
            "SELECT v.cid, v.d, count(t.id) FROM unnest(CAST(:cid AS bigint[]), CAST(:d AS date[])) "
            "AS v(cid, d) JOIN touches t ON t.company_id = v.cid AND t.local_date = v.d "
            "AND t.at >= (v.d - 1)::timestamp AT TIME ZONE 'UTC' "
            "AND t.at < (v.d + 2)::timestamp AT TIME ZONE 'UTC' "
            f"WHERE {live} GROUP BY v.cid, v.d",
            {"cid": [int(s.key) for s in comp], "d": [s.day for s in comp], "at": at},
        )
        for cid, d, n in rows:
            out[Scope("company", str(cid), d)] = int(n)
    if send:
        pairs = [s.key.split(":", 1) for s in send]
        rows = _all(
            conn,
            "SELECT v.ch, v.snd, v.d, count(t.id) FROM unnest(CAST(:ch AS text[]), "
            "CAST(:snd AS text[]), CAST(:d AS date[])) AS v(ch, snd, d) "
            "JOIN touches t ON t.sender = v.snd AND t.channel = v.ch "
            "AND t.at >= v.d::timestamp AT TIME ZONE 'UTC' "
            "AND t.at < (v.d + 1)::timestamp AT TIME ZONE 'UTC' "
            f"WHERE {live} GROUP BY v.ch, v.snd, v.d",
            {"ch": [p[0] for p in pairs], "snd": [p[1] for p in pairs], "d": [s.day for s in send], "at": at},
        )
        for ch, snd, d, n in rows:
            out[Scope("sender", sender_key(ch, snd), d)] = int(n)
    if agen:
        pairs = [s.key.split(":", 1) for s in agen]
        rows = _all(
            conn,
            "SELECT v.aid, v.ch, v.d, count(t.id) FROM unnest(CAST(:aid AS bigint[]), "
            "CAST(:ch AS text[]), CAST(:d AS date[])) AS v(aid, ch, d) "
            "JOIN touches t ON t.agency_id = v.aid AND t.channel = v.ch "
            "AND t.at >= v.d::timestamp AT TIME ZONE 'UTC' "
            "AND t.at < (v.d + 1)::timestamp AT TIME ZONE 'UTC' "
            f"WHERE {live} GROUP BY v.aid, v.ch, v.d",
            {
                "aid": [int(p[0]) for p in pairs],
                "ch": [p[1] for p in pairs],
                "d": [s.day for s in agen],
                "at": at,
            },
        )
        for aid, ch, d, n in rows:
            out[Scope("agency", f"{aid}:{ch}", d)] = int(n)
    return out


def weekly_retry_after(ats: list[datetime], cap: int) -> datetime | None:
    """When enough of the oldest touches leave the rolling 7 days for one more to fit."""
    if cap <= 0 or len(ats) < cap:
        return None
    ordered = sorted(ats)
    return ordered[len(ordered) - cap] + WEEK
