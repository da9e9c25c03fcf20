"""Counts over the pool: totals and breakdowns by industry, country, seniority and email status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_TOTALS = text(
    """
    SELECT
      (SELECT count(*) FROM leads) AS leads,
      (SELECT count(*) FROM companies) AS companies,
      (SELECT count(*) FROM raw_payloads) AS raw_payloads,
      (SELECT count(*) FROM leads WHERE email IS NOT NULL) AS with_email,
      (SELECT count(*) FROM leads WHERE linkedin_url IS NOT NULL) AS with_linkedin,
      (SELECT count(*) FROM leads WHERE phone IS NOT NULL) AS with_phone,
      (SELECT count(*) FROM leads WHERE time_zone IS NOT NULL) AS with_time_zone,
      (SELECT count(*) FROM leads WHERE unsubscribed_at IS NOT NULL OR complained_at IS NOT NULL
         OR email_bounced_at IS NOT NULL OR blocklisted_at IS NOT NULL OR erased_at IS NOT NULL)
         AS suppressed
    """
)

# column expressions per breakdown; industry is the company's (people have none of their own)
_BREAKDOWNS = {
    "industry": "SELECT c.industry AS key, count(*) AS n FROM leads l "
    "LEFT JOIN companies c ON c.id = l.company_id GROUP BY 1 ORDER BY 2 DESC, 1",
    "country": "SELECT country AS key, count(*) AS n FROM leads GROUP BY 1 ORDER BY 2 DESC, 1",
    "seniority": "SELECT seniority AS key, count(*) AS n FROM leads GROUP BY 1 ORDER BY 2 DESC, 1",
    "email_status": "SELECT email_status AS key, count(*) AS n FROM leads GROUP BY 1 ORDER BY 2 DESC, 1",
    "time_zone_source": "SELECT time_zone_source AS key, count(*) AS n FROM leads GROUP BY 1 ORDER BY 2 DESC, 1",
}


def pool_stats(session: Session, *, top: int | None = None) -> dict[str, Any]:
    """Totals plus, per breakdown, a list of ``{"value": ..., "leads": n}`` (None = unknown).

    ``top`` keeps only the largest groups of each breakdown (the rest summed as ``"(other)"``).
    """
    totals = dict(session.execute(_TOTALS).mappings().one())
    result: dict[str, Any] = {"totals": {k: int(v) for k, v in totals.items()}}
    for name, sql in _BREAKDOWNS.items():
        rows = [{"value": key, "leads": int(n)} for key, n in session.execute(text(sql))]
        if top is not None and len(rows) > top:
            rest = sum(r["leads"] for r in rows[top:])
            rows = [*rows[:top], {"value": "(other)", "leads": rest}]
        result[name] = rows
    return result
