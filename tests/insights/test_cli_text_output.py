"""The insights commands' text output is for people: key: value lines, never a Python dict."""

from __future__ import annotations

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
