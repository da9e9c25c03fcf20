"""Privacy between agencies: what cross-platform figures an agency may see.

An agency sees its own facts in full (any dimensions). Platform figures come only from cells with
at least ``MIN_LEADS`` leads and ``MIN_AGENCIES`` contributing agencies, of which at least
``MIN_OTHER_LEADS`` leads are not the largest agency's. Thin cells are not just hidden: they are
pooled into one "(other)" cell, shown only if it passes the thresholds too, and for every parent
segment (every proper subset of the request's dimensions, down to the whole platform) the part
not covered by published cells must be empty or pass the thresholds. Otherwise the smallest
published cell of that parent is withdrawn as well, and the check repeats. So subtracting published
cells from a published parent (from this answer or another one) only ever yields groups that pass
the thresholds, and an agency subtracting its own figures from any of them is left with at least
two other agencies together and ``MIN_OTHER_LEADS`` of their leads, never one agency or a few
people.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.insights import rates
from leadpool.insights.rates import COUNT_SQL, COUNTS, Cell

MIN_LEADS = 50
MIN_AGENCIES = 3
# leads left in a cell once the agency contributing most takes its own away: it sees its own
# figures in full, so a cell of 48 of its leads and one of each other agency's would tell it
# those two people's outcomes
MIN_OTHER_LEADS = 10
OTHER = "(other)"
_SEP = "\x1f"
_MAX_ROUNDS = 200


def is_safe(counts: dict[str, int]) -> bool:
    """A cell may be shown across agencies: enough leads and enough contributing agencies, in the
    cell and behind each metric's denominator (its email sends for bounces, its delivered touches
    for the rest) when it has any: otherwise one agency's email sends would be the cell's bounce
    rate. The residual checks apply the same test, so no difference isolates such a group either."""

    def enough(leads: str, agencies: str) -> bool:
        return (
            counts[leads] >= MIN_LEADS
            and counts[agencies] >= MIN_AGENCIES
            and counts[leads] - counts[f"top_{leads}"] >= MIN_OTHER_LEADS
        )

    return (
        enough("leads", "agencies")
        and (counts["email_sends"] == 0 or enough("email_leads", "email_agencies"))
        and (counts["delivered"] == 0 or enough("delivered_leads", "delivered_agencies"))
    )


def _key_sql(dims: Sequence[str]) -> str:
    return "concat_ws(chr(31), " + ", ".join(f"coalesce({d}::text, '')" for d in dims) + ")"


def _key_str(key: Sequence[Any]) -> str:
    return _SEP.join("" if v is None else str(v) for v in key)


def _residuals(
    session: Session, dims: Sequence[str], keep: Sequence[str], published: list[str]
) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    """Counts of the facts outside the published cells, grouped by the parent dims ``keep``."""
    cols = "".join(f"{d}, " for d in keep)
    group = f"GROUP BY {', '.join(keep)}" if keep else ""
    where = f"NOT ({_key_sql(dims)} = ANY(CAST(:pub AS text[])))"
    rows = session.execute(
        text(f"SELECT {cols}{COUNT_SQL} FROM insight_facts WHERE {where} {group}"), {"pub": published}
    ).mappings()
    tops = rates.top_agency_counts(session, [list(keep)], where, {"pub": published})
    out = []
    for r in rows:
        counts = {k: int(r[k]) for k in COUNTS}
        if counts["sends"]:
            key = tuple(r[d] for d in keep)
            out.append((key, counts | tops[key]))
    return out


def _parents(dims: Sequence[str]) -> list[list[str]]:
    """Every parent segment of ``dims``, nearest first: each proper subset of them, down to the
    whole platform. Not only those one dimension up: another request publishes a grandparent
    (``industry`` beside ``industry, country, seniority``), and subtracting from it must not
    isolate anyone either."""
    return [
        [d for d in dims if d in keep]
        for size in range(len(dims) - 1, -1, -1)
        for keep in itertools.combinations(dims, size)
    ]


def platform_cells(
    session: Session, dims: Sequence[str], metrics: Sequence[str] = rates.REPORTED_METRICS
) -> list[Cell]:
    """The privacy-safe platform view of ``dims``: the whole (level 0, if safe), the published
    cells, and "(other)" for the rest when it is safe. Rates shrink toward the whole."""
    dims = rates.check_dims(dims)
    all_cells = rates.count_cells(session, dims)
    total = next(c for c in all_cells if c.level == 0)
    if not is_safe(total.counts):
        return []
    if not dims:
        return rates.shrink_cells([total], metrics)
    leaves = {_key_str(c.key): c for c in all_cells if c.level == len(dims)}
    published = {k for k, c in leaves.items() if is_safe(c.counts)}
    for _ in range(_MAX_ROUNDS):
        withdrawn = False
        for keep in _parents(dims):
            if not published:
                break
            idx = [dims.index(d) for d in keep]
            for pkey, counts in _residuals(session, dims, keep, sorted(published)):
                if is_safe(counts):
                    continue
                inside = [k for k in published if tuple(leaves[k].key[i] for i in idx) == pkey]
                if inside:
                    smallest = min(
                        inside, key=lambda k: (leaves[k].counts["leads"], leaves[k].counts["sends"], k)
                    )
                    published.discard(smallest)
                    withdrawn = True
            if withdrawn:
                break
        if not withdrawn:
            break
    else:  # pragma: no cover - the loop withdraws a cell every round, so it ends well before
        published = set()
    out: list[Cell] = [total]
    for k in sorted(published):
        c = leaves[k]
        out.append(Cell(key=c.key, dims=c.dims, counts=c.counts))
    rest = _residuals(session, dims, [], sorted(published)) if published else [((), total.counts)]
    if rest and published and is_safe(rest[0][1]):
        out.append(Cell(key=tuple(OTHER for _ in dims), dims=tuple(dims), counts=rest[0][1]))
    # shrink the published cells straight toward the whole: intermediate parents are not published
    flat = [Cell(key=(), dims=(), counts=total.counts)] + [
        Cell(key=(_key_str(c.key),), dims=("segment",), counts=c.counts) for c in out[1:]
    ]
    rates.shrink_cells(flat, metrics)
    for c, f in zip(out, flat, strict=True):
        c.rates = f.rates
    return out


def agency_view(
    session: Session, agency_id: int, dims: Sequence[str], metrics: Sequence[str] = rates.REPORTED_METRICS
) -> dict[str, list[Cell]]:
    """What one agency may see for ``dims``: its own cells in full, and the platform view."""
    return {
        "own": rates.segment_rates(session, dims, agency_id=agency_id, metrics=metrics),
        "platform": platform_cells(session, dims, metrics),
    }
