"""Outcome facts: one row per sent touch with its outcomes, kept up to date incrementally.

A refresh reads only touches and events with an id above the stored watermarks (plus a small
overlap window for rows committed out of id order), attributes each new event to a touch, inserts
facts for newly sent touches, and recomputes the outcome flags of just the touches that gained an
event or a fact. The touch watermark never passes a touch that is still ``reserved`` (it may be
sent later), so no sent touch is missed. History is never rescanned: a lead's segment fields are
snapshotted when its touch's fact is made.

A refresh works through the backlog in id ranges of at most ``CHUNK_IDS`` events, then touches,
one statement each, all in the caller's transaction: every event range links its events and
recomputes, in the same statement, the facts of the touches it linked; every touch range inserts
its facts with their outcomes already computed from the links. No id passes through Python, so
the first refresh of a large platform, a rebuild, or one after a long pause costs memory and
statement size of one range, however long the backlog.

Outcome definitions (per sent touch): ``replied`` is a human reply (any category except
out_of_office); ``positive`` a reply classified ``interested``; ``bounced`` a hard bounce;
``unsubscribed`` an unsubscribe event or a reply classified ``unsubscribe``; ``complained`` a spam
complaint; ``converted`` a conversion. An event without a touch id counts for the lead's latest
sent touch at or before it (same channel when the event names one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# Ids below the watermark re-read on every refresh: a row whose transaction committed after a
# refresh that already saw a higher id is still picked up (inserts are ON CONFLICT DO NOTHING).
OVERLAP_IDS = 1000
# Events or touches handled by one statement of a refresh.
CHUNK_IDS = 10_000

SIZE_BAND_SQL = """CASE
    WHEN c.estimated_num_employees IS NULL THEN 'unknown'
    WHEN c.estimated_num_employees <= 10 THEN '1-10'
    WHEN c.estimated_num_employees <= 50 THEN '11-50'
    WHEN c.estimated_num_employees <= 200 THEN '51-200'
    WHEN c.estimated_num_employees <= 1000 THEN '201-1000'
    ELSE '1000+' END"""
REVENUE_BAND_SQL = """CASE
    WHEN coalesce(c.annual_revenue, c.organization_revenue) IS NULL THEN 'unknown'
    WHEN coalesce(c.annual_revenue, c.organization_revenue) < 1000000 THEN '<1M'
    WHEN coalesce(c.annual_revenue, c.organization_revenue) < 10000000 THEN '1M-10M'
    WHEN coalesce(c.annual_revenue, c.organization_revenue) < 100000000 THEN '10M-100M'
    WHEN coalesce(c.annual_revenue, c.organization_revenue) < 1000000000 THEN '100M-1B'
    ELSE '1B+' END"""
DATA_AGE_BAND_SQL = """CASE
    WHEN l.enriched_at IS NULL THEN 'unknown'
    WHEN {sent} - l.enriched_at < interval '30 days' THEN '<30d'
    WHEN {sent} - l.enriched_at < interval '90 days' THEN '30-90d'
    WHEN {sent} - l.enriched_at < interval '180 days' THEN '90-180d'
    WHEN {sent} - l.enriched_at < interval '365 days' THEN '180-365d'
    ELSE '365d+' END"""

_SENT = "coalesce(t.sent_at, t.at)"
_LOCAL = (
    f"({_SENT} AT TIME ZONE (CASE WHEN l.time_zone IN (SELECT name FROM tz) THEN l.time_zone ELSE 'UTC' END))"
)

# A touch's outcome flags from its event links (``{links}``: a relation of (event_id, touch_id)).
_OUTCOMES = """
    SELECT k.touch_id,
        bool_or(e.type = 'hard_bounce') AS bounced,
        bool_or(e.type = 'reply' AND coalesce(e.category, 'other') <> 'out_of_office') AS replied,
        (array_agg(coalesce(e.category, 'other') ORDER BY e.occurred_at, e.id)
            FILTER (WHERE e.type = 'reply' AND coalesce(e.category, 'other') <> 'out_of_office'))[1]
            AS reply_category,
        bool_or(e.type = 'reply' AND e.category = 'interested') AS positive,
        bool_or(e.type = 'unsubscribe' OR (e.type = 'reply' AND e.category = 'unsubscribe'))
            AS unsubscribed,
        bool_or(e.type = 'complaint') AS complained,
        bool_or(e.type = 'converted') AS converted
    FROM {links} k JOIN events e ON e.id = k.event_id
    GROUP BY k.touch_id
"""

# The facts of the sent touches in (lo, hi], outcomes included (the links are all made first);
# returns (facts made, of which with an outcome from a link).
_INSERT_FACTS = f"""
WITH tz AS (SELECT name FROM pg_timezone_names),
made AS (
INSERT INTO insight_facts (
    touch_id, lead_id, agency_id, campaign_id, channel, sequence_position, sent_at,
    local_hour, local_weekday, industry, seniority, department, size_band, revenue_band, country,
    email_status, data_age_band,
    bounced, replied, reply_category, positive, unsubscribed, complained, converted)
SELECT t.id, t.lead_id, t.agency_id, t.campaign_id, t.channel, t.sequence_position, {_SENT},
    extract(hour FROM {_LOCAL})::smallint, extract(isodow FROM {_LOCAL})::smallint,
    lower(coalesce(c.industry, 'unknown')), coalesce(l.seniority, 'unknown'),
    coalesce(l.departments[1], 'unknown'), {SIZE_BAND_SQL}, {REVENUE_BAND_SQL},
    lower(coalesce(l.country, 'unknown')), coalesce(l.email_status, 'none'),
    {DATA_AGE_BAND_SQL.format(sent=_SENT)},
    coalesce(o.bounced, false), coalesce(o.replied, false), o.reply_category,
    coalesce(o.positive, false), coalesce(o.unsubscribed, false), coalesce(o.complained, false),
    coalesce(o.converted, false)
FROM touches t
JOIN leads l ON l.id = t.lead_id
LEFT JOIN companies c ON c.id = l.company_id
LEFT JOIN ({_OUTCOMES.format(links="(SELECT * FROM insight_event_links WHERE touch_id > :lo AND touch_id <= :hi)")}) o
    ON o.touch_id = t.id
-- an erased person is profiled no more (forget_lead removed their facts)
WHERE t.id > :lo AND t.id <= :hi AND t.state = 'sent' AND l.erased_at IS NULL
ON CONFLICT (touch_id) DO NOTHING
RETURNING touch_id
)
SELECT count(*), count(*) FILTER (WHERE EXISTS (
    SELECT 1 FROM insight_event_links k WHERE k.touch_id = made.touch_id))
FROM made
"""

# Links the events ``{events}`` selects and recomputes the facts of the touches that gained one;
# returns (links made, facts recomputed). The statement does not see its own new links, so the
# touches' outcomes are taken from their links before it plus the new ones.
_LINK_EVENTS = f"""
WITH linked AS (
INSERT INTO insight_event_links (event_id, touch_id, provisional)
SELECT x.id, x.touch_id, x.named IS NULL AND t.state <> 'sent' FROM (
    SELECT e.id, coalesce(e.touch_id, (
        SELECT t.id FROM touches t
        -- still reserved too: a bounce or reply may arrive before its send is confirmed (the
        -- link is provisional; the fact is built when the touch is sent)
        WHERE t.lead_id = e.lead_id AND t.state IN ('sent', 'reserved') AND t.at <= e.occurred_at
          -- a bounce or a complaint is an email's even when its report names no channel: the
          -- latest touch of any channel would take it off the bounce rate
          AND t.channel = coalesce(
              e.channel, CASE WHEN e.type IN ('hard_bounce', 'complaint') THEN 'email' END, t.channel)
          -- an event naming a campaign, or reported by an agency, answers that one's touches only
          AND (e.campaign_id IS NULL OR t.campaign_id = e.campaign_id)
          AND (e.reported_by_agency_id IS NULL OR t.agency_id = e.reported_by_agency_id)
        ORDER BY t.at DESC, t.id DESC LIMIT 1)) AS touch_id, e.touch_id AS named
    FROM events e
    WHERE {{events}}
      AND e.type IN ('hard_bounce', 'complaint', 'unsubscribe', 'reply', 'converted')
) x
JOIN touches t ON t.id = x.touch_id
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id, touch_id
),
links AS (
    SELECT k.event_id, k.touch_id FROM insight_event_links k
    WHERE k.touch_id IN (SELECT touch_id FROM linked)
    UNION ALL
    SELECT event_id, touch_id FROM linked
),
recomputed AS (
UPDATE insight_facts f SET
    bounced = o.bounced, replied = o.replied, reply_category = o.reply_category,
    positive = o.positive, unsubscribed = o.unsubscribed, complained = o.complained,
    converted = o.converted, updated_at = now()
FROM ({_OUTCOMES.format(links="links")}) o
WHERE f.touch_id = o.touch_id
RETURNING f.touch_id
)
SELECT (SELECT count(*) FROM linked), (SELECT count(*) FROM recomputed)
"""
_EVENT_RANGE = "e.id > :lo AND e.id <= :hi"

# Provisional links settled: kept (no longer provisional) once their touch is sent; deleted once
# it ended unsent (cancelled or expired), returning those events to be linked again, to the touch
# a rebuild would pick. A reservation still open (even past its expiry: a send may be confirmed
# back-dated) stays provisional.
_SETTLE_SENT = """
UPDATE insight_event_links k SET provisional = false FROM touches t
WHERE k.provisional AND t.id = k.touch_id AND t.state = 'sent'
"""
_UNSETTLED = """
DELETE FROM insight_event_links k USING touches t
WHERE k.provisional AND t.id = k.touch_id AND t.state IN ('cancelled', 'expired')
RETURNING k.event_id
"""


def _ranges(session: Session, table: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """(lo, hi] split into consecutive id ranges holding at most ``CHUNK_IDS`` rows of ``table``
    each (found by stepping down its primary key, so gaps in the ids cost nothing)."""
    while lo < hi:
        upper = session.scalar(
            text(f"SELECT id FROM {table} WHERE id > :lo AND id <= :hi ORDER BY id OFFSET :n LIMIT 1"),
            {"lo": lo, "hi": hi, "n": CHUNK_IDS - 1},
        )
        upper = hi if upper is None else int(upper)
        yield lo, upper
        lo = upper


@dataclass
class RefreshResult:
    new_facts: int
    new_links: int
    recomputed: int
    touches_watermark: int
    events_watermark: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _lock_watermarks(session: Session) -> dict[str, int]:
    session.execute(
        text(
            "INSERT INTO insight_watermarks (source, last_id) VALUES ('touches', 0), ('events', 0) "
            "ON CONFLICT (source) DO NOTHING"
        )
    )
    rows = session.execute(
        text("SELECT source, last_id FROM insight_watermarks ORDER BY source FOR UPDATE")
    ).all()
    return {str(s): int(v) for s, v in rows}


def refresh_facts(session: Session) -> RefreshResult:
    """Bring ``insight_facts`` up to date with touches and events added since the last refresh.

    Concurrent refreshes queue on the watermark rows' locks. The caller commits.
    """
    marks = _lock_watermarks(session)
    # local hours of the facts: zone names read as zoneinfo reads them, whatever the server's
    # abbreviation set (with 'Australia', EST would be UTC+10)
    session.execute(text("SET LOCAL timezone_abbreviations = 'Default'"))
    t_wm, e_wm = marks["touches"], marks["events"]
    t_hi = int(session.scalar(text("SELECT coalesce(max(id), 0) FROM touches")) or 0)
    e_hi = int(session.scalar(text("SELECT coalesce(max(id), 0) FROM events")) or 0)

    n_links = n_facts = recomputed = 0
    session.execute(text(_SETTLE_SENT))
    unlinked = [int(i) for i in session.scalars(text(_UNSETTLED))]
    for i in range(0, len(unlinked), CHUNK_IDS):
        links, updated = session.execute(
            text(_LINK_EVENTS.format(events="e.id = ANY(CAST(:ids AS bigint[]))")),
            {"ids": unlinked[i : i + CHUNK_IDS]},
        ).one()
        recomputed += int(updated)
    # events first: a fact made afterwards takes its outcomes from every link there is by then
    for lo, hi in _ranges(session, "events", max(0, e_wm - OVERLAP_IDS), e_hi):
        links, updated = session.execute(
            text(_LINK_EVENTS.format(events=_EVENT_RANGE)), {"lo": lo, "hi": hi}
        ).one()
        n_links += int(links)
        recomputed += int(updated)
    for lo, hi in _ranges(session, "touches", max(0, t_wm - OVERLAP_IDS), t_hi):
        made, with_outcomes = session.execute(text(_INSERT_FACTS), {"lo": lo, "hi": hi}).one()
        n_facts += int(made)
        recomputed += int(with_outcomes)

    # never move past a touch still reserved: it may be sent after this refresh. Looked for in
    # the overlap window too (a reservation committed late); one expired over an hour ago (or
    # without an expiry) no longer holds the watermark back, else one forgotten reservation
    # would make every later refresh re-read everything after it.
    lo = max(0, t_wm - OVERLAP_IDS)
    pending = session.scalar(
        text(
            "SELECT min(id) FROM touches WHERE id > :lo AND id <= :hi AND state = 'reserved' "
            "AND expires_at > now() - interval '1 hour'"
        ),
        {"lo": lo, "hi": t_hi},
    )
    new_t_wm = t_hi if pending is None else max(lo, int(pending) - 1)
    session.execute(
        text(
            "UPDATE insight_watermarks SET last_id = CASE source WHEN 'touches' THEN :t ELSE :e END, "
            "updated_at = now()"
        ),
        {"t": new_t_wm, "e": max(e_wm, e_hi)},
    )
    session.flush()
    return RefreshResult(
        new_facts=n_facts,
        new_links=n_links,
        recomputed=recomputed,
        touches_watermark=new_t_wm,
        events_watermark=max(e_wm, e_hi),
    )


def forget_lead(session: Session, lead_id: int) -> int:
    """Delete the lead's facts (its erasure); returns how many. The caller commits.

    Waits for a running refresh, which may have snapshotted the lead's segment before the
    erasure and would otherwise commit facts after this delete; refreshes after it skip the lead.
    """
    _lock_watermarks(session)
    return len(
        session.execute(
            text("DELETE FROM insight_facts WHERE lead_id = :l RETURNING touch_id"), {"l": lead_id}
        ).all()
    )


def rebuild_facts(session: Session) -> RefreshResult:
    """Throw the facts away and build them again from all touches and events. The caller commits."""
    _lock_watermarks(session)
    session.execute(text("DELETE FROM insight_facts"))
    session.execute(text("DELETE FROM insight_event_links"))
    session.execute(text("UPDATE insight_watermarks SET last_id = 0"))
    return refresh_facts(session)
