"""Review of 3917ea6 on the command line: ``leadpool send check`` reads the API's settings only
after the reservation is committed."""

from __future__ import annotations

from sqlalchemy import text
from tests.gate.test_cli import AT, _world
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope

runner = CliRunner()


def test_a_check_that_fails_on_the_api_settings_reserves_nothing(db: Database, monkeypatch) -> None:
    """An allowed email check builds ApiSettings() after session_scope committed the touch: a
    LEADPOOL_PUBLIC_URL without its scheme (or any other invalid API setting, e.g. a short
    LEADPOOL_ADMIN_TOKEN in the sender's environment) makes the command fail with exit 2 and no
    touch id, yet the reservation stands and counts against every cap until it expires; the
    script retries and reserves again."""
    w, lid = _world(db)
    monkeypatch.setenv("LEADPOOL_PUBLIC_URL", "lp.example.com")
    base = ["send", "check", "--lead", str(lid), "--campaign", str(w.campaign_id), "--channel", "email"]
    r = runner.invoke(app, [*base, "--at", AT, "--json"])
    with session_scope(db) as s:
        reserved = s.execute(text("SELECT count(*) FROM touches WHERE lead_id = :l"), {"l": lid}).scalar()
    assert r.exit_code == 0 or reserved == 0, (r.exit_code, r.output, reserved)
