"""Inline SVG for insights: rates as dots with their 95% interval as a whisker, one row per cell."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

DOT = "#2563eb"
WHISKER = "#94a3b8"


def interval_chart(
    rows: Sequence[tuple[str, float, float, float]], *, title: str, width: int = 560, row_height: int = 18
) -> Markup:
    """One row per (label, rate, low, high): a dot at the rate and a line across the interval."""
    height = 34 + row_height * max(1, len(rows))
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" aria-label="{escape(title)}">'
        f'<text x="8" y="16" font-size="13" font-weight="600">{escape(title)}</text>'
    )
    if not rows:
        return Markup(head + '<text x="8" y="40" fill="#6b7280" font-size="12">no data yet</text></svg>')
    left, right = 170, width - 60
    top = max(h for _, _, _, h in rows) or 1.0
    parts = [head]
    for i, (label, rate, lo, hi) in enumerate(rows):
        y = 34 + i * row_height + row_height / 2

        def x(v: float) -> float:
            return left + (right - left) * v / top

        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(
            f'<text x="8" y="{y + 4:.1f}" font-size="11">{escape(short)}</text>'
            f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{WHISKER}" stroke-width="2"/>'
            f'<circle cx="{x(rate):.1f}" cy="{y:.1f}" r="4" fill="{DOT}"><title>{escape(label)}: '
            f"{rate * 100:.2f}% ({lo * 100:.2f}-{hi * 100:.2f}%)</title></circle>"
            f'<text x="{right + 6}" y="{y + 4:.1f}" font-size="11">{rate * 100:.1f}%</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def rows_for(
    cells: Sequence[dict[str, object]], metric: str, *, shrunk: bool = True
) -> list[tuple[str, float, float, float]]:
    """Chart rows from report cells (``Cell.to_json()``): shrunk rate and credible interval."""
    out = []
    for c in cells:
        seg = c["segment"]
        assert isinstance(seg, dict)
        label = ", ".join(str(v) for v in seg.values()) or "(all)"
        rates = c["rates"]
        assert isinstance(rates, dict)
        r = rates[metric]
        if r["n"] == 0:
            continue
        if shrunk:
            out.append((label, float(r["shrunk"]), float(r["credible"][0]), float(r["credible"][1])))
        else:
            out.append((label, float(r["rate"]), float(r["ci"][0]), float(r["ci"][1])))
    return out
