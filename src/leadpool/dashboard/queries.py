"""Read-only aggregates for the dashboard pages, each scoped to one agency or to the platform.

``agency_id=None`` means the admin's view of everything; otherwise every number is about that
agency's own leads, campaigns and decisions only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


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
    )


def decisions_per_day(
    session: Session, *, agency_id: int | None, campaign_id: int | None, days: int = 30
) -> tuple[list[str], dict[str, list[int]]]:
    """Decisions per day over the last ``days`` days that had any: ``allow`` plus each deny code."""
    where = ["d.at >= (SELECT max(at) FROM decisions) - make_interval(days => :days)"]
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
        days=days,
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


def agencies(session: Session, agency_id: int | None) -> list[dict[str, Any]]:
    """Per agency: owned leads, campaigns, today's quota fill, and the hard-bounce rate of its email
    sends over the 30 days up to its latest touch."""
    rows = _rows(
        session,
        """
        SELECT a.id, a.name, a.status, a.cancelled_at,
          (SELECT count(*) FROM ownerships o WHERE o.agency_id = a.id) AS owned,
          (SELECT count(*) FROM campaigns c WHERE c.agency_id = a.id) AS campaigns,
          (SELECT count(*) FROM campaigns c WHERE c.agency_id = a.id AND c.status = 'active') AS active,
          (SELECT coalesce(sum(c.daily_quota), 0) FROM campaigns c
             WHERE c.agency_id = a.id AND c.status = 'active') AS quota,
          (SELECT count(*) FROM enrollments e WHERE e.agency_id = a.id
             AND e.enrolled_at >= date_trunc('day', now())) AS enrolled_today,
          (SELECT count(*) FROM touches t WHERE t.agency_id = a.id AND t.channel = 'email'
             AND t.state = 'sent' AND t.at >= w.since) AS emails_sent,
          (SELECT count(*) FROM events ev JOIN campaigns c ON c.id = ev.campaign_id
             WHERE c.agency_id = a.id AND ev.type = 'hard_bounce' AND ev.occurred_at >= w.since)
             AS hard_bounces
        FROM agencies a
        -- the 30 days up to the agency's latest touch (sending may run on a simulated clock)
        CROSS JOIN LATERAL (
            SELECT coalesce(max(t.at), now()) - interval '30 days' AS since
            FROM touches t WHERE t.agency_id = a.id
        ) w
        WHERE (CAST(:a AS bigint) IS NULL OR a.id = :a)
        ORDER BY a.id
        """,
        a=agency_id,
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


def campaign_detail(session: Session, campaign_id: int, agency_id: int | None) -> dict[str, Any]:
    """Leads and decision counts of one campaign (the caller has already checked visibility).

    ``agency_id``: an agency's view, which shows a lead it no longer holds by id only (None: the
    admin's, which shows every lead)."""
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
    codes = _rows(
        session,
        """
        SELECT CASE WHEN d.allowed THEN 'allow' ELSE r.code END AS code, count(*) AS n
        FROM decisions d
        LEFT JOIN LATERAL (SELECT e->>'code' AS code FROM jsonb_array_elements(d.reasons) e) r
          ON NOT d.allowed
        WHERE d.campaign_id = :c GROUP BY 1 ORDER BY 2 DESC
        """,
        c=campaign_id,
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
