"""Read-only aggregates for the dashboard pages, each scoped to one agency or to the platform.

``agency_id=None`` means the admin's view of everything; otherwise every number is about that
agency's own leads, campaigns and decisions only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.events.senders import PausedSender, paused_senders
from leadpool.models import CHANNELS


@dataclass
class Overview:
    pool_size: int
    owned: int
    free: int
    companies: int
    by_industry: list[tuple[str, int, int]]  # (industry, owned, free)
    by_country: list[tuple[str, int, int]]
    suppressions: list[tuple[str, int]]
    days: list[str]
    decisions_by_reason: dict[str, list[int]]
    recent_leads: list[dict[str, Any]] = field(default_factory=list)
    paused_senders: list[PausedSender] = field(default_factory=list)  # by a sender guard, now


def _rows(session: Session, sql: str, **params: Any) -> list[Any]:
    return list(session.execute(text(sql), params))


def overview(session: Session, agency_id: int | None, *, days: int = 30) -> Overview:
    scope = "" if agency_id is None else "AND o.agency_id = :a"
    pool = _rows(
        session,
        f"""
        SELECT count(*) AS total, count(o.lead_id) AS owned
        FROM leads l LEFT JOIN ownerships o ON o.lead_id = l.id
        WHERE l.erased_at IS NULL {scope if agency_id is not None else ""}
        """,
        a=agency_id,
    )[0]
    companies = session.scalar(text("SELECT count(*) FROM companies")) if agency_id is None else 0

    def split(expr: str, join: str) -> list[tuple[str, int, int]]:
        rows = _rows(
            session,
            f"""
            SELECT coalesce({expr}, '(unknown)') AS k, count(o.lead_id) AS owned,
                   count(*) - count(o.lead_id) AS free
            FROM leads l LEFT JOIN ownerships o ON o.lead_id = l.id {join}
            WHERE l.erased_at IS NULL {scope}
            GROUP BY 1 ORDER BY count(*) DESC LIMIT 12
            """,
            a=agency_id,
        )
        return [(str(r.k), int(r.owned), int(r.free) if agency_id is None else 0) for r in rows]

    by_industry = split("c.industry", "LEFT JOIN companies c ON c.id = l.company_id")
    by_country = split("l.country", "")
    if agency_id is None:
        supp = _rows(session, "SELECT kind, count(*) AS n FROM suppressions GROUP BY kind ORDER BY n DESC")
    else:
        supp = _rows(
            session,
            """
            SELECT s.kind, count(*) AS n FROM suppressions s
            JOIN ownerships o ON o.lead_id = s.lead_id AND o.agency_id = :a
            GROUP BY s.kind ORDER BY n DESC
            """,
            a=agency_id,
        )
    day_labels, by_reason = decisions_per_day(session, agency_id=agency_id, campaign_id=None, days=days)
    recent = _rows(
        session,
        f"""
        SELECT l.id, l.name, l.title, l.country, o.agency_id, o.acquired_at
        FROM ownerships o JOIN leads l ON l.id = o.lead_id
        WHERE true {scope}
        ORDER BY o.acquired_at DESC, l.id DESC LIMIT 10
        """,
        a=agency_id,
    )
    return Overview(
        pool_size=int(pool.total),
        owned=int(pool.owned),
        free=int(pool.total) - int(pool.owned) if agency_id is None else 0,
        companies=int(companies or 0),
        by_industry=by_industry,
        by_country=by_country,
        suppressions=[(str(r.kind), int(r.n)) for r in supp],
        days=day_labels,
        decisions_by_reason=by_reason,
        recent_leads=[dict(r._mapping) for r in recent],
        paused_senders=paused_senders(session, at=datetime.now(UTC), agency_id=agency_id),
    )


def decisions_since(
    session: Session, *, agency_id: int | None, campaign_id: int | None, days: int = 30
) -> datetime | None:
    """Start of the ``days`` days up to the scope's latest decision (None: it has none).

    The scope's own latest, not the platform's (sending may run on a simulated clock, and another
    agency's clock says nothing about this one); one step down ``ix_decisions_campaign_id_at`` /
    ``ix_decisions_agency_id_at`` / ``ix_decisions_at``."""
    if campaign_id is not None:
        scope, params = "WHERE campaign_id = :c", {"c": campaign_id}
    elif agency_id is not None:
        scope, params = "WHERE agency_id = :a", {"a": agency_id}
    else:
        scope, params = "", {}
    latest = session.scalar(text(f"SELECT max(at) FROM decisions {scope}"), params)
    return None if latest is None else latest - timedelta(days=days)


def decisions_per_day(
    session: Session, *, agency_id: int | None, campaign_id: int | None, days: int = 30
) -> tuple[list[str], dict[str, list[int]]]:
    """Decisions per day over the last ``days`` days that had any: ``allow`` plus each deny code.

    The days end at the scope's latest decision (:func:`decisions_since`)."""
    since = decisions_since(session, agency_id=agency_id, campaign_id=campaign_id, days=days)
    if since is None:
        return [], {}
    where = ["d.at >= :since"]
    if agency_id is not None:
        where.append("d.agency_id = :a")
    if campaign_id is not None:
        where.append("d.campaign_id = :c")
    rows = _rows(
        session,
        f"""
        SELECT (d.at AT TIME ZONE 'UTC')::date AS day,
               CASE WHEN d.allowed THEN 'allow' ELSE coalesce(r.code, 'deny') END AS code,
               count(*) AS n
        FROM decisions d
        LEFT JOIN LATERAL (
            SELECT e->>'code' AS code FROM jsonb_array_elements(d.reasons) e
        ) r ON NOT d.allowed
        WHERE {" AND ".join(where)}
        GROUP BY 1, 2 ORDER BY 1
        """,
        a=agency_id,
        c=campaign_id,
        since=since,
    )
    if not rows:
        return [], {}
    first: date = rows[0].day
    last: date = rows[-1].day
    labels = [(first + timedelta(days=i)) for i in range((last - first).days + 1)]
    index = {d: i for i, d in enumerate(labels)}
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(labels))
    for r in rows:
        series[str(r.code)][index[r.day]] += int(r.n)
    ordered = dict(sorted(series.items(), key=lambda kv: (kv[0] != "allow", -sum(kv[1]))))
    return [d.isoformat()[5:] for d in labels], ordered


def agencies(session: Session, agency_id: int | None, *, at: datetime | None = None) -> list[dict[str, Any]]:
    """Per agency: owned leads, campaigns, today's quota fill, and the hard-bounce rate of its email
    sends over the 30 days up to its latest touch.

    "Today" is ``at``'s UTC day (default now), the day allocation counts against the daily quota
    (``pool.enrolled_today``), whatever the database session's time zone. One query, grouped per
    agency; every count is an index range of that agency's (or its campaigns') rows in its window:
    the latest touch one step down ``ix_touches_agency_id_channel_at`` per channel, emails sent
    the 30 days of that index, hard bounces those of ``ix_events_campaign_id_hard_bounce`` per
    campaign, enrollments today's of ``ix_enrollments_campaign_id_enrolled_at``."""
    day = (at or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = _rows(
        session,
        """
        WITH ag AS (
            SELECT a.id, a.name, a.status, a.cancelled_at,
              -- the 30 days up to the agency's latest touch (sending may run on a simulated clock)
              coalesce((SELECT max(m.at) FROM unnest(CAST(:channels AS text[])) AS ch(channel)
                        CROSS JOIN LATERAL (SELECT max(t.at) AS at FROM touches t
                                            WHERE t.agency_id = a.id AND t.channel = ch.channel) m),
                       now()) - interval '30 days' AS since
            FROM agencies a
            WHERE (CAST(:a AS bigint) IS NULL OR a.id = :a)
        ), per_campaign AS (
            SELECT c.agency_id, count(*) AS campaigns, count(*) FILTER (WHERE c.status = 'active') AS active,
                   coalesce(sum(c.daily_quota) FILTER (WHERE c.status = 'active'), 0) AS quota,
                   -- over the same campaigns as the quota: a campaign paused today had enrolled
                   -- against its own quota, which no longer counts
                   CAST(coalesce(sum(e.n) FILTER (WHERE c.status = 'active'), 0) AS bigint) AS enrolled_today,
                   CAST(coalesce(sum(b.n), 0) AS bigint) AS hard_bounces
            FROM ag JOIN campaigns c ON c.agency_id = ag.id
            CROSS JOIN LATERAL (
                SELECT count(*) AS n FROM enrollments e
                WHERE e.campaign_id = c.id AND e.enrolled_at >= :day AND e.enrolled_at < :next) e
            CROSS JOIN LATERAL (
                SELECT count(*) AS n FROM events ev
                WHERE ev.campaign_id = c.id AND ev.type = 'hard_bounce' AND ev.occurred_at >= ag.since) b
            GROUP BY c.agency_id
        )
        SELECT ag.id, ag.name, ag.status, ag.cancelled_at,
          (SELECT count(*) FROM ownerships o WHERE o.agency_id = ag.id) AS owned,
          coalesce(pc.campaigns, 0) AS campaigns, coalesce(pc.active, 0) AS active,
          coalesce(pc.quota, 0) AS quota, coalesce(pc.enrolled_today, 0) AS enrolled_today,
          (SELECT count(*) FROM touches t WHERE t.agency_id = ag.id AND t.channel = 'email'
             AND t.state = 'sent' AND t.at >= ag.since) AS emails_sent,
          coalesce(pc.hard_bounces, 0) AS hard_bounces
        FROM ag LEFT JOIN per_campaign pc ON pc.agency_id = ag.id
        ORDER BY ag.id
        """,
        a=agency_id,
        channels=list(CHANNELS),
        day=day,
        next=day + timedelta(days=1),
    )
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["quota_fill"] = (d["enrolled_today"] / d["quota"]) if d["quota"] else None
        d["bounce_rate"] = (d["hard_bounces"] / d["emails_sent"]) if d["emails_sent"] else None
        out.append(d)
    return out


def campaigns(session: Session, agency_id: int | None) -> list[dict[str, Any]]:
    rows = _rows(
        session,
        """
        SELECT c.id, c.name, c.status, c.paused_reason, c.channels, c.daily_quota, c.agency_id,
               a.name AS agency,
               (SELECT count(*) FROM enrollments e WHERE e.campaign_id = c.id AND e.status = 'active')
                 AS enrolled
        FROM campaigns c JOIN agencies a ON a.id = c.agency_id
        WHERE (CAST(:a AS bigint) IS NULL OR c.agency_id = :a)
        ORDER BY c.id
        """,
        a=agency_id,
    )
    return [dict(r._mapping) for r in rows]


def campaign_detail(
    session: Session, campaign_id: int, agency_id: int | None, *, days: int = 30
) -> dict[str, Any]:
    """Leads and decision counts of one campaign (the caller has already checked visibility).

    ``agency_id``: an agency's view, which shows a lead it no longer holds by id only (None: the
    admin's, which shows every lead). Decisions are counted over the ``days`` days up to the
    campaign's latest one, the window of its decisions-per-day chart."""
    leads = _rows(
        session,
        """
        SELECT l.id, CASE WHEN mine THEN l.name END AS name, CASE WHEN mine THEN l.title END AS title,
               CASE WHEN mine THEN l.email END AS email, CASE WHEN mine THEN l.country END AS country,
               e.status, e.enrolled_at, mine
        FROM enrollments e JOIN leads l ON l.id = e.lead_id
        CROSS JOIN LATERAL (SELECT CAST(:a AS bigint) IS NULL OR EXISTS (
            SELECT 1 FROM ownerships o WHERE o.lead_id = l.id AND o.agency_id = :a) AS mine) m
        WHERE e.campaign_id = :c ORDER BY e.enrolled_at DESC, l.id LIMIT 200
        """,
        c=campaign_id,
        a=agency_id,
    )
    since = decisions_since(session, agency_id=None, campaign_id=campaign_id, days=days)
    codes = (
        []
        if since is None
        else _rows(
            session,
            """
            SELECT CASE WHEN d.allowed THEN 'allow' ELSE r.code END AS code, count(*) AS n
            FROM decisions d
            LEFT JOIN LATERAL (SELECT e->>'code' AS code FROM jsonb_array_elements(d.reasons) e) r
              ON NOT d.allowed
            WHERE d.campaign_id = :c AND d.at >= :since GROUP BY 1 ORDER BY 2 DESC
            """,
            c=campaign_id,
            since=since,
        )
    )
    touches = _rows(
        session,
        "SELECT state, count(*) AS n FROM touches WHERE campaign_id = :c GROUP BY state ORDER BY state",
        c=campaign_id,
    )
    return {
        "leads": [dict(r._mapping) for r in leads],
        "decision_codes": [(str(r.code or "deny"), int(r.n)) for r in codes],
        "touches": [(str(r.state), int(r.n)) for r in touches],
    }
