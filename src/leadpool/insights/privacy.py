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

from sqlalchemy.orm import Session

from leadpool.insights import rates
from leadpool.insights.rates import Cell

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


# counts a group of leaves sums exactly (the lead counts only when no lead is in two of them)
_ADDITIVE = tuple(c for c in rates.COUNTS if not c.endswith("agencies"))


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


def platform_sets(dims: Sequence[str]) -> list[list[str]]:
    """The grouping sets :func:`platform_cells` reads for ``dims``: the cells and every parent."""
    return [list(dims), *_parents(dims)]


class _Residuals:
    """Counts of the facts outside the published cells, grouped by each parent segment.

    Worked out from the cells' counts where that is exact: a parent with no unpublished cell has
    none; one with no published cell is the parent itself; one whose cells share no lead is the
    sum of its unpublished cells (leads, and each agency's leads, add up; agencies are the union
    of theirs). Otherwise (a lead in two cells of the parent, e.g. sent at two local hours) the
    facts are read again: one statement for every such parent, per set of published cells."""

    def __init__(self, session: Session, dims: list[str], grouped: rates.Grouped, leaves: dict[str, Cell]):
        self.session, self.dims, self.grouped, self.leaves = session, dims, grouped, leaves
        self.full = tuple(sorted(dims))
        self.parents = _parents(dims)
        # parent -> parent key (in the parent's dims order) -> its cells' key strings
        self.members: dict[tuple[str, ...], dict[tuple[Any, ...], list[str]]] = {}
        for keep in self.parents:
            idx = [dims.index(d) for d in keep]
            groups: dict[tuple[Any, ...], list[str]] = {}
            for k, c in leaves.items():
                groups.setdefault(tuple(c.key[i] for i in idx), []).append(k)
            self.members[tuple(keep)] = groups
        self.memo: dict[
            frozenset[str], dict[tuple[str, ...], list[tuple[tuple[Any, ...], dict[str, int]]]]
        ] = {}

    def get(self, keep: Sequence[str], published: set[str]) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
        pub = frozenset(published)
        if pub not in self.memo:
            self.memo = {pub: self._compute(pub)}
        return self.memo[pub][tuple(keep)]

    def _compute(
        self, pub: frozenset[str]
    ) -> dict[tuple[str, ...], list[tuple[tuple[Any, ...], dict[str, int]]]]:
        out: dict[tuple[str, ...], list[tuple[tuple[Any, ...], dict[str, int]]]] = {}
        reread: list[list[str]] = []
        for keep in self.parents:
            rows = []
            for pkey, members in self.members[tuple(keep)].items():
                rest = [k for k in members if k not in pub]
                if not rest:
                    continue
                parent = self.grouped.counts(keep, pkey)
                assert parent is not None
                if len(rest) == len(members):
                    rows.append((pkey, dict(parent)))
                elif sum(self.leaves[k].counts["leads"] for k in members) == parent["leads"]:
                    rows.append((pkey, self._sum(rest)))
                else:
                    break
            else:
                out[tuple(keep)] = rows
                continue
            reread.append(keep)
        if reread:
            where = f"NOT ({_key_sql(self.dims)} = ANY(CAST(:pub AS text[])))"
            again = rates.grouped_counts(
                self.session, reread, where=where, params={"pub": sorted(pub)}, ordered=False
            )
            for keep in reread:
                s = tuple(sorted(keep))
                rows = []
                for ckey, counts in again.groups[s].items():
                    if counts["sends"]:
                        by = dict(zip(s, ckey, strict=True))
                        rows.append((tuple(by[d] for d in keep), counts))
                out[tuple(keep)] = rows
        return out

    def _sum(self, rest: list[str]) -> dict[str, int]:
        """The counts of cells that share no lead, taken together."""
        counts = {k: 0 for k in _ADDITIVE}
        agencies: dict[int, dict[str, int]] = {}
        email_agencies: set[int] = set()
        delivered_agencies: set[int] = set()
        for k in rest:
            leaf = self.leaves[k]
            for c in _ADDITIVE:
                counts[c] += leaf.counts[c]
            s, ckey = rates.canonical(self.dims, leaf.key)
            for a, ac in self.grouped.per_agency[s].get(ckey, {}).items():
                mine = agencies.setdefault(a, {"leads": 0, "email_leads": 0, "delivered_leads": 0})
                for c in mine:
                    mine[c] += ac[c]
                if ac["email_sends"]:
                    email_agencies.add(a)
                if ac["delivered"]:
                    delivered_agencies.add(a)
        counts["agencies"] = len(agencies)
        counts["email_agencies"] = len(email_agencies)
        counts["delivered_agencies"] = len(delivered_agencies)
        for top, c in (
            ("top_leads", "leads"),
            ("top_email_leads", "email_leads"),
            ("top_delivered_leads", "delivered_leads"),
        ):
            counts[top] = max((a[c] for a in agencies.values()), default=0)
        return counts


def platform_cells(
    session: Session,
    dims: Sequence[str],
    metrics: Sequence[str] = rates.REPORTED_METRICS,
    *,
    grouped: rates.Grouped | None = None,
) -> list[Cell]:
    """The privacy-safe platform view of ``dims``: the whole (level 0, if safe), the published
    cells, and "(other)" for the rest when it is safe. Rates shrink toward the whole.
    ``grouped``: counts of all facts already read for :func:`platform_sets` of ``dims``."""
    dims = rates.check_dims(dims)
    if grouped is None or not grouped.has(platform_sets(dims)):
        grouped = rates.grouped_counts(session, platform_sets(dims), ordered=False)
    total = Cell(key=(), dims=(), counts=dict(grouped.groups[()][()]))
    if not is_safe(total.counts):
        return []
    if not dims:
        return rates.shrink_cells([total], metrics)
    leaves: dict[str, Cell] = {}
    full = tuple(sorted(dims))
    for ckey, counts in grouped.groups[full].items():
        by = dict(zip(full, ckey, strict=True))
        key = tuple(by[d] for d in dims)
        leaves[_key_str(key)] = Cell(key=key, dims=tuple(dims), counts=dict(counts))
    residuals = _Residuals(session, dims, grouped, leaves)
    published = {k for k, c in leaves.items() if is_safe(c.counts)}
    for _ in range(_MAX_ROUNDS):
        withdrawn = False
        for keep in _parents(dims):
            if not published:
                break
            idx = [dims.index(d) for d in keep]
            for pkey, counts in residuals.get(keep, published):
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
    rest = residuals.get([], published) if published else [((), total.counts)]
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
