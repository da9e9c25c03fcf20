"""Segment rates on known counts: raw rates, Wilson intervals, hierarchy, and shrinkage of thin cells."""

from __future__ import annotations

import pytest

from insights.factrows import add_facts
from leadpool.db import session_scope
from leadpool.errors import InvalidInput
from leadpool.insights import rates, stats


def _by_key(cells):
    return {c.key: c for c in cells}


def test_rates_on_known_counts(db):
    with session_scope(db) as s:
        add_facts(s, 200, replies=20, positives=5, bounces=10, industry="software")
        add_facts(s, 100, replies=2, bounces=0, industry="retail", channel="linkedin")
    with session_scope(db) as s:
        cells = _by_key(rates.segment_rates(s, ["industry"]))
    sw = cells[("software",)]
    assert sw.counts["sends"] == 200 and sw.counts["delivered"] == 190 and sw.counts["email_sends"] == 200
    r = sw.rates["reply"]
    assert (r.x, r.n) == (20, 190)
    assert r.rate == pytest.approx(20 / 190)
    assert r.ci == pytest.approx(stats.wilson(20, 190))
    assert sw.rates["positive"].x == 5
    b = sw.rates["bounce"]
    assert (b.x, b.n, b.rate) == (10, 200, pytest.approx(0.05))
    # linkedin touches are not email sends: no bounce denominator
    rt = cells[("retail",)]
    assert rt.rates["bounce"].n == 0 and rt.rates["bounce"].rate is None
    whole = cells[()]
    assert whole.rates["reply"].x == 22 and whole.rates["reply"].n == 290
    # every credible interval holds its posterior mean
    for c in cells.values():
        for rate in c.rates.values():
            assert rate.cri[0] <= rate.shrunk <= rate.cri[1]


def test_hierarchy_has_every_prefix(db):
    with session_scope(db) as s:
        add_facts(s, 50, replies=5, industry="software", seniority="vp")
        add_facts(s, 50, replies=1, industry="software", seniority="owner")
        add_facts(s, 40, replies=2, industry="retail", seniority="vp")
    with session_scope(db) as s:
        cells = _by_key(rates.segment_rates(s, ["industry", "seniority"]))
    assert set(cells) == {
        (),
        ("software",),
        ("retail",),
        ("software", "vp"),
        ("software", "owner"),
        ("retail", "vp"),
    }
    assert cells[("software",)].counts["sends"] == 100


def test_thin_cell_does_not_top_the_ranking(db):
    with session_scope(db) as s:
        # ten solid segments between 4% and 8%, and one of 3 sends with 2 replies (67% raw)
        for i in range(10):
            add_facts(s, 1000, replies=40 + 4 * i, industry=f"ind{i}")
        add_facts(s, 3, replies=2, industry="tiny")
    with session_scope(db) as s:
        cells = rates.segment_rates(s, ["industry"])
    top = rates.ranked(cells, "reply")
    assert top[0].key == ("ind9",)
    tiny = next(c for c in cells if c.key == ("tiny",))
    assert tiny.rates["reply"].rate == pytest.approx(2 / 3)
    # shrunk most of the way back to the parent (about 6%)
    assert tiny.rates["reply"].shrunk < top[0].rates["reply"].shrunk
    assert tiny.rates["reply"].shrunk < 0.15
    # while the big cells barely move
    assert top[0].rates["reply"].shrunk == pytest.approx(0.076, abs=0.01)


def test_bad_dimension_is_refused(db):
    with session_scope(db) as s, pytest.raises(InvalidInput, match="unknown dimension 'colour'"):
        rates.segment_rates(s, ["industry", "colour"])
    with session_scope(db) as s, pytest.raises(InvalidInput, match="given twice"):
        rates.segment_rates(s, ["industry", "industry"])


def test_a_cell_of_three_sends_does_not_top_the_ranking(db) -> None:
    from leadpool.insights import rates

    with session_scope(db) as s:
        for name, replies in (("a", 25), ("b", 50), ("c", 75), ("d", 100), ("e", 125)):
            add_facts(s, 500, replies=replies, agency_id=1, industry=name)  # 5% .. 25%
        add_facts(s, 3, replies=3, agency_id=1, industry="tiny")  # 3 of 3
    with session_scope(db) as s:
        top = rates.ranked(rates.segment_rates(s, ["industry"]), "reply", level=1)
    assert top[0].key == ("e",)
