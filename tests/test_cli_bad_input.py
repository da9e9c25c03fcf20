"""What a person may type (or store) that the CLI must answer in one line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.allocation.factories import make_agency, make_campaign
from typer.testing import CliRunner

from leadpool.apollo.generate import generate_people
from leadpool.cli import app
from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion.lock import IMPORT_LOCK_KEY


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    assert "Traceback" not in res.output, res.output
    return res.exit_code, res.output


def _error(out: str, code: int) -> str:
    """The message of an error line: ``error: ...``, or under ``--json`` its JSON object's."""
    line = " ".join(out.split())
    if line.startswith("{"):
        error = json.loads(out)
        assert error["exit_code"] == code, out
        return str(error["error"])
    assert line.startswith("error: "), out
    return line.removeprefix("error: ")


def test_stored_text_with_brackets_is_printed_as_it_is(db: Database) -> None:
    # Rich would read "[/bold]" as markup: the agency was stored, then printing it failed
    code, out = _run("agency", "create", "Acme [/bold] Ltd")
    assert code == 0 and "Acme [/bold] Ltd" in out
    code, out = _run("agency", "list")
    assert code == 0 and "Acme [/bold] Ltd" in out
    code, out = _run("agency", "create", "Acme [/bold] Ltd")
    assert code == 2 and "already taken" in out


def test_a_misshaped_setting_is_named_without_its_value(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH", '{"user": "SuperSecretPw"}')
    code, out = _run("settings")
    assert code == 2 and "LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH" in out and "SuperSecretPw" not in out
    monkeypatch.delenv("LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH")
    monkeypatch.setenv("LEADPOOL_EVENTS_COOLING_DAYS", "abc")
    code, out = _run("settings", "--json")
    assert code == 2 and "LEADPOOL_EVENTS_COOLING_DAYS" in out
    monkeypatch.delenv("LEADPOOL_EVENTS_COOLING_DAYS")
    for name, value in (
        ("LEADPOOL_EVENTS_COMPLAINT_GUARD_RATE", "2"),
        ("LEADPOOL_EVENTS_COMPLAINT_GUARD_MIN_COMPLAINTS", "0"),
    ):
        monkeypatch.setenv(name, value)
        code, out = _run("settings")
        assert code == 2 and name in out, out
        monkeypatch.delenv(name)


def test_an_unknown_status_filter_is_refused(db: Database) -> None:
    for command in (["agency", "list"], ["jobs", "list"]):
        code, out = _run(*command, "--status", "bogus")
        assert code == 2 and "'bogus' is not one of" in out, command


def test_a_labelled_file_that_cannot_be_read_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for path in (tmp_path / "missing.jsonl", tmp_path):
        code, out = _run("event", "classifier-eval", "--file", str(path))
        assert code == 2 and "cannot read the labelled replies" in out


def test_a_bad_or_unreachable_database_is_one_line(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_DATABASE_URL", "notaurl")
    get_settings.cache_clear()
    code, out = _run("agency", "list")
    assert code == 2 and "LEADPOOL_DATABASE_URL is not a database URL" in out
    monkeypatch.setenv("LEADPOOL_DATABASE_URL", "postgresql://postgres:hunter2@127.0.0.1:1/nothing")
    get_settings.cache_clear()
    code, out = _run("agency", "list", "--json")
    assert code == 1 and "cannot reach the database" in out and "hunter2" not in out


def test_a_lost_lock_wait_is_a_busy_database_not_one_that_cannot_be_reached(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that loses a lock wait (here the operator's ``lock_timeout`` in the database URL;
    a deadlock's victim, a statement timeout alike) says the database is busy and to retry, exit
    1: it was reached, another transaction held the rows (it once read "cannot reach the
    database", sending whoever is on call to look at the network)."""
    with session_scope(db) as s:
        agency = make_agency(s)
        make_campaign(s, agency)
    sep = "&" if "?" in db.uri else "?"
    monkeypatch.setenv("LEADPOOL_DATABASE_URL", f"{db.uri}{sep}options=-c%20lock_timeout%3D300")
    get_settings.cache_clear()
    holder = db.sessionmaker()
    try:
        # another admin's transaction is busy with the agency's campaigns
        holder.execute(text("SELECT id FROM campaigns WHERE agency_id = :a FOR UPDATE"), {"a": agency})
        code, out = _run("agency", "cancel", str(agency))
    finally:
        holder.rollback()
        holder.close()
    assert code == 1 and out.strip() == "error: the database is busy (lock timeout); retry", out
    with session_scope(db) as s:
        assert (
            s.execute(text("SELECT status FROM agencies WHERE id = :a"), {"a": agency}).scalar_one()
            == "active"
        )


def test_insights_by_the_hour_alone(db: Database) -> None:
    for dims in ("local_hour", "local_weekday", "local_hour,channel"):
        code, out = _run("insights", "--dims", dims, "--json")
        assert code == 0, out
        report = json.loads(out)
        assert report["dims"] == dims.split(",")


def test_an_error_outside_a_command_is_one_line_from_the_console_script(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADPOOL_")}
    env["LEADPOOL_HOME"] = str(tmp_path / "with space" / "home")
    done = subprocess.run(
        [sys.executable, "-c", "from leadpool.cli import main; main()", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "path with a space" in done.stderr


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("leads", "show", "99999999999999999999"), "no lead matches"),
        (("jobs", "list", "--limit", "-1"), "--limit"),
    ],
)
def test_numbers_out_of_range_are_named_not_left_to_the_database(
    db: Database, args: tuple[str, ...], names: str
) -> None:
    """They read "database refused a value: bigint out of range" (or a negative LIMIT)."""
    code, out = _run(*args)
    assert code == 2 and names in out and "database refused" not in out, out


BIG = "99999999999999999999"  # beyond a bigint


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("agency", "cancel", BIG), "'agency_id'"),
        (("agency", "reactivate", BIG), "'agency_id'"),
        *((("campaign", move, BIG), "'campaign_id'") for move in ("activate", "pause", "resume", "finish")),
        (("campaign", "end-enrollment", BIG, "1"), "'campaign_id'"),
        (("campaign", "end-enrollment", "1", BIG), "'lead_id'"),
        (("campaign", "allocate", BIG, "--count", "1"), "'campaign_id'"),
        (
            ("campaign", "create", "--agency", BIG, "--name", "x", "--icp", "i.json", "--daily-quota", "1"),
            "'--agency'",
        ),
        (("campaign", "list", "--agency", BIG), "'--agency'"),
        (("leads", "timeline", BIG), "'lead_id'"),
        (("leads", "erase", BIG, "--actor", "ops", "--yes"), "'lead_id'"),
        (("companies", "timeline", BIG), "'company_id'"),
        (("send", "policy", "--campaign", BIG), "'--campaign'"),
        (("send", "confirm", BIG, "--provider-message-id", "m"), "'touch_id'"),
        (("send", "cancel", BIG), "'touch_id'"),
        (("insights", "suggest", BIG), "'campaign_id'"),
    ],
)
def test_an_id_too_big_for_the_database_names_its_argument(
    db: Database, args: tuple[str, ...], names: str
) -> None:
    """They read "the database refused a value: bigint out of range", naming no argument."""
    code, out = _run(*args)
    assert code == 2 and names in out and "database refused" not in out, out


@pytest.mark.parametrize(
    "args",
    [
        ("campaign", "list"),
        ("blocklist", "domains"),
        ("send", "sender-claims"),
        ("blocklist", "domain-remove", "x.example", "--actor", "ops"),
    ],
)
def test_an_unknown_agency_to_filter_by_is_not_found_not_an_empty_list(
    db: Database, args: tuple[str, ...]
) -> None:
    """They exited 0 with an empty answer (domain-remove: "not on agency 77's list")."""
    reference, said = _run(
        "blocklist", "domain-add", "x.example", "--reason", "r", "--actor", "ops", "--agency", "77"
    )
    assert reference == 2 and "agency 77 not found" in said
    for json_out in ((), ("--json",)):
        code, out = _run(*args, "--agency", "77", *json_out)
        assert (code, _error(out, code)) == (reference, _error(said, reference)), out
        assert out.lstrip().startswith("{") == bool(json_out), out


def test_a_daily_quota_beyond_the_bound_is_named(db: Database, tmp_path: Path) -> None:
    icp = tmp_path / "icp.json"
    icp.write_text("{}")
    code, out = _run("agency", "create", "Quota Co", "--json")
    assert code == 0
    agency = str(json.loads(out)["id"])
    code, out = _run(
        "campaign",
        "create",
        "--agency",
        agency,
        "--name",
        "x",
        "--icp",
        str(icp),
        "--daily-quota",
        "99999999999",
    )
    assert code == 2 and "daily_quota" in out and "database refused" not in out, out


def test_names_longer_than_the_api_takes_are_refused_on_the_command_line(
    db: Database, tmp_path: Path
) -> None:
    """The API bounds agency and campaign names at 200 characters; the CLI took 5,000."""
    long = "n" * 201
    code, out = _run("agency", "create", long)
    assert code == 2 and "at most 200 characters" in out
    code, out = _run("agency", "create", "Acme", "--json")
    agency = json.loads(out)["id"]
    icp = tmp_path / "icp.json"
    icp.write_text("{}")
    code, out = _run(
        "campaign", "create", "--agency", str(agency), "--name", long, "--icp", str(icp), "--daily-quota", "1"
    )
    assert code == 2 and "at most 200 characters" in out, out


def test_the_version_is_printed() -> None:
    from leadpool import __version__

    code, out = _run("--version")
    assert code == 0 and out.strip() == f"leadpool {__version__}"


def test_import_of_a_directory_says_it_is_a_directory(db: Database, tmp_path: Path) -> None:
    """It said "no such file" of a folder that is there."""
    code, out = _run("import", str(tmp_path), "--json")
    assert code == 2 and f"{tmp_path}: is a directory, not a file" in out and "no such file" not in out, out


@pytest.mark.parametrize(("people", "kind"), [("5", "a number"), ('"abc"', "a string")])
def test_import_of_a_json_envelope_whose_people_is_no_list_is_refused(
    db: Database, tmp_path: Path, people: str, kind: str
) -> None:
    """{"people": 5} printed records: 0, rejected: 0 and exited 0."""
    page = tmp_path / "s.json"
    page.write_text(f'{{"people": {people}}}')
    code, out = _run("import", str(page), "--json", "--rejects", str(tmp_path / "r.jsonl"))
    assert code == 2, out
    assert (
        _error(out, 2) == f'{page}: "people" is {kind}, not a list of people (or null); nothing was imported'
    )
    code, out = _run("pool", "stats", "--json")
    assert code == 0 and json.loads(out)["totals"]["leads"] == 0, out


def test_an_import_losing_the_import_lock_wait_is_a_busy_database(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``leadpool import`` runs the importer on a psycopg connection of its own: a lost wait for the
    import lock was psycopg's own LockNotAvailable, which the CLI did not know: a traceback."""
    path = tmp_path / "people.json"
    path.write_text(json.dumps({"people": list(generate_people(2, 5, duplicate_rate=0.0))}))
    sep = "&" if "?" in db.uri else "?"
    monkeypatch.setenv("LEADPOOL_DATABASE_URL", f"{db.uri}{sep}options=-c%20lock_timeout%3D300")
    get_settings.cache_clear()
    with db.engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": IMPORT_LOCK_KEY})
        res = CliRunner().invoke(app, ["import", str(path)])
        holder.rollback()
    out = res.output
    assert res.exit_code == 1 and "the database is busy (lock timeout); retry" in out, (
        res.exit_code,
        out[-400:],
        repr(res.exception),
    )
