"""The insights report shared by the CLI, the API and the dashboard.

The admin sees everything. An agency sees ``own`` (its facts, in full) and ``platform`` (only
privacy-safe cells, see :mod:`leadpool.insights.privacy`); nothing in an agency's report is
computed from another agency's facts except through :func:`privacy.platform_cells`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.insights import privacy, rates
from leadpool.insights.rates import Cell

DEFAULT_DIMS: tuple[str, ...] = ("industry", "seniority")
TOP = 10
_FLAT = ("email_status", "data_age_band", "local_hour", "local_weekday", "channel")


def suggestions(
    cells: Sequence[Cell], segment_dim: str, time_dim: str, metric: str = "reply"
) -> list[dict[str, Any]]:
    """Best ``time_dim`` value (local hour or weekday) per ``segment_dim`` value, by shrunk rate.

    ``cells`` are cells of (segment_dim, time_dim); "(other)" cells are never suggested."""
    best: dict[Any, Cell] = {}
    for c in cells:
        if c.dims != (segment_dim, time_dim) or privacy.OTHER in c.key or metric not in c.rates:
            continue
        if c.rates[metric].x == 0:
            continue  # no reply at that time yet: nothing to suggest it by
        cur = best.get(c.key[0])
        if cur is None or c.rates[metric].shrunk > cur.rates[metric].shrunk:
            best[c.key[0]] = c
    return [
        {
            segment_dim: seg,
            time_dim: c.key[1],
            "metric": metric,
            "rate": c.rates[metric].to_json(),
        }
        for seg, c in sorted(best.items(), key=lambda kv: str(kv[0]))
    ]


def _view(session: Session, dims: Sequence[str], scope: str, agency_id: int | None) -> dict[str, Any]:
    """One view: ``scope`` is "all" (admin), "own" (one agency's facts) or "platform" (safe cells)."""

    # the suggestions cross a segment with the time of day or week: a time dimension cannot be one
    seg_dim = next((d for d in dims if d not in ("local_hour", "local_weekday")), "seniority")
    # every view below is counted from one read of the facts (each parent segment's leftover,
    # which the platform view checks, is worked out from these counts where that is exact)
    wanted = [dims, *([d] for d in _FLAT), [seg_dim, "local_hour"], [seg_dim, "local_weekday"]]
    if scope == "platform":
        grouped = rates.grouped_counts(
            session, [s for d in wanted for s in privacy.platform_sets(d)], ordered=False
        )
    else:
        grouped = rates.grouped_counts(
            session,
            [p for d in wanted for p in rates.prefixes(d)],
            agency_id=agency_id if scope == "own" else None,
        )

    def cells(d: Sequence[str]) -> list[Cell]:
        if scope == "platform":
            return privacy.platform_cells(session, d, grouped=grouped)
        return rates.segment_rates(
            session, d, agency_id=agency_id if scope == "own" else None, grouped=grouped
        )

    def flat(d: Sequence[str]) -> list[dict[str, Any]]:
        return [c.to_json() for c in cells(d) if c.level == len(d)]

    seg_cells = cells(dims)
    return {
        "segments": [c.to_json() for c in seg_cells],
        "top_segments": {
            m: [c.to_json() for c in rates.ranked(seg_cells, m, level=len(dims))[:TOP]]
            for m in ("reply", "positive")
        },
        "bounce_by_email_status": flat(["email_status"]),
        "bounce_by_data_age": flat(["data_age_band"]),
        "reply_by_local_hour": flat(["local_hour"]),
        "reply_by_weekday": flat(["local_weekday"]),
        "reply_by_channel": flat(["channel"]),
        "suggestions": {
            "segment_dim": seg_dim,
            "best_hour": suggestions(cells([seg_dim, "local_hour"]), seg_dim, "local_hour"),
            "best_weekday": suggestions(cells([seg_dim, "local_weekday"]), seg_dim, "local_weekday"),
        },
    }


def facts_status(session: Session) -> dict[str, Any]:
    row = session.execute(
        text(
            "SELECT (SELECT count(*) FROM insight_facts), "
            "(SELECT last_id FROM insight_watermarks WHERE source = 'touches'), "
            "(SELECT last_id FROM insight_watermarks WHERE source = 'events'), "
            "(SELECT max(updated_at) FROM insight_watermarks), "
            "(SELECT count(DISTINCT lead_id) FROM lead_scores), (SELECT min(model_version) FROM lead_scores)"
        )
    ).one()
    return {
        "facts": int(row[0]),
        "touches_watermark": row[1],
        "events_watermark": row[2],
        "refreshed_at": None if row[3] is None else row[3].isoformat(),
        "scored_leads": int(row[4]),
        "model_version": row[5],
    }


def insights_report(
    session: Session, *, agency_id: int | None, dims: Sequence[str] = DEFAULT_DIMS
) -> dict[str, Any]:
    """Everything for the admin (``agency_id`` None); own + platform view for an agency."""
    dims = rates.check_dims(dims)
    base: dict[str, Any] = {
        "dims": list(dims),
        "thresholds": {"min_leads": privacy.MIN_LEADS, "min_agencies": privacy.MIN_AGENCIES},
    }
    if agency_id is None:
        return {
            **base,
            "scope": "admin",
            "status": facts_status(session),
            "all": _view(session, dims, "all", None),
        }
    return {
        **base,
        "scope": "agency",
        "agency_id": agency_id,
        "own": _view(session, dims, "own", agency_id),
        "platform": _view(session, dims, "platform", None),
    }
