"""Tiny server-side SVG charts (bars, stacked bars, lines), so pages need no script or CDN.

Every label is escaped; the output is markup ready to inline in a template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#d97706",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#9ca3af",
    "#475569",
)


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" aria-label="{escape(title)}">'
    )


def _short(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _empty(width: int, height: int, title: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" aria-label="{escape(title)}"><text x="10" y="24" fill="#6b7280" '
        f'font-size="13">{escape(title)}: no data yet</text></svg>'
    )


def _legend(names: Sequence[str], x: float, y: float) -> str:
    parts = []
    for i, name in enumerate(names):
        yy = y + i * 16
        parts.append(
            f'<rect x="{_num(x)}" y="{_num(yy - 9)}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{_num(x + 14)}" y="{_num(yy)}" font-size="11">{escape(name)}</text>'
        )
    return "".join(parts)


def bar_chart(
    items: Sequence[tuple[str, float]], *, title: str, width: int = 520, bar_height: int = 18
) -> Markup:
    """Horizontal bars, one per (label, value)."""
    return stacked_bar_chart(
        [label for label, _ in items],
        {"": [v for _, v in items]},
        title=title,
        width=width,
        bar_height=bar_height,
    )


def stacked_bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    width: int = 520,
    bar_height: int = 18,
) -> Markup:
    """Horizontal stacked bars: one row per category, one colour per series (legend if named)."""
    names = list(series)
    totals = [sum(series[n][i] for n in names) for i in range(len(categories))]
    if not categories or max(totals, default=0) <= 0:
        return _empty(width, 40, title)
    label_w, right = 150, 60
    named = [n for n in names if n]
    legend_h = 16 * len(named)
    top = 24 + legend_h
    height = top + len(categories) * (bar_height + 6) + 8
    scale = (width - label_w - right) / max(totals)
    out = [
        _open(width, height, title),
        f'<text x="0" y="14" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    if named:
        out.append(_legend(named, label_w, 30))
    for i, cat in enumerate(categories):
        y = top + i * (bar_height + 6)
        out.append(
            f'<text x="{label_w - 6}" y="{_num(y + bar_height * 0.72)}" font-size="11" '
            f'text-anchor="end">{escape(_short(cat))}</text>'
        )
        x = float(label_w)
        for j, name in enumerate(names):
            w = series[name][i] * scale
            if w > 0:
                out.append(
                    f'<rect x="{_num(x)}" y="{y}" width="{_num(w)}" height="{bar_height}" '
                    f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(cat)} {escape(name)}: '
                    f"{_num(series[name][i])}</title></rect>"
                )
                x += w
        out.append(
            f'<text x="{_num(x + 4)}" y="{_num(y + bar_height * 0.72)}" font-size="11">{_num(totals[i])}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def line_chart(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """One line per series over shared x labels (e.g. days), with a legend and a y axis."""
    peak = max((v for s in series.values() for v in s), default=0)
    if not x_labels or peak <= 0:
        return _empty(width, 40, title)
    left, right, top, bottom = 40, 170, 24, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(x_labels) - 1)
    out = [
        _open(width, height, title),
        f'<text x="0" y="14" font-size="13" font-weight="600">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{_num(peak)}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    every = max(1, len(x_labels) // 6)
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == len(x_labels) - 1:
            out.append(
                f'<text x="{_num(left + i * step)}" y="{height - 8}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    for j, values in enumerate(series.values()):
        colour = PALETTE[j % len(PALETTE)]
        points = " ".join(
            f"{_num(left + i * step)},{_num(top + plot_h - v / peak * plot_h)}" for i, v in enumerate(values)
        )
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        if len(values) == 1:
            out.append(
                f'<circle cx="{left}" cy="{_num(top + plot_h - values[0] / peak * plot_h)}" r="3" fill="{colour}"/>'
            )
    out.append(_legend(list(series), left + plot_w + 12, top + 8))
    out.append("</svg>")
    return Markup("".join(out))
