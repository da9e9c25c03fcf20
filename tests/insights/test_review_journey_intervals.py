"""An operator's journey: the first `leadpool insights` on a young platform."""

from __future__ import annotations

import pytest

from insights.factrows import add_facts
from leadpool.db import session_scope
from leadpool.insights import rates


@pytest.mark.parametrize(("sends", "replies"), [(1, 0), (200, 20)])
def test_a_segment_holding_all_its_parents_sends_is_not_more_certain_than_the_parent(db, sends, replies):
    """docs/insights.md promises "honest uncertainty": each rate has a 95% credible interval. When
    a level has no spread to measure (one industry so far, or cells of one send each), the fitted
    prior strength is clipped to 100,000 pseudo-sends, and the child's interval collapses onto the
    parent's point estimate. Observed after one sent touch with no bounce (`leadpool insights`):
    the platform cell says bounce 25% [0.04%-85%], its only industry, made of the very same touch,
    says 25.00% [24.73%-25.27%]; with 200 sends the child claims +-0.2% where the parent (same
    sends) has +-4%. Rankings order cells by the lower end of this interval, so an overconfident
    thin cell ranks as if it were well measured. A cell cannot know more than the data behind it:
    a segment made of exactly its parent's sends must not get a narrower interval than the parent."""
    with session_scope(db) as s:
        add_facts(s, sends, replies=replies, industry="construction")
    with session_scope(db) as s:
        cells = {c.key: c for c in rates.segment_rates(s, ["industry"])}
    parent, child = cells[()], cells[("construction",)]
    for metric in ("reply", "bounce"):
        p, c = parent.rates[metric], child.rates[metric]
        assert (p.x, p.n) == (c.x, c.n)  # the same data
        p_width = p.cri[1] - p.cri[0]
        c_width = c.cri[1] - c.cri[0]
        assert c_width >= 0.9 * p_width, (
            f"{metric}: child {c.shrunk:.4f} {c.cri} is far narrower than the parent "
            f"{p.shrunk:.4f} {p.cri} built from the same {p.n} sends"
        )
