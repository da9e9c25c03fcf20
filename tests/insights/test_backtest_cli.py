"""The backtest figures and the ``leadpool insights`` commands."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import session_scope
from leadpool.insights import backtest, history

runner = CliRunner()


def test_auc_on_known_rankings():
    assert backtest.auc([0.1, 0.2, 0.3, 0.4], [False, False, True, True]) == 1.0
    assert backtest.auc([0.4, 0.3, 0.2, 0.1], [False, False, True, True]) == 0.0
    assert backtest.auc([0.5, 0.5, 0.5, 0.5], [False, True, False, True]) == 0.5  # ties share ranks
    assert backtest.auc([0.1, 0.3, 0.2, 0.4], [False, True, False, True]) == 1.0
    assert backtest.auc([0.1, 0.2], [True, True]) is None


def test_score_beats_random_and_fit_score_on_held_out_period(db):
    with db.sessionmaker() as s:
        try:
            result = backtest.run_backtest(s, seed=11, leads=8000, days=90)
        finally:
            s.rollback()
    assert result["held_out_touches"] > 5000 and result["held_out_positives"] > 20
    sc, fit, rnd, oracle = (result[k] for k in ("score", "fit_score", "random", "oracle"))
    # judged against the hidden truth: more expected positive replies for the same touches
    assert sc["expected_positives_in_top"] > fit["expected_positives_in_top"]
    assert sc["expected_positives_in_top"] > rnd["expected_positives_in_top"]
    assert oracle["expected_positives_in_top"] >= sc["expected_positives_in_top"]
    assert sc["auc"] > 0.55 > fit["auc"]
    # allocate() itself, ranking with the score vs without it, on the held-out period's leads
    alloc = result["allocation"]
    print(json.dumps(alloc))
    by_score, by_fit = alloc["by_score"], alloc["by_fit_score"]
    assert by_score["leads"] == by_fit["leads"] == alloc["allocated_each"] > 100
    assert by_score["expected_positive_replies"] > by_fit["expected_positive_replies"]
    assert alloc["expected_gain"] > 0


def test_cli_refresh_show_and_backtest(db, env):
    with session_scope(db) as s:
        from datetime import UTC, datetime

        history.generate_history(s, seed=5, leads=600, start=datetime(2026, 1, 5, tzinfo=UTC), days=30)
    r = runner.invoke(app, ["insights", "refresh", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["facts"]["new_facts"] == 1200 and out["scores"]["leads"] > 0
    r = runner.invoke(app, ["insights", "--json", "--dims", "email_status"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["status"]["facts"] == 1200
    statuses = {c["segment"]["email_status"] for c in report["all"]["bounce_by_email_status"]}
    assert statuses == {"verified", "extrapolated", "guessed"}
    assert report["all"]["suggestions"]["best_hour"]
    r = runner.invoke(app, ["insights"])
    assert r.exit_code == 0 and "bounce rate by email_status" in r.output
    r = runner.invoke(app, ["insights", "--dims", "colour"])
    assert r.exit_code == 2 and "unknown dimension" in r.output
    with session_scope(db) as s:
        touches = s.execute(text("SELECT count(*) FROM touches")).scalar_one()
    r = runner.invoke(app, ["insights", "backtest", "--json", "--leads", "1000", "--days", "30"])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)) >= {"score", "fit_score", "random", "allocation"}
    r = runner.invoke(app, ["insights", "backtest", "--leads", "600", "--days", "30"])
    assert r.exit_code == 0, r.output
    assert "allocate() on the" in r.output and "fit rank + score" in r.output
    # its spinner was drawn on stdout, ahead of the tables
    assert "simulating history" in r.stderr and "simulating history" not in r.stdout
    with session_scope(db) as s:  # the backtest's simulated rows were rolled back
        assert s.execute(text("SELECT count(*) FROM touches")).scalar_one() == touches
    r = runner.invoke(app, ["insights", "reenrich", "--json"])
    assert r.exit_code == 0, r.output
    assert "by_reason" in json.loads(r.output)


@pytest.mark.parametrize("dims", [["industry", "local_hour"]])
def test_rates_cover_hours(db, dims):
    with session_scope(db) as s:
        from datetime import UTC, datetime

        from leadpool.insights import facts, rates

        history.generate_history(s, seed=6, leads=300, start=datetime(2026, 1, 5, tzinfo=UTC), days=30)
        facts.refresh_facts(s)
        cells = rates.segment_rates(s, dims)
        hours = {c.key[1] for c in cells if c.level == 2}
        assert hours <= set(range(24)) and len(hours) > 12
