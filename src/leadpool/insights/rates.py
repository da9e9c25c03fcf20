"""Segment rates over outcome facts, with intervals and shrinkage toward the parent segment.

``segment_rates(session, dims)`` groups the facts by every prefix of ``dims`` in one query
(GROUPING SETS), so the cell (industry=X, seniority=Y) is shrunk toward (industry=X), which is
shrunk toward the whole. Each metric has its own denominator: bounce per sent email touch; reply,
positive, unsubscribe and conversion per delivered touch (sent and not hard-bounced).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.errors import InvalidInput
from leadpool.insights import stats

DIMENSIONS: tuple[str, ...] = (
    "industry",
    "seniority",
    "department",
    "size_band",
    "revenue_band",
    "country",
    "email_status",
    "data_age_band",
    "channel",
    "local_hour",
    "local_weekday",
    "sequence_position",
)
# metric -> (numerator count, denominator count)
METRICS: dict[str, tuple[str, str]] = {
    "reply": ("replies", "delivered"),
    "positive": ("positives", "delivered"),
    "bounce": ("bounces", "email_sends"),
    "unsubscribe": ("unsubscribes", "delivered"),
    "conversion": ("conversions", "delivered"),
    # what a lead score estimates: bounces count against it (a bounced touch cannot be answered)
    "positive_per_send": ("positives", "sends"),
}
REPORTED_METRICS: tuple[str, ...] = ("reply", "positive", "bounce", "unsubscribe", "conversion")
COUNTS = (
    "sends",
    "delivered",
    "email_sends",
    "replies",
    "positives",
    "bounces",
    "unsubscribes",
    "conversions",
    "leads",
    "agencies",
    # who stands behind each metric's denominator (privacy: a cell's bounce rate is its email
    # sends', which one agency alone may have made)
    "email_leads",
    "email_agencies",
    "delivered_leads",
    "delivered_agencies",
)
COUNT_SQL = """count(*) AS sends,
    count(*) FILTER (WHERE NOT bounced) AS delivered,
    count(*) FILTER (WHERE channel = 'email') AS email_sends,
    count(*) FILTER (WHERE replied AND NOT bounced) AS replies,
    count(*) FILTER (WHERE positive AND NOT bounced) AS positives,
    count(*) FILTER (WHERE bounced AND channel = 'email') AS bounces,
    count(*) FILTER (WHERE unsubscribed AND NOT bounced) AS unsubscribes,
    count(*) FILTER (WHERE converted AND NOT bounced) AS conversions,
    count(DISTINCT lead_id) AS leads,
    count(DISTINCT agency_id) AS agencies,
    count(DISTINCT lead_id) FILTER (WHERE channel = 'email') AS email_leads,
    count(DISTINCT agency_id) FILTER (WHERE channel = 'email') AS email_agencies,
    count(DISTINCT lead_id) FILTER (WHERE NOT bounced) AS delivered_leads,
    count(DISTINCT agency_id) FILTER (WHERE NOT bounced) AS delivered_agencies"""


# The largest single agency's part of each lead count of a cell (privacy.is_safe: what is left
# once the agency contributing most subtracts its own figures, which it sees in full)
TOP_COUNTS = ("top_leads", "top_email_leads", "top_delivered_leads")
# TOP_COUNTS is the maximum over a group's agencies of these, each agency's own part of the group
_PER_AGENCY = {
    "top_leads": "leads",
    "top_email_leads": "email_leads",
    "top_delivered_leads": "delivered_leads",
}


@dataclass
class Grouped:
    """The counts of every group of several grouping sets, read in one pass over the facts.

    ``groups[dims][key]``: COUNTS and TOP_COUNTS of a group; ``per_agency[dims][key][agency]``:
    the same group's COUNTS of one agency's facts. ``dims`` is the sorted tuple of the set's
    dimensions and ``key`` the group's values in that order. ``ranks[dims][key]`` (when read
    ``ordered``): each value's place in its column's order, NULL last, so that groups can be sorted
    as ``ORDER BY d1, GROUPING(d1), d2, GROUPING(d2), ...`` over a request's dims would (the order
    a rollup over them returns its rows in)."""

    groups: dict[tuple[str, ...], dict[tuple[Any, ...], dict[str, int]]]
    per_agency: dict[tuple[str, ...], dict[tuple[Any, ...], dict[int, dict[str, int]]]]
    ranks: dict[tuple[str, ...], dict[tuple[Any, ...], dict[str, int]]]
    ordered: bool

    def has(self, sets: Iterable[Sequence[str]], *, ordered: bool = False) -> bool:
        return (self.ordered or not ordered) and all(tuple(sorted(s)) in self.groups for s in sets)

    def counts(self, dims: Sequence[str], key: Sequence[Any]) -> dict[str, int] | None:
        """A group's counts, its ``key`` given in the order of ``dims``."""
        by = dict(zip(dims, key, strict=True))
        s = tuple(sorted(dims))
        return self.groups[s].get(tuple(by[d] for d in s))


_LAST = 1 << 62  # the rank of NULL: after every value


# the agency counts of a group are counted from its per-agency groups, not by the statement: each
# count(DISTINCT) is a sort of every group's facts
_AGENCY_COUNTS = ("agencies", "email_agencies", "delivered_agencies")
_GROUPED_SQL = ",\n".join(
    line.rstrip(",") for line in COUNT_SQL.split(",\n") if "DISTINCT agency_id" not in line
)


def canonical(dims: Sequence[str], key: Sequence[Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """A group's set and key in :class:`Grouped`'s order (dims sorted by name)."""
    by = dict(zip(dims, key, strict=True))
    s = tuple(sorted(dims))
    return s, tuple(by[d] for d in s)


def _read_groups(
    session: Session,
    cols: list[str],
    grouping_sets: list[tuple[str, ...]],
    where: str,
    params: dict[str, Any],
    ordered: bool,
    with_agency: bool = True,
) -> list[tuple[tuple[str, ...], int | None, tuple[Any, ...], dict[str, int], dict[str, int]]]:
    """One GROUPING SETS statement: (set, agency or None, key, counts, ranks) of each group.
    ``with_agency``: some of the sets hold ``agency_id``."""
    bits = [*cols, "agency_id"] if with_agency else list(cols)
    grouping = f"GROUPING({', '.join(bits)})" if bits else "0"
    # each value's place in the column's sort order (NULLs last), for Grouped.ranks
    ranks = "".join(f", dense_rank() OVER (ORDER BY {c}) AS rank_{c}" for c in cols) if ordered else ""
    sets_sql = ", ".join("(" + ", ".join(gs) + ")" for gs in grouping_sets)
    rows = session.execute(
        text(
            f"SELECT {grouping} AS g, {''.join(f'{c}, ' for c in bits)}"
            f"{_GROUPED_SQL}{ranks} FROM insight_facts WHERE {where} GROUP BY GROUPING SETS ({sets_sql})"
        ),
        params,
    ).mappings()
    out = []
    n = len(bits)
    for r in rows:
        g = int(r["g"])
        # GROUPING() sets bit (n-1-i) for column i when that column is not grouped in this row
        s = tuple(c for i, c in enumerate(cols) if not g >> (n - 1 - i) & 1)
        rank = {c: _LAST if r[c] is None else int(r[f"rank_{c}"]) for c in s} if ordered else {}
        out.append(
            (
                s,
                None if not with_agency or g & 1 else int(r["agency_id"]),
                tuple(r[c] for c in s),
                {k: int(r[k]) for k in COUNTS if k not in _AGENCY_COUNTS},
                rank,
            )
        )
    return out


def grouped_counts(
    session: Session,
    sets: Iterable[Sequence[str]],
    *,
    agency_id: int | None = None,
    sent_from: datetime | None = None,
    sent_before: datetime | None = None,
    campaign_ids: Sequence[int] | None = None,
    where: str | None = None,
    params: dict[str, Any] | None = None,
    ordered: bool = True,
) -> Grouped:
    """COUNTS of every group of each grouping set, and of each of its agencies' part, read in one
    pass over the facts: ``GROUPING SETS`` of each set with ``agency_id``, and the whole. When no
    lead has facts of two agencies (the whole's leads are the sum of each agency's), a group is
    the sum of its agencies' parts; otherwise a second statement reads each set without
    ``agency_id``. TOP_COUNTS are the largest agency's part and a group's agencies its per-agency
    groups (agency_id is never NULL), worked out here. ``ordered``: also rank each value in its
    column's order (a sort of the groups per column), which :func:`count_cells` needs to return
    its cells in a rollup's order."""
    wanted = sorted({tuple(sorted(check_dims(s))) for s in sets} | {()}, key=lambda s: (len(s), s))
    if where is None:
        where, params = _where(agency_id, sent_from, sent_before, campaign_ids)
    params = params or {}
    cols = sorted({d for s in wanted for d in s})
    out = Grouped(
        groups={s: {} for s in wanted},
        per_agency={s: {} for s in wanted},
        ranks={s: {} for s in wanted},
        ordered=ordered,
    )
    rows = _read_groups(session, cols, [(), *((*s, "agency_id") for s in wanted)], where, params, ordered)
    for s, agency, key, counts, rank in rows:
        if agency is None:
            out.groups[s][key] = counts
            out.ranks[s][key] = rank
        else:
            counts |= {"agencies": 1, "email_agencies": int(counts["email_sends"] > 0)}
            counts["delivered_agencies"] = int(counts["delivered"] > 0)
            out.per_agency[s].setdefault(key, {})[agency] = counts
            out.ranks[s][key] = rank
    whole = out.groups[()].get(())
    by_agency = out.per_agency[()].get((), {}).values()
    if whole is not None and whole["leads"] == sum(a["leads"] for a in by_agency):
        # no lead in two agencies' facts: every group's leads are the sum of its agencies' leads
        for s in wanted:
            for key, parts in out.per_agency[s].items():
                out.groups[s][key] = {
                    k: sum(a[k] for a in parts.values()) for k in COUNTS if k not in _AGENCY_COUNTS
                }
    else:
        out.ranks = {s: {} for s in wanted}
        again = _read_groups(
            session, cols, [tuple(s) for s in wanted], where, params, ordered, with_agency=False
        )
        for s, _, key, counts, rank in again:
            out.groups[s][key] = counts
            out.ranks[s][key] = rank
    for s, groups in out.groups.items():
        if not s and () not in groups:
            groups[()] = {k: 0 for k in COUNTS}
            out.ranks[s][()] = {}
        for key, counts in groups.items():
            agencies = out.per_agency[s].get(key, {}).values()
            counts["agencies"] = len(agencies)
            counts["email_agencies"] = sum(1 for a in agencies if a["email_sends"])
            counts["delivered_agencies"] = sum(1 for a in agencies if a["delivered"])
            counts.update({t: max((a[k] for a in agencies), default=0) for t, k in _PER_AGENCY.items()})
    return out


def check_dims(dims: Iterable[str]) -> list[str]:
    """Validate a list of dimension names (no repeats)."""
    out: list[str] = []
    for d in dims:
        if d not in DIMENSIONS:
            raise InvalidInput(f"dims: unknown dimension {d!r} (allowed: {', '.join(DIMENSIONS)})")
        if d in out:
            raise InvalidInput(f"dims: {d!r} given twice")
        out.append(d)
    return out


@dataclass
class Rate:
    x: int
    n: int
    rate: float | None  # raw x / n
    ci: tuple[float, float]  # Wilson 95% interval of the raw rate
    shrunk: float  # posterior mean, shrunk toward the parent segment
    cri: tuple[float, float]  # 95% equal-tailed Beta posterior interval
    prior_strength: float  # kappa, in pseudo-sends

    def to_json(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "n": self.n,
            "rate": None if self.rate is None else round(self.rate, 6),
            "ci": [round(self.ci[0], 6), round(self.ci[1], 6)],
            "shrunk": round(self.shrunk, 6),
            "credible": [round(self.cri[0], 6), round(self.cri[1], 6)],
            "prior_strength": round(self.prior_strength, 2),
        }


@dataclass
class Cell:
    key: tuple[Any, ...]  # dimension values, one per dim of its level
    dims: tuple[str, ...]
    counts: dict[str, int]
    rates: dict[str, Rate] = field(default_factory=dict)

    @property
    def level(self) -> int:
        return len(self.dims)

    def parent_key(self) -> tuple[Any, ...]:
        return self.key[:-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "segment": {d: v for d, v in zip(self.dims, self.key, strict=True)},
            **{k: self.counts[k] for k in COUNTS if k in self.counts},
            "rates": {m: r.to_json() for m, r in self.rates.items()},
        }


def _where(
    agency_id: int | None,
    sent_from: datetime | None,
    sent_before: datetime | None,
    campaign_ids: Sequence[int] | None = None,
) -> tuple[str, dict[str, Any]]:
    parts = ["true"]
    params: dict[str, Any] = {}
    if campaign_ids is not None:
        parts.append("campaign_id = ANY(:campaign_ids)")
        params["campaign_ids"] = list(campaign_ids)
    if agency_id is not None:
        parts.append("agency_id = :agency_id")
        params["agency_id"] = agency_id
    if sent_from is not None:
        parts.append("sent_at >= :sent_from")
        params["sent_from"] = sent_from
    if sent_before is not None:
        parts.append("sent_at < :sent_before")
        params["sent_before"] = sent_before
    return " AND ".join(parts), params


def prefixes(dims: Sequence[str]) -> list[list[str]]:
    """Every prefix of ``dims``, the whole (no dims) first."""
    return [list(dims[:k]) for k in range(len(dims) + 1)]


def count_cells(
    session: Session,
    dims: Sequence[str],
    *,
    agency_id: int | None = None,
    sent_from: datetime | None = None,
    sent_before: datetime | None = None,
    campaign_ids: Sequence[int] | None = None,
    grouped: Grouped | None = None,
) -> list[Cell]:
    """Counts of every prefix of ``dims`` (the whole first), from ``insight_facts``, in the order
    a rollup over ``dims`` returns them (each group after its sub-groups). ``grouped``: counts
    already read with the same filters (holding every prefix of ``dims``) to take them from."""
    dims = check_dims(dims)
    if grouped is None or not grouped.has(prefixes(dims), ordered=True):
        grouped = grouped_counts(
            session,
            prefixes(dims),
            agency_id=agency_id,
            sent_from=sent_from,
            sent_before=sent_before,
            campaign_ids=campaign_ids,
        )
    found: list[tuple[tuple[int, ...], Cell]] = []
    for level in range(len(dims) + 1):
        cell_dims = tuple(dims[:level])
        s = tuple(sorted(cell_dims))
        for key, counts in grouped.groups[s].items():
            if level and not counts["sends"]:
                continue
            by = dict(zip(s, key, strict=True))
            rank = grouped.ranks[s][key]
            order = tuple(x for d in dims for x in ((rank[d], 0) if d in by else (_LAST, 1)))
            found.append(
                (order, Cell(key=tuple(by[d] for d in cell_dims), dims=cell_dims, counts=dict(counts)))
            )
    found.sort(key=lambda oc: oc[0])
    return [c for _, c in found]


_TINY = 1e-3  # the least a prior parameter may be (a leave-one-out remainder rounds to about 0)


def shrink_cells(cells: list[Cell], metrics: Sequence[str] = REPORTED_METRICS) -> list[Cell]:
    """Fill each cell's rates: raw with a Wilson interval, and shrunk toward its parent.

    Level 0 (everything) uses a Jeffreys prior. Each deeper level fits one prior strength per
    metric from all its cells (method of moments against their parents' shrunk rates), then
    each cell's posterior is Beta(kappa * parent + x, kappa * (1 - parent) + n - x), unless kappa
    is more than the parent's posterior holds besides the cell's own sends: then the prior is that
    remainder (the parent's posterior minus the cell's sends), so a cell is never more certain
    than the data behind it.
    """
    by_level: dict[int, list[Cell]] = {}
    for c in cells:
        by_level.setdefault(c.level, []).append(c)
    index: dict[tuple[Any, ...], Cell] = {}
    for level in sorted(by_level):
        for c in by_level[level]:
            index[c.key] = c
        for m in metrics:
            xk, nk = METRICS[m]
            if level == 0:
                for c in by_level[level]:
                    x, n = c.counts[xk], c.counts[nk]
                    a, b = x + 0.5, n - x + 0.5
                    c.rates[m] = Rate(
                        x,
                        n,
                        x / n if n else None,
                        stats.wilson(x, n),
                        a / (a + b),
                        stats.credible_interval(a, b),
                        1.0,
                    )
                continue
            triples = []
            for c in by_level[level]:
                parent = index[c.parent_key()]
                triples.append((c.counts[nk], c.counts[xk], parent.rates[m].shrunk))
            kappa = stats.fit_prior_strength(triples)
            for c, (n, x, pm) in zip(by_level[level], triples, strict=True):
                # the prior can say no more than what the parent knows *besides this cell*: a cell
                # holding most of its parent's sends would otherwise count them twice and claim a
                # certainty no data gave it (one industry so far: its interval collapsed onto the
                # parent's mean). Past that, the prior is the parent's posterior without this
                # cell's own sends, so a cell that is all of its parent gets the parent's answer.
                up = index[c.parent_key()].rates[m]
                whole = up.prior_strength + up.n  # the parent's posterior a + b
                if kappa < whole - n:
                    a, b = stats.posterior(x, n, pm, kappa)
                else:
                    a_p = up.shrunk * whole
                    a, b = max(a_p - x, _TINY) + x, max(whole - a_p - (n - x), _TINY) + (n - x)
                c.rates[m] = Rate(
                    x,
                    n,
                    x / n if n else None,
                    stats.wilson(x, n),
                    a / (a + b),
                    stats.credible_interval(a, b),
                    a + b - n,
                )
    return cells


def segment_rates(
    session: Session,
    dims: Sequence[str],
    *,
    agency_id: int | None = None,
    metrics: Sequence[str] = REPORTED_METRICS,
    sent_from: datetime | None = None,
    sent_before: datetime | None = None,
    campaign_ids: Sequence[int] | None = None,
    grouped: Grouped | None = None,
) -> list[Cell]:
    """Rates of every cell of ``dims`` and of each parent prefix (agency-scoped when given).
    ``grouped``: counts already read with the same filters, as :func:`count_cells` takes them."""
    for m in metrics:
        if m not in METRICS:
            raise InvalidInput(f"metrics: unknown metric {m!r} (allowed: {', '.join(METRICS)})")
    cells = count_cells(
        session,
        dims,
        agency_id=agency_id,
        sent_from=sent_from,
        sent_before=sent_before,
        campaign_ids=campaign_ids,
        grouped=grouped,
    )
    return shrink_cells(cells, metrics)


def ranked(cells: Iterable[Cell], metric: str, *, level: int | None = None) -> list[Cell]:
    """Cells (of the deepest level unless ``level`` is given) best first by the lower end of their
    credible interval, then the shrunk rate: a cell of three sends that all answered is not ahead
    of five hundred that mostly did (the shrinkage alone is weak when segments really differ).
    Cells pooled fully (no spread detected between them) share one posterior: their own Wilson
    interval's lower end then orders them (three sends that all answered still do not come first)."""
    cells = list(cells)
    if not cells:
        return []
    depth = max(c.level for c in cells) if level is None else level

    def key(c: Cell) -> tuple[Any, ...]:
        r = c.rates[metric]
        # rounded: a shared posterior computed through different sums differs in its last bits
        return (-round(r.cri[0], 9), -round(r.shrunk, 9), -r.ci[0], -(r.rate or 0.0), c.key)

    return sorted((c for c in cells if c.level == depth and metric in c.rates), key=key)
