"""The gate's hot statements and how they run: on the session's own psycopg connection.

Every statement a check or a batch sends is here, with why it has its shape; ``batch.py`` says
in which order they run. They bind ``:name`` parameters, turned into psycopg's once at import.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import Connection as PgConnection
from psycopg import pq
from sqlalchemy.engine import Connection

from leadpool.gate import caps
from leadpool.gate.caps import Scope

_sql = caps.dbapi_sql  # ``:name`` binds to psycopg's, once at import for the constants


_TUPLES_OK = pq.ExecStatus.TUPLES_OK


# A SQLAlchemy connection (the session's, same transaction) or a sending worker's own psycopg one
Conn = Connection | PgConnection[Any]


def fetch_rows(conn: Conn, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run one of the hot statements on the session's own DBAPI connection (same transaction)."""
    return run_statements(conn, [(sql, params)])[0]


def run_statements(conn: Conn, statements: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
    """Run statements in order on the session's own DBAPI connection (same transaction); their rows.

    Skips SQLAlchemy's per-execution statement and result set-up (measured at about a tenth of
    a single check's Python time); psycopg still prepares each statement server-side after its
    fifth use. One round trip each: psycopg's pipeline mode saved the round trips but cost more
    client CPU than they did on a local server (measured: a batch of 500 took 72 ms of Python in
    a pipeline, 51 ms without). Errors are psycopg's own; ``check_many`` fails closed on any
    exception.
    """
    out = []
    with raw_connection(conn) as dbapi:
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
def raw_connection(conn: Conn) -> Iterator[Any]:
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
GENERIC_BATCH = 20
# Sequential scans are off while the gate plans: every gate statement is index lookups by
# design, and a plan made while a table was nearly empty (a fresh installation; gate_counters
# every new day) would otherwise scan it whole for each lookup, generic plans keeping that choice
# as the table grows (measured: 9.7 ms per counter lookup at 200,000 rows, against microseconds).
# And JIT compilation is off: a batch of several hundred lookups passes jit_above_cost, and
# compiling costs more than running them (measured: 26-48 ms of a 1000-item snapshot's 71).
PLAN_MODE_SQL = (
    "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan'), "
    "current_setting('transaction_isolation'), current_setting('jit'), "
    "set_config('plan_cache_mode', %(mode)s, true), set_config('enable_seqscan', 'off', true), "
    "set_config('jit', 'off', true)"
)
GENERIC_OFF_SQL = (
    "SELECT set_config('plan_cache_mode', %(prev)s, true), set_config('enable_seqscan', %(prev_seq)s, true), "
    "set_config('jit', %(prev_jit)s, true)"
)


# a lead's (alias ``l``) country code as the gate reads it: its own (country_names, migration
# 0035), else, where that is unknown, its number's (the longest prefix's, phone_prefix_regions, 0040)
OWN_COUNTRY_SQL = "(SELECT cn.code FROM country_names cn WHERE cn.name = leadpool_country_key(l.country))"
NUMBER_COUNTRY_SQL = (
    "(SELECT pr.code FROM phone_prefix_regions pr WHERE pr.prefix = ANY (leadpool_phone_prefixes(l.phone)) "
    "ORDER BY length(pr.prefix) DESC LIMIT 1)"
)
COUNTRY_CODE_SQL = f"coalesce({OWN_COUNTRY_SQL}, {NUMBER_COUNTRY_SQL})"
# the clocks a lead's send windows are read on besides its own zone: every clock of its country,
# one zone each, most populous first (country_clocks, migration 0036); the clocks of the longest
# prefix of its number (phone_prefix_clocks, 0037). The simulation's invariants read the same.
COUNTRY_CLOCKS_SQL = (
    f"(SELECT array_agg(cc.zone ORDER BY cc.rank) FROM country_clocks cc WHERE cc.code = {COUNTRY_CODE_SQL})"
)
NUMBER_CLOCKS_SQL = (
    "(SELECT pc.zones FROM phone_prefix_clocks pc WHERE pc.prefix = ANY (leadpool_phone_prefixes(l.phone)) "
    "ORDER BY length(pc.prefix) DESC LIMIT 1)"
)

SNAPSHOT_SQL = _sql(
    "SELECT (SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k) AS locked, "
    "r.ord, l.id IS NOT NULL, l.email, l.email_status, l.phone, l.linkedin_url, l.time_zone, l.company_id, "
    "l.replied_at, l.converted_at, l.unsubscribed_at, l.complained_at, l.wrong_person_at, "
    "l.email_bounced_at, l.blocklisted_at, l.erased_at, l.cooling_until, l.paused_until, "
    "c.id IS NOT NULL, c.agency_id, c.status, c.channels, c.paused_reason, CAST(c.settings AS text), "
    "a.status, CAST(a.settings AS text), o.agency_id, o.converted_at, "
    "EXISTS (SELECT 1 FROM enrollments e WHERE e.lead_id = r.lead_id AND e.campaign_id = r.campaign_id "
    "AND e.status = 'active'), "
    "l.rest_until, cp.until, cp.kind, cp.cause_event_id, l.time_zone_source, "
    "sp.sender IS NOT NULL, sp.until, sp.reason, db.domain, db.agency_id IS NOT NULL, "
    f"{OWN_COUNTRY_SQL}, "
    "k.channels, k.starts, k.ends, "
    # a lead without a zone: its country's clocks, on all of which a send window must be open
    f"CASE WHEN l.time_zone IS NULL THEN {COUNTRY_CLOCKS_SQL} END, "
    # a text or call: the clocks of the number's longest prefix, where the window must be open too
    f"CASE WHEN r.channel IN ('sms', 'phone') THEN {NUMBER_CLOCKS_SQL} END, "
    "dd.until, dd.since, dd.smtp_status, "
    # where the lead's own country is unknown: its number's, which the consent rule reads instead
    f"CASE WHEN {OWN_COUNTRY_SQL} IS NULL THEN {NUMBER_COUNTRY_SQL} END "
    "FROM unnest(CAST(:leads AS bigint[]), CAST(:campaigns AS bigint[]), CAST(:senders AS text[]), "
    "CAST(:channels AS text[])) WITH ORDINALITY AS r(lead_id, campaign_id, sender, channel, ord) "
    "LEFT JOIN leads l ON l.id = r.lead_id "
    "LEFT JOIN campaigns c ON c.id = r.campaign_id "
    "LEFT JOIN agencies a ON a.id = c.agency_id "
    "LEFT JOIN ownerships o ON o.lead_id = r.lead_id "
    # the longest pause of the lead's company (at check time) that this lead did not cause
    "LEFT JOIN LATERAL (SELECT p.until, p.kind, p.cause_event_id FROM company_pauses p "
    " WHERE p.company_id = l.company_id AND p.lead_id IS DISTINCT FROM l.id "
    " ORDER BY p.until DESC, p.id LIMIT 1) cp ON true "
    # the sender's pause (r.sender is channel:sender, null without one), or its sending domain's
    # (domain:DOMAIN, the sending-domain guard's): the one lasting longest
    "LEFT JOIN LATERAL (SELECT p.sender, p.until, p.reason FROM sender_pauses p "
    " WHERE p.sender IN (r.sender, CASE WHEN r.channel = 'email' "
    "  THEN 'domain:' || leadpool_sender_domain(r.sender) END) "
    " ORDER BY p.until IS NOT NULL, p.until DESC LIMIT 1) sp ON true "
    # an email to a domain a bounce said accepts no mail (dead_domains; the rule reads until)
    "LEFT JOIN dead_domains dd ON r.channel = 'email' AND dd.domain = split_part(l.email, '@', 2) "
    # a block of the lead's email domain (or a parent) or company domain: the platform's first
    "LEFT JOIN LATERAL (SELECT b.domain, b.agency_id FROM domain_blocks b "
    " WHERE (b.agency_id IS NULL OR b.agency_id = c.agency_id) "
    " AND b.domain = ANY (leadpool_domain_suffixes(split_part(l.email, '@', 2)) "
    "  || (SELECT co.domain FROM companies co WHERE co.id = l.company_id)) "
    " ORDER BY b.agency_id NULLS FIRST, b.domain LIMIT 1) db ON true "
    # the agency's unrevoked consents of the lead (the rule reads their channels and validity)
    "LEFT JOIN LATERAL (SELECT array_agg(k.channel ORDER BY k.id) AS channels, "
    " array_agg(k.granted_at ORDER BY k.id) AS starts, array_agg(k.expires_at ORDER BY k.id) AS ends "
    " FROM consents k WHERE k.lead_id = r.lead_id AND k.agency_id = c.agency_id "
    " AND k.revoked_at IS NULL) k ON true "
    "ORDER BY r.ord"
)

# The rows to write travel as three JSON documents (counters, touches, decisions) rather than one
# array per column: psycopg's array adaptation of some 30 lists was the largest Python cost of a
# check after the round trips, and json.dumps is one C call.
WRITE_SQL = _sql(
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


LOCK_SQL = _sql("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k")

# The locking path takes the counter rows last (after the touches read, which the lead and company
# advisory locks already protect), so a batch holds them, and so blocks other batches of the same
# agency, for as short a time as possible.
COUNTER_LOCK_SQL = _sql(
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
COUNTER_READ_SQL = _sql(
    "SELECT 'c', v.s, v.k, v.d, "
    f"CAST(coalesce({caps.COUNTER_N_SQL}, 0) AS bigint), CAST(NULL AS timestamptz), "
    "CAST(NULL AS timestamptz) "
    "FROM json_to_recordset(CAST(:c AS json)) AS v(o int, s text, k text, d date)"
)
COUNTER_RAISE_SQL = _sql(
    "INSERT INTO gate_counters AS g (scope, key, day, n) "
    "SELECT v.s, v.k, v.d, v.n FROM json_to_recordset(CAST(:c AS json)) AS v(o int, s text, k text, d date, n int) "
    "ORDER BY v.o "
    "ON CONFLICT (scope, key, day) DO UPDATE SET n = g.n + EXCLUDED.n "
    "WHERE g.n + EXCLUDED.n <= CAST(CAST(:caps AS jsonb) ->> (g.scope || '|' || g.key || '|' || to_char(g.day, 'YYYY-MM-DD')) AS int) "
    "RETURNING 1"
)
SAVEPOINT = "SAVEPOINT leadpool_gate_batch"
ROLLBACK_TO = "ROLLBACK TO SAVEPOINT leadpool_gate_batch"


def int_array(values: list[int]) -> str:
    """An int list as a PostgreSQL array literal (cast to bigint[] in SQL): psycopg's list adapter
    runs a regular expression per element, a measurable share of a 500-item batch."""
    return "{" + ",".join(map(str, values)) + "}"


def scopes_json(scopes: list[Scope]) -> str:
    """Scope rows for json_to_recordset, numbered in the given (lock) order."""
    return json.dumps(
        [{"o": i, "s": x.scope, "k": x.key, "d": x.day.isoformat()} for i, x in enumerate(scopes)]
    )


# A reservation live now counts even for a check dated later (a scheduled send): it may still be
# confirmed before it expires, and the lead's and company's caps must hold then too
LIVE_AT = "least(CAST(:at AS timestamptz), now())"
TOUCHES_SQL = _sql(
    "SELECT 't', t.state, NULL, t.local_date, t.lead_id, t.at, t.expires_at FROM touches t "
    "WHERE t.lead_id = ANY(CAST(:ids AS bigint[])) AND t.at > :since "
    f"AND {caps.LIVE_SQL.format(at=LIVE_AT)} "
    "UNION ALL "
    "SELECT 'w', t.state, NULL, t.local_date, t.company_id, t.at, t.expires_at FROM touches t "
    "WHERE t.company_id = ANY(CAST(:cids AS bigint[])) AND t.at > :since_w "
    f"AND {caps.LIVE_SQL.format(at=LIVE_AT)} "
    "UNION ALL "
    # the senders with a weekly cap, by key (channel:sender; a sender may hold a colon itself)
    "SELECT 's', t.state, v.k, t.local_date, NULL, t.at, t.expires_at "
    "FROM json_array_elements_text(CAST(:skeys AS json)) AS v(k) JOIN touches t "
    "ON t.sender = substr(v.k, strpos(v.k, ':') + 1) AND t.channel = split_part(v.k, ':', 1) "
    f"AND t.at > :since_w AND {caps.LIVE_SQL.format(at=LIVE_AT)}"
)

# A batch's senders with a weekly cap, counted again at its write under their locks (the window
# and instant of TOUCHES_SQL): with the batch's own reservations they must stay within the cap
# (batch._write)
SENDER_WEEK_SQL = _sql(
    "SELECT v.k, count(t.id) FROM json_array_elements_text(CAST(:skeys AS json)) AS v(k) "
    "LEFT JOIN touches t ON t.sender = substr(v.k, strpos(v.k, ':') + 1) "
    "AND t.channel = split_part(v.k, ':', 1) "
    f"AND t.at > :since_w AND {caps.LIVE_SQL.format(at=LIVE_AT)} GROUP BY v.k"
)

# The unlocked deny's reads in one statement (rows of one shape: _collect sorts them out) and its
# one write: a deny has no touch, counter or stale reservation to deal with.
DENY_READ_SQL = f"{TOUCHES_SQL} UNION ALL {COUNTER_READ_SQL}"
DENY_WRITE_SQL = _sql(
    "INSERT INTO decisions (at, lead_id, campaign_id, agency_id, channel, sender, allowed, reasons) "
    "VALUES (:at, :lead, :campaign, :agency, :channel, :sender, false, CAST(:reasons AS jsonb)) RETURNING id"
)
