"""The insights commands' text output is for people: key: value lines, never a Python dict."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from insights.factrows import add_facts
from leadpool.cli import app
from leadpool.db import session_scope


def test_insights_text_output_is_not_a_python_dict(db):
    with session_scope(db) as s:
        add_facts(s, 30, replies=3, industry="construction")
    for args in (["insights", "refresh"], ["insights"], ["insights", "reenrich"]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        assert "{'" not in res.output and "': " not in res.output, (args, res.output)
    res = CliRunner().invoke(app, ["insights", "refresh"])
    assert "facts." in res.output and "scores." in res.output


def test_insights_progress_is_on_stderr_and_still_shown_under_json(db, terminal):
    """refresh drew its spinner on stdout (the first line of a redirected run) and none under
    --json; reenrich showed none at all."""
    with session_scope(db) as s:
        add_facts(s, 30, replies=3, industry="construction")
    runner = CliRunner()
    for args, said in ((["insights", "refresh"], "scoring leads"), (["insights", "reenrich"], "re-enrich")):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert said in res.stderr and said not in res.stdout, (args, res.stdout)
        res = runner.invoke(app, [*args, "--json"])
        assert res.exit_code == 0, res.output
        json.loads(res.stdout)
        assert said in res.stderr and "\x1b[2K" in res.stderr, (args, res.stderr)  # shown, then wiped


def test_a_redirected_insights_refresh_prints_its_answer_first(db):
    """Piped (no terminal), stdout began with the spinner's last frame: "⠋ scoring leads 0:00:00"."""
    res = CliRunner().invoke(app, ["insights", "refresh"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("facts.") and "scoring leads" in res.stderr
