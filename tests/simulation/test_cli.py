"""The ``demo`` command: JSON output, exit code, and the default fresh ``leadpool_demo`` database."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import typer
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from leadpool.cli.demo import demo
from leadpool.db import Database
from leadpool.simulation.service import DEMO_DATABASE


def test_demo_command_json(db: Database, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(demo)
    result = CliRunner().invoke(
        app, ["--people", "800", "--days", "2", "--seed", "3", "--out", str(tmp_path), "--json"]
    )
    try:
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["violations"] == 0
        assert out["days"] == 2 and out["people"] == 800
        assert out["touches_attempted"] == out["touches_allowed"] + out["touches_denied"]
        assert Path(out["report_path"]).exists()
        # it worked in its own database, not in the service's (the test database stays empty)
        assert make_url(out["database_uri"]).database == DEMO_DATABASE
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM leads").scalar_one() == 0
    finally:
        admin = make_url(db.uri).set(database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)')
