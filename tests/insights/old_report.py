"""The insights computation as it was before one read of the facts served a whole request: one
statement per count, another per top-agency count, and two per parent segment per round of the
privacy check. Kept verbatim (bar names) as the reference the new one must equal on any data."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.insights import privacy, rates
from leadpool.insights.privacy import _MAX_ROUNDS, OTHER, _key_sql, _key_str, is_safe
from leadpool.insights.rates import COUNT_SQL, COUNTS, TOP_COUNTS, Cell, _where, check_dims

_PER_AGENCY_SQL = """count(DISTINCT lead_id) AS top_leads,
    count(DISTINCT lead_id) FILTER (WHERE channel = 'email') AS top_email_leads,
    count(DISTINCT lead_id) FILTER (WHERE NOT bounced) AS top_delivered_leads"""


def top_agency_counts(
    session: Session, sets: Sequence[Sequence[str]], where: str, params: dict[str, Any]
) -> dict[tuple[Any, ...], dict[str, int]]:
    dims = list(sets[-1])
    grouping = f"GROUPING({', '.join(dims)})" if dims else "0"
    cols = "".join(f"{d}, " for d in dims)
    inner_sets = ", ".join("(" + ", ".join([*s, "agency_id"]) + ")" for s in sets)
    tops = ", ".join(f"max({k}) AS {k}" for k in TOP_COUNTS)
    rows = session.execute(
        text(
            f"SELECT g, {cols}{tops} FROM (SELECT {grouping} AS g, {cols}{_PER_AGENCY_SQL} "
            f"FROM insight_facts WHERE {where} GROUP BY GROUPING SETS ({inner_sets})) per "
            f"GROUP BY g{''.join(f', {d}' for d in dims)}"
        ),
        params,
    ).mappings()
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    for r in rows:
        level = len(dims) - int(r["g"]).bit_count()
        out[tuple(r[d] for d in dims[:level])] = {k: int(r[k]) for k in TOP_COUNTS}
    return out


def count_cells(session: Session, dims: Sequence[str], *, agency_id: int | None = None) -> list[Cell]:
    dims = check_dims(dims)
    where, params = _where(agency_id, None, None, None)
    sets = ", ".join("(" + ", ".join(dims[:k]) + ")" for k in range(len(dims) + 1))
    grouping = f"GROUPING({', '.join(dims)})" if dims else "0"
    cols = "".join(f"{d}, " for d in dims)
    rows = session.execute(
        text(
            f"SELECT {grouping} AS g, {cols}{COUNT_SQL} FROM insight_facts WHERE {where} "
            f"GROUP BY GROUPING SETS ({sets})"
        ),
        params,
    ).mappings()
    cells: list[Cell] = []
    for r in rows:
        level = len(dims) - int(r["g"]).bit_count()
        cell_dims = tuple(dims[:level])
        cells.append(
            Cell(key=tuple(r[d] for d in cell_dims), dims=cell_dims, counts={k: int(r[k]) for k in COUNTS})
        )
    if not any(c.level == 0 for c in cells):
        cells.append(Cell(key=(), dims=(), counts={k: 0 for k in COUNTS}))
    tops = top_agency_counts(session, [dims[:k] for k in range(len(dims) + 1)], where, params)
    for c in cells:
        c.counts.update(tops.get(c.key, {k: 0 for k in TOP_COUNTS}))
    return cells


def segment_rates(session: Session, dims: Sequence[str], *, agency_id: int | None = None) -> list[Cell]:
    return rates.shrink_cells(count_cells(session, dims, agency_id=agency_id))


def _residuals(
    session: Session, dims: Sequence[str], keep: Sequence[str], published: list[str]
) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    cols = "".join(f"{d}, " for d in keep)
    group = f"GROUP BY {', '.join(keep)}" if keep else ""
    where = f"NOT ({_key_sql(dims)} = ANY(CAST(:pub AS text[])))"
    rows = session.execute(
        text(f"SELECT {cols}{COUNT_SQL} FROM insight_facts WHERE {where} {group}"), {"pub": published}
    ).mappings()
    tops = top_agency_counts(session, [list(keep)], where, {"pub": published})
    out = []
    for r in rows:
        counts = {k: int(r[k]) for k in COUNTS}
        if counts["sends"]:
            key = tuple(r[d] for d in keep)
            out.append((key, counts | tops[key]))
    return out


def _parents(dims: Sequence[str]) -> list[list[str]]:
    return [
        [d for d in dims if d in keep]
        for size in range(len(dims) - 1, -1, -1)
        for keep in itertools.combinations(dims, size)
    ]


def platform_cells(session: Session, dims: Sequence[str]) -> list[Cell]:
    dims = check_dims(dims)
    all_cells = count_cells(session, dims)
    total = next(c for c in all_cells if c.level == 0)
    if not is_safe(total.counts):
        return []
    if not dims:
        return rates.shrink_cells([total])
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
    else:  # pragma: no cover
        published = set()
    out: list[Cell] = [total]
    for k in sorted(published):
        c = leaves[k]
        out.append(Cell(key=c.key, dims=c.dims, counts=c.counts))
    rest = _residuals(session, dims, [], sorted(published)) if published else [((), total.counts)]
    if rest and published and is_safe(rest[0][1]):
        out.append(Cell(key=tuple(OTHER for _ in dims), dims=tuple(dims), counts=rest[0][1]))
    flat = [Cell(key=(), dims=(), counts=total.counts)] + [
        Cell(key=(_key_str(c.key),), dims=("segment",), counts=c.counts) for c in out[1:]
    ]
    rates.shrink_cells(flat)
    for c, f in zip(out, flat, strict=True):
        c.rates = f.rates
    return out


def view(session: Session, dims: Sequence[str], scope: str, agency_id: int | None) -> dict[str, Any]:
    """report._view as it was."""
    from leadpool.insights.report import TOP, suggestions

    def cells(d: Sequence[str]) -> list[Cell]:
        if scope == "platform":
            return platform_cells(session, d)
        return segment_rates(session, d, agency_id=agency_id if scope == "own" else None)

    def flat(d: Sequence[str]) -> list[dict[str, Any]]:
        return [c.to_json() for c in cells(d) if c.level == len(d)]

    seg_cells = cells(dims)
    seg_dim = next((d for d in dims if d not in ("local_hour", "local_weekday")), "seniority")
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


__all__ = ["count_cells", "platform_cells", "privacy", "segment_rates", "view"]
