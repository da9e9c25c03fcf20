"""A bad environment or flag is one line naming what to fix, not a traceback (and never a password):
``LEADPOOL_HOME`` that cannot be made, a ``LEADPOOL_DATABASE_URL`` whose port is not a number,
``serve --log-level`` that uvicorn does not know, a demo ``--out`` that cannot be made, and the
demo's ``--json`` summary naming its database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import typer
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from leadpool.cli.demo import demo
from leadpool.db.engine import libpq_uri
from leadpool.simulation.run import DemoSummary

MAIN = "import sys; from leadpool.cli import main; sys.argv[0] = 'leadpool'; main()"
PASSWORD = "Hunter2PW"


def _leadpool(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line(r: subprocess.CompletedProcess[str], *expected: str) -> None:
    """One error line on stderr, nothing on stdout: ``error: ...``, or under ``--json`` (the
    command line is in ``r.args``) one JSON object with the message and the exit code."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr, r.stderr
    (line,) = r.stderr.strip().splitlines()
    if "--json" in r.args:
        error = json.loads(line)
        assert error["exit_code"] == 2 and all(e in error["error"] for e in expected), line
    else:
        assert line.startswith("error: ") and all(e in line for e in expected), line
    assert PASSWORD not in r.stderr


def test_an_error_under_json_is_one_json_object_and_plain_text_without(tmp_path: Path) -> None:
    """A machine reading --json output tells a refusal from a crash without parsing prose; the
    error raised after the command's own frame (the database unreachable) too."""
    url = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    for args in (["agency", "list", "--json"], ["leads", "timeline", "1", "--json"]):
        r = _leadpool(args, LEADPOOL_HOME=str(tmp_path), LEADPOOL_DATABASE_URL=url)
        assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
        (line,) = r.stderr.strip().splitlines()
        assert json.loads(line) == {"error": json.loads(line)["error"], "exit_code": 1}, line
        assert json.loads(line)["error"].startswith("cannot reach the database"), line
    r = _leadpool(["agency", "list"], LEADPOOL_HOME=str(tmp_path), LEADPOOL_DATABASE_URL=url)
    assert r.returncode == 1 and r.stderr.startswith("error: cannot reach the database"), r.stderr


def test_a_home_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    home = tmp_path / "a-file" / "home"
    r = _leadpool(["agency", "list", "--json"], LEADPOOL_HOME=str(home))
    _one_line(r, "LEADPOOL_HOME", str(home))


def test_a_database_url_with_a_port_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/x"
    r = _leadpool(["agency", "list", "--json"], LEADPOOL_HOME=str(tmp_path), LEADPOOL_DATABASE_URL=url)
    _one_line(r, "LEADPOOL_DATABASE_URL")


def test_a_database_url_with_an_option_libpq_refuses_is_named(tmp_path: Path) -> None:
    # a misspelt option, or a value psycopg cannot read: refused before any connection is tried
    base = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x"
    for query, named in (("?sslmod=require", "sslmod"), ("?connect_timeout=soon", "connect_timeout")):
        r = _leadpool(
            ["agency", "list", "--json"], LEADPOOL_HOME=str(tmp_path), LEADPOOL_DATABASE_URL=base + query
        )
        _one_line(r, "LEADPOOL_DATABASE_URL", named)


def test_a_password_with_a_space_reaches_the_database_through_the_libpq_uri(database_uri: str) -> None:
    # the worker's queue and the gate's own connection use it: SQLAlchemy left the space raw,
    # which libpq refuses ("unexpected spaces found"); the test server trusts, so any password does
    url = make_url(database_uri).set(password=f"{PASSWORD} @:/?%x").render_as_string(hide_password=False)
    with psycopg.connect(libpq_uri(url)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert conninfo_to_dict(libpq_uri(url))["password"] == f"{PASSWORD} @:/?%x"


def test_serve_refuses_an_unknown_log_level_before_it_starts(tmp_path: Path) -> None:
    r = _leadpool(["serve", "--log-level", "bogus"], LEADPOOL_HOME=str(tmp_path))
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert "--log-level" in r.stderr and "Traceback" not in r.stderr


def test_a_demo_out_that_cannot_be_made_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LEADPOOL_HOME", str(tmp_path / "home"))
    (tmp_path / "a-file").write_text("")
    app = typer.Typer()
    app.command()(demo)
    result = CliRunner().invoke(
        app, ["--people", "100", "--days", "1", "--out", str(tmp_path / "a-file" / "x")]
    )
    assert result.exit_code == 2, result.output
    assert "output directory" in result.output and "a-file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_demo_summary_never_shows_the_database_password() -> None:
    uri = f"postgresql://postgres:{PASSWORD}@db.example:5432/leadpool_demo"
    summary = DemoSummary(people=1, days=1, seed=1, simulated_from="", simulated_to="", database_uri=uri)
    out = summary.as_dict()
    assert PASSWORD not in json.dumps(out)
    assert make_url(out["database_uri"]).database == "leadpool_demo"


def test_a_rule_across_settings_is_named_by_their_variables(tmp_path: Path) -> None:
    r = _leadpool(
        ["settings"], LEADPOOL_HOME=str(tmp_path), LEADPOOL_RECONCILE_SES_SECRET_ACCESS_KEY=PASSWORD
    )
    _one_line(r, "LEADPOOL_RECONCILE_*", "LEADPOOL_RECONCILE_SES_ACCESS_KEY_ID")
    assert "ReconcileSettings" not in r.stderr and "Value error" not in r.stderr


def test_serve_refuses_a_keep_alive_out_of_range(tmp_path: Path) -> None:
    for bad in ("0", "3601", "soon"):
        r = _leadpool(["serve", "--keep-alive", bad], LEADPOOL_HOME=str(tmp_path))
        assert r.returncode == 2 and r.stdout == "", (bad, r.stdout, r.stderr)
        assert "--keep-alive" in r.stderr and "Traceback" not in r.stderr


def test_a_statement_timeout_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    r = _leadpool(["settings"], LEADPOOL_HOME=str(tmp_path), LEADPOOL_API_STATEMENT_TIMEOUT_SECONDS="soon")
    _one_line(r, "LEADPOOL_API_STATEMENT_TIMEOUT_SECONDS")
    r = _leadpool(["settings"], LEADPOOL_HOME=str(tmp_path), LEADPOOL_API_STATEMENT_TIMEOUT_SECONDS="-1")
    _one_line(r, "LEADPOOL_API_STATEMENT_TIMEOUT_SECONDS")
