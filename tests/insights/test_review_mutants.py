"""Tests written while mutation-testing insights: each pins a rule whose wrong version the suite
did not notice (the mutant it kills is named in its docstring)."""

from __future__ import annotations

from insights.factrows import add_facts
from leadpool.db import session_scope
from leadpool.insights import privacy
from leadpool.insights.privacy import MIN_AGENCIES, MIN_LEADS


def _split(s, leads: int, industry: str) -> None:
    """``leads`` leads (one touch each) of ``industry``, shared out over agencies 1..3."""
    per = [leads // 3 + (1 if i < leads % 3 else 0) for i in range(3)]
    for agency, n in zip((1, 2, 3), per, strict=True):
        add_facts(s, n, replies=1, agency_id=agency, industry=industry)


def test_a_cell_one_lead_short_of_the_threshold_is_not_published(db) -> None:
    """k-anonymity between agencies: a platform cell needs at least ``MIN_LEADS`` (50) leads.
    A cell of 49 leads (three agencies) is not published. Kills the lead threshold off by one
    (``>= MIN_LEADS - 1`` survived the suite: no test put a cell on the bound)."""
    assert (MIN_LEADS, MIN_AGENCIES) == (50, 3)
    with session_scope(db) as s:
        _split(s, 300, "software")
        _split(s, 300, "construction")
        _split(s, 49, "thin")
    with session_scope(db) as s:
        cells = privacy.platform_cells(s, ["industry"])
    keys = [c.key for c in cells]
    assert ("thin",) not in keys and ("software",) in keys
    assert all(c.counts["leads"] >= MIN_LEADS for c in cells)


def test_a_cell_of_exactly_the_threshold_is_published(db) -> None:
    """The threshold is "at least": 50 leads from three agencies is a publishable cell (a
    strict ``>`` would hide it)."""
    with session_scope(db) as s:
        _split(s, 300, "software")
        _split(s, 300, "construction")
        _split(s, 50, "edge")
    with session_scope(db) as s:
        cells = privacy.platform_cells(s, ["industry"])
    edge = next(c for c in cells if c.key == ("edge",))
    assert edge.counts["leads"] == 50 and edge.counts["agencies"] == 3


def test_a_cell_whose_delivered_touches_are_one_agencys_is_not_published(db) -> None:
    """Reply, positive, unsubscribe and conversion rates are per delivered touch, so a cell is
    published only if its delivered touches too come from enough leads and agencies
    (``privacy.is_safe``). Here "logistics" has 62 leads and three agencies, but agencies 2 and
    3 each sent one email that hard-bounced: every delivered touch, hence its reply rate, is
    agency 1's alone. Dropping the delivered-denominator check survived the suite (only the
    email-sends one was tested)."""
    with session_scope(db) as s:
        for a in (1, 2, 3):
            add_facts(s, 100, replies=5, bounces=3, agency_id=a, industry="software")
            add_facts(s, 90, replies=4, bounces=2, agency_id=a, industry="construction")
            add_facts(s, 60, replies=3, bounces=1, agency_id=a, industry="retail")
        add_facts(s, 60, replies=9, agency_id=1, industry="logistics")
        add_facts(s, 1, bounces=1, agency_id=2, industry="logistics")
        add_facts(s, 1, bounces=1, agency_id=3, industry="logistics")
    with session_scope(db) as s:
        cells = privacy.platform_cells(s, ["industry"])
    keys = [c.key for c in cells]
    assert ("software",) in keys and ("logistics",) not in keys
    for c in cells:
        assert c.counts["delivered_agencies"] >= MIN_AGENCIES and c.counts["delivered_leads"] >= MIN_LEADS, (
            c.key
        )


def test_an_out_of_office_answer_is_not_a_reply(db) -> None:
    """Outcome facts: ``replied`` is a human reply, "any category except out_of_office"
    (facts.py). An auto-responder counted as a reply would lift every segment's reply rate and
    the lead scores built on it. Counting it survived the suite (no test had an OOO event)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from leadpool.insights import facts, history

    start = datetime(2026, 1, 5, tzinfo=UTC)
    with session_scope(db) as s:
        h = history.generate_history(s, seed=3, leads=20, start=start, days=2)
        facts.refresh_facts(s)
    lead_a, lead_b = h.lead_ids[:2]
    at = start + timedelta(days=30)
    ids = {}
    with session_scope(db) as s:
        for name, lead in (("ooo", lead_a), ("ooo_then_reply", lead_b)):
            ids[name] = s.execute(
                text(
                    "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, sent_at, "
                    "local_date, expires_at) VALUES (:l, -1, -1, 'email', 'sent', :at, :at, CAST(:at AS date), "
                    "now() + interval '1 hour') RETURNING id"
                ),
                {"l": lead, "at": at},
            ).scalar_one()
        events = [
            ("ooo", lead_a, "out_of_office", 1),
            ("ooo_then_reply", lead_b, "out_of_office", 1),
            ("ooo_then_reply", lead_b, "interested", 2),
        ]
        for n, (name, lead, category, hours) in enumerate(events):
            s.execute(
                text(
                    "INSERT INTO events (type, category, lead_id, touch_id, occurred_at, source, provider_event_id) "
                    "VALUES ('reply', :c, :l, :t, :at, 'test', :k)"
                ),
                {
                    "c": category,
                    "l": lead,
                    "t": ids[name],
                    "at": at + timedelta(hours=hours),
                    "k": f"ooo-{n}",
                },
            )
    with session_scope(db) as s:
        facts.refresh_facts(s)
        rows = {
            r[0]: r[1:]
            for r in s.execute(
                text(
                    "SELECT touch_id, replied, reply_category, positive FROM insight_facts WHERE touch_id = ANY(:t)"
                ),
                {"t": list(ids.values())},
            )
        }
    assert rows[ids["ooo"]] == (False, None, False)
    assert rows[ids["ooo_then_reply"]] == (True, "interested", True)
