"""Review of this stop's insights change (``rates.shrink_cells`` leave-one-out cap and the
``rates.ranked`` tie-break by raw rate)."""

from __future__ import annotations

from leadpool.insights import rates


def test_three_sends_that_all_answered_do_not_rank_ahead_of_five_hundred_that_mostly_did() -> None:
    """docs/insights.md: rankings (top segments, suggestions) order cells by the lower end of their
    credible interval, then the shrunk rate, so that "three sends that all answered do not come
    ahead of five hundred that mostly did". With cells A = 3/3 replies and B = 400/500 under one
    parent, the fitted prior strength is clipped to KAPPA_MAX (no spread detected) and, since the
    change, both cells take exactly the parent's posterior (the remainder branch), so their interval
    and shrunk rate tie and the new third key, the raw rate, decides: A (100%) ranks first,
    exactly the case the docs rule out (measured: ``[('a',), ('b',)]``). A raw-rate tie-break
    rewards the thinnest cell; the evidence (sends) should break the tie instead (or the cell's own
    interval). Before this stop A also came first, by 6e-6 of interval, but it is this change
    that makes the raw rate the documented decider."""
    cells = [
        rates.Cell(key=(), dims=(), counts={"delivered": 503, "replies": 403}),
        rates.Cell(key=("a",), dims=("industry",), counts={"delivered": 3, "replies": 3}),
        rates.Cell(key=("b",), dims=("industry",), counts={"delivered": 500, "replies": 400}),
    ]
    rates.shrink_cells(cells, ["reply"])
    order = [c.key for c in rates.ranked(cells, "reply")]
    assert order == [("b",), ("a",)], order
