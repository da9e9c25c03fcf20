"""gate fast path: gate_fast_check(), a clean allow with its reservation decided in one call

A single check used to take four round trips and most of its time in Python; this function
answers the common case (everything passes) in one statement on the server: it takes the same
locks in the same order as the full check (lead and idempotency keys sorted, then the company,
then the counter rows sorted), applies every rule, and when everything passes records the
reservation and the decision. When anything does not pass it writes nothing and returns NULLs,
and the caller runs the full check in the same transaction, which finds every reason, words it
and counts exactly. So the fast path can only ever say allow when the full check would too; the
model and concurrency tests exercise both.

The policy values come from the caller (resolved and validated in Python, cached per campaign)
with a stamp of the agency and campaign settings they were resolved from: a stale stamp falls
back to the full check, which resolves the policy again.

Revision ID: 0009_gate_fast_path
Revises: 0008_reenrich
"""

from __future__ import annotations

import zoneinfo

import sqlalchemy as sa
from alembic import op

revision = "0009_gate_fast_path"
down_revision = "0008_reenrich"
branch_labels = None
depends_on = None

# 1 << 56 and 2 << 56: the advisory-lock key of a lead and of a company (leadpool.gate.caps.lock_key)
_FUNCTION = r"""
CREATE OR REPLACE FUNCTION gate_fast_check(
    p_lead bigint, p_campaign bigint, p_channel text, p_sender text, p_at timestamptz,
    p_idem text, p_keys bigint[], p_stamp text,
    p_lead_day int, p_lead_week int, p_company_day int, p_company_week int,
    p_sender_cap int, p_agency_cap int, p_statuses text[],
    p_win_start time, p_win_end time, p_win_days int[], p_tz_required boolean, p_ttl_seconds int,
    OUT touch_id bigint, OUT decision_id bigint)
LANGUAGE plpgsql VOLATILE
-- each statement below is a handful of primary-key or (id, at) index lookups: a custom plan per
-- call would cost more than running it
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_day date := (p_at AT TIME ZONE 'UTC')::date;
    v_agency bigint;
    v_company bigint;
    v_local timestamp;
    v_stale bigint;
    v_done text[];
BEGIN
    IF p_lead_day < 1 OR p_lead_week < 1 OR p_company_day < 1 OR p_company_week < 1
       OR p_agency_cap < 1 OR (p_sender IS NOT NULL AND p_sender_cap < 1) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(k) FROM unnest(p_keys) AS k;
    IF p_idem IS NOT NULL THEN
        PERFORM 1 FROM decisions d JOIN campaigns c ON c.id = p_campaign
        WHERE d.agency_id = c.agency_id AND d.idempotency_key = p_idem;
        IF FOUND THEN RETURN; END IF;  -- a replay: the full check returns the stored decision
    END IF;
    -- Every rule but the company's and the counters' caps, in one statement after the lead's lock
    -- (a later statement, so its snapshot sees every touch committed by whoever held it). The
    -- company's lock is taken here too; its touches are counted in the next statement.
    SELECT c.agency_id, l.company_id, lt.local, lt.n_stale,
           pg_advisory_xact_lock((2::bigint << 56) + l.company_id)
      INTO v_agency, v_company, v_local, v_stale
      FROM leads l
      JOIN ownerships o ON o.lead_id = l.id
      JOIN campaigns c ON c.id = p_campaign AND c.agency_id = o.agency_id
      JOIN agencies a ON a.id = c.agency_id
      LEFT JOIN gate_time_zones z ON z.name = l.time_zone
      CROSS JOIN LATERAL (
          SELECT x.local,
                 count(*) FILTER (WHERE t.local_date = x.local::date AND t.live) AS n_day,
                 count(*) FILTER (WHERE t.at > p_at - interval '7 days' AND t.live) AS n_week,
                 count(*) FILTER (WHERE t.state = 'reserved' AND t.expires_at <= least(p_at, now()))
                     AS n_stale
            FROM (SELECT p_at AT TIME ZONE coalesce(z.name, 'UTC') AS local) x
            LEFT JOIN LATERAL (
                SELECT t.local_date, t.at, t.state, t.expires_at,
                       t.state = 'sent' OR (t.state = 'reserved' AND t.expires_at > p_at) AS live
                  FROM touches t WHERE t.lead_id = p_lead AND t.at > p_at - interval '8 days') t ON true
           GROUP BY x.local) lt
     WHERE l.id = p_lead
       AND a.status = 'active' AND c.status = 'active' AND p_channel = ANY (c.channels)
       AND md5(coalesce(CAST(a.settings AS text), '') || '|' || coalesce(CAST(c.settings AS text), ''))
           = p_stamp
       AND o.converted_at IS NULL AND l.converted_at IS NULL
       AND l.replied_at IS NULL AND l.wrong_person_at IS NULL AND l.unsubscribed_at IS NULL
       AND l.complained_at IS NULL AND l.blocklisted_at IS NULL AND l.erased_at IS NULL
       AND (l.cooling_until IS NULL OR l.cooling_until <= p_at)
       AND (l.paused_until IS NULL OR l.paused_until <= p_at)
       AND (l.rest_until IS NULL OR l.rest_until <= p_at)
       AND CASE p_channel
           WHEN 'email' THEN l.email IS NOT NULL AND l.email_bounced_at IS NULL
                             AND lower(coalesce(l.email_status, '')) = ANY (p_statuses)
           WHEN 'linkedin' THEN l.linkedin_url IS NOT NULL
           ELSE l.phone IS NOT NULL END
       -- a zone the list does not hold goes to the full check; no zone at all is read as UTC
       AND (z.name IS NOT NULL OR (l.time_zone IS NULL AND NOT p_tz_required))
       AND (p_win_start IS NULL OR (extract(isodow FROM lt.local)::int - 1 = ANY (p_win_days)
                                    AND lt.local::time >= p_win_start AND lt.local::time < p_win_end))
       AND lt.n_day < p_lead_day AND lt.n_week < p_lead_week
       AND coalesce(l.company_id, 0) < (1::bigint << 56)  -- else its lock key would differ
       AND EXISTS (SELECT 1 FROM enrollments e WHERE e.lead_id = l.id AND e.campaign_id = p_campaign
                   AND e.status = 'active')
       AND NOT EXISTS (SELECT 1 FROM company_pauses cp WHERE cp.company_id = l.company_id
                       AND cp.lead_id IS DISTINCT FROM l.id AND cp.until > p_at);
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- The company's rolling week (after its lock), then the counter rows, sorted (agency <
    -- company < sender), each raised only while under its cap. A counter never under-counts, so
    -- one at its cap goes to the full check's exact recount.
    WITH week AS (
        SELECT count(*) AS n FROM touches t
         WHERE v_company IS NOT NULL AND t.company_id = v_company AND t.at > p_at - interval '7 days'
           AND (t.state = 'sent' OR (t.state = 'reserved' AND t.expires_at > p_at))
    ), v(s, k, d, ord) AS (
        VALUES ('agency', v_agency || ':' || p_channel, v_day, 1),
               ('company', CAST(v_company AS text), v_local::date, 2),
               ('sender', p_channel || ':' || p_sender, v_day, 3)
    ), up AS (
        INSERT INTO gate_counters AS g (scope, key, day, n)
        SELECT v.s, v.k, v.d, 1 FROM v
         WHERE v.k IS NOT NULL AND (SELECT week.n FROM week) < p_company_week
         ORDER BY v.ord
        ON CONFLICT (scope, key, day) DO UPDATE SET n = g.n + 1
        WHERE g.n + 1 <= CASE g.scope WHEN 'agency' THEN p_agency_cap
                                      WHEN 'company' THEN p_company_day ELSE p_sender_cap END
        RETURNING g.scope
    )
    SELECT array_agg(up.scope) INTO v_done FROM up;
    IF coalesce(cardinality(v_done), 0) < 1 + (v_company IS NOT NULL)::int + (p_sender IS NOT NULL)::int THEN
        IF v_done IS NOT NULL THEN  -- give back what was raised: this check is not an allow here
            UPDATE gate_counters g SET n = g.n - 1
             WHERE g.scope = ANY (v_done)
               AND (g.scope, g.key, g.day) IN (('agency', v_agency || ':' || p_channel, v_day),
                                               ('company', CAST(v_company AS text), v_local::date),
                                               ('sender', p_channel || ':' || p_sender, v_day));
        END IF;
        RETURN;
    END IF;

    WITH t AS (
        INSERT INTO touches (lead_id, company_id, agency_id, campaign_id, channel, sender, state, at,
                             local_date, expires_at, idempotency_key)
        VALUES (p_lead, v_company, v_agency, p_campaign, p_channel, p_sender, 'reserved', p_at,
                v_local::date, p_at + p_ttl_seconds * interval '1 second', p_idem)
        RETURNING id
    )
    INSERT INTO decisions (at, lead_id, campaign_id, agency_id, channel, sender, allowed, reasons,
                           touch_id, idempotency_key)
    SELECT p_at, p_lead, p_campaign, v_agency, p_channel, p_sender, true, '[]'::jsonb, t.id, p_idem
      FROM t
    RETURNING decisions.touch_id, decisions.id INTO touch_id, decision_id;
    IF v_stale > 0 THEN
        UPDATE touches SET state = 'expired', ended_at = expires_at WHERE id IN (
            SELECT t.id FROM touches t WHERE t.lead_id = p_lead AND t.state = 'reserved'
               AND t.expires_at <= least(p_at, now()) FOR UPDATE SKIP LOCKED);
    END IF;
END
$fn$
"""


def _zones() -> list[str]:
    # the zones Python's zoneinfo knows (the full check's view). A lead whose zone is not listed
    # goes to the full check, so a missing row costs speed, never a wrong answer.
    return sorted(zoneinfo.available_timezones())


def upgrade() -> None:
    op.create_table("gate_time_zones", sa.Column("name", sa.Text(), primary_key=True))
    # only names PostgreSQL knows too, so AT TIME ZONE never fails on a name found here
    op.execute(
        sa.text(
            "INSERT INTO gate_time_zones (name) SELECT z FROM unnest(CAST(:zones AS text[])) AS z "
            "WHERE z IN (SELECT name FROM pg_timezone_names)"
        ).bindparams(zones=_zones())
    )
    op.execute(_FUNCTION)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS gate_fast_check(bigint, bigint, text, text, timestamptz, text, bigint[], "
        "text, int, int, int, int, int, int, text[], time, time, int[], boolean, int)"
    )
    op.drop_table("gate_time_zones")
