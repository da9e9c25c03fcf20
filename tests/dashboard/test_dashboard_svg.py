"""The server-side SVG charts: escaped labels, one shape per value, an empty state."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from leadpool.dashboard.svg import bar_chart, line_chart, stacked_bar_chart

NS = "{http://www.w3.org/2000/svg}"


def test_bars_escape_labels_and_scale():
    svg = str(bar_chart([("<script>alert(1)</script>", 10), ("b & c", 5)], title='T "1"'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    root = ET.fromstring(svg)  # well-formed XML
    widths = [float(r.get("width")) for r in root.iter(f"{NS}rect")]
    assert len(widths) == 2 and abs(widths[0] - 2 * widths[1]) < 0.2


def test_stacked_bars_and_lines():
    svg = str(stacked_bar_chart(["x", "y"], {"owned": [1, 2], "free": [3, 0]}, title="s"))
    root = ET.fromstring(svg)
    assert len([r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]) == 3
    line = ET.fromstring(
        str(line_chart(["d1", "d2", "d3"], {"allow": [1, 2, 3], "quiet_hours": [0, 1, 0]}, title="l"))
    )
    assert len(list(line.iter(f"{NS}polyline"))) == 2


def test_no_data_says_so():
    assert "no data yet" in str(bar_chart([], title="Empty"))
    assert "no data yet" in str(line_chart([], {}, title="Empty"))
