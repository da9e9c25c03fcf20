"""Send-time suggestions for one campaign: best local hour and weekday for its ICP's segment.

The campaign's segment is the ICP's ``industries`` (else its ``seniorities``; else the whole
platform). Suggestions come per segment value and combined over the campaign's values, by shrunk
reply rate. The admin's view uses every fact. An agency gets ``own`` (its own facts, in full) and
``platform``, built only from the privacy-safe cells of :func:`privacy.platform_cells`: the
combined figures are sums of cells the agency may already see one by one, so they reveal nothing
beyond them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.errors import NotFound
from leadpool.insights import privacy, rates
from leadpool.insights.rates import COUNTS, Cell
from leadpool.insights.report import suggestions

TIME_DIMS = ("local_hour", "local_weekday")
METRIC = "reply"


def campaign_segment(icp: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The fact dimension and values that stand for a campaign's ICP (lower case)."""
    for key, dim in (("industries", "industry"), ("seniorities", "seniority")):
        values = [str(v).strip().lower() for v in icp.get(key) or [] if str(v).strip()]
        if values:
            return dim, sorted(set(values))
    return None, []


def _cells(session: Session, dims: Sequence[str], scope: str, agency_id: int | None) -> list[Cell]:
    if scope == "platform":
        return privacy.platform_cells(session, dims, [METRIC])
    return rates.segment_rates(
        session, dims, agency_id=agency_id if scope == "own" else None, metrics=[METRIC]
    )


def _best(cells: list[Cell], time_dim: str) -> dict[str, Any] | None:
    # a time with no reply yet is never "best" (with none anywhere, the order was the keys')
    top = rates.ranked(
        [c for c in cells if c.level == 1 and privacy.OTHER not in c.key and c.rates[METRIC].x > 0],
        METRIC,
        level=1,
    )
    if not top:
        return None
    return {time_dim: top[0].key[0], "metric": METRIC, "rate": top[0].rates[METRIC].to_json()}


def _combined(leaves: list[Cell], time_dim: str) -> list[Cell]:
    """Leaf counts summed per time value, shrunk toward their own total."""
    per_time: dict[Any, dict[str, int]] = {}
    total = {k: 0 for k in COUNTS}
    for c in leaves:
        acc = per_time.setdefault(c.key[1], {k: 0 for k in COUNTS})
        for k in COUNTS:
            if k in ("leads", "agencies"):
                continue  # distinct counts do not add up; not used for rates
            acc[k] += c.counts[k]
            total[k] += c.counts[k]
    out = [Cell(key=(), dims=(), counts=total)]
    out += [Cell(key=(t,), dims=(time_dim,), counts=n) for t, n in sorted(per_time.items())]
    return rates.shrink_cells(out, [METRIC])


def _view(
    session: Session, scope: str, agency_id: int | None, dim: str | None, values: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_segment: dict[str, list[dict[str, Any]]] = {}
    for time_dim in TIME_DIMS:
        name = "best_hour" if time_dim == "local_hour" else "best_weekday"
        if dim is None:
            out[name] = _best(_cells(session, [time_dim], scope, agency_id), time_dim)
            continue
        cells = _cells(session, [dim, time_dim], scope, agency_id)
        leaves = [c for c in cells if c.level == 2 and str(c.key[0]).lower() in values]
        out[name] = _best(_combined(leaves, time_dim), time_dim) if leaves else None
        by_segment[name] = [
            s for s in suggestions(cells, dim, time_dim, METRIC) if str(s[dim]).lower() in values
        ]
    if dim is not None:
        out["by_segment"] = by_segment
    return out


def campaign_suggestions(session: Session, campaign_id: int, *, agency_id: int | None) -> dict[str, Any]:
    """Best local send hour and weekday (1=Mon) for the campaign's segment, by shrunk reply rate.

    ``agency_id`` None is the admin (every fact); otherwise the agency's own and the privacy-safe
    platform views. The caller checks the campaign is visible to it (tenancy)."""
    icp = session.execute(
        text("SELECT icp FROM campaigns WHERE id = :c"), {"c": campaign_id}
    ).scalar_one_or_none()
    if icp is None:
        raise NotFound(f"campaign {campaign_id} not found")
    dim, values = campaign_segment(icp)
    scopes = ["all"] if agency_id is None else ["own", "platform"]
    return {
        "campaign_id": campaign_id,
        "segment": {"dimension": dim, "values": values},
        "metric": METRIC,
        **{scope: _view(session, scope, agency_id, dim, values) for scope in scopes},
    }
