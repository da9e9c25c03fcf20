"""The CLI end to end (in process, on the test database): agencies, campaigns, allocation, jobs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.allocation.factories import make_company, make_leads
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope

runner = CliRunner()


def _create(agency: Any, name: str, icp: Path, quota: int, *more: str) -> list[str]:
    """The command line of ``campaign create`` (``more``: --channels, --activate...)."""
    args = ["campaign", "create", "--agency", str(agency), "--name", name, "--icp", str(icp)]
    return [*args, "--daily-quota", str(quota), *more]


def _json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_agency_campaign_allocate_flow(db: Database, tmp_path: Path) -> None:
    with session_scope(db) as s:
        make_leads(s, 30, company_id=make_company(s, industry="construction"))
    icp = tmp_path / "icp.yaml"
    icp.write_text(
        "industries: [Construction]\nseniorities: [c_suite]\nemployee_count: {min: 10, max: 500}\n"
    )

    a = _json("agency", "create", "BuildAgency")
    b = _json("agency", "create", "OtherAgency")
    assert a["status"] == "active"
    assert [x["name"] for x in _json("agency", "list")] == ["BuildAgency", "OtherAgency"]

    c = _json(*_create(a["id"], "Builders", icp, 10, "--channels", "email,linkedin"))
    assert c["status"] == "draft" and c["channels"] == ["email", "linkedin"]
    assert c["icp"]["industries"] == ["construction"]
    assert _json("campaign", "activate", str(c["id"]))["status"] == "active"

    res = _json("campaign", "allocate", str(c["id"]), "--count", "25")
    assert res["granted"] == 10 and res["allocated"] == 10 and len(res["lead_ids"]) == 10

    other = _json(*_create(b["id"], "Others", icp, 15, "--activate"))
    assert other["status"] == "active"
    rnd = _json("allocate-round")
    got = {x["campaign_id"]: x["allocated"] for x in rnd["campaigns"]}
    assert got == {c["id"]: 0, other["id"]: 15}  # the first campaign's quota is spent for today
    more = _json(*_create(b["id"], "More", icp, 50, "--activate"))
    human = runner.invoke(app, ["campaign", "allocate", str(more["id"]), "--count", "50"])
    assert human.exit_code == 0, human.output
    assert "no refill possible: no Apollo API key is set (LEADPOOL_APOLLO_API_KEY)" in human.stdout

    assert _json("campaign", "pause", str(c["id"]))["status"] == "paused"
    assert _json("campaign", "resume", str(c["id"]))["status"] == "active"
    cancelled = _json("agency", "cancel", str(a["id"]))
    assert cancelled["released"] == 10 and cancelled["enrollments_ended"] == 10
    assert _json("jobs", "list") == []
    assert _json("worker", "--once")["stopped"] is True


def test_bad_input_is_one_clear_line(db: Database, tmp_path: Path) -> None:
    a = _json("agency", "create", "A1")
    bad = tmp_path / "icp.json"
    bad.write_text(json.dumps({"industries": ["construction"], "employee_count": {"min": 50, "max": 5}}))
    result = runner.invoke(app, _create(a["id"], "x", bad, 5))
    assert result.exit_code == 2
    assert "icp.employee_count: min (50) must be <= max (5)" in result.output
    good = tmp_path / "good.json"
    good.write_text("{}")
    result = runner.invoke(app, _create(a["id"], "x", good, 5, "--channels", "email,fax"))
    assert result.exit_code == 2 and "unknown channel 'fax'" in result.output
    result = runner.invoke(app, ["campaign", "allocate", "999", "--count", "3"])
    assert result.exit_code == 2 and "campaign 999 not found" in result.output
    result = runner.invoke(app, ["agency", "create", "A1"])
    assert result.exit_code == 2 and "already taken" in result.output
    # an id the database cannot hold is refused naming the argument, not by the database
    result = runner.invoke(app, ["agency", "cancel", "99999999999999999999", "--json"])
    assert result.exit_code == 2 and "'agency_id'" in result.output and result.stdout == ""
    assert "Traceback" not in result.output and "database refused" not in result.output


def test_an_icp_file_past_the_limits_is_one_line_and_creates_nothing(db: Database, tmp_path: Path) -> None:
    a = _json("agency", "create", "A2")
    big = tmp_path / "icp.json"
    big.write_text(json.dumps({"industries": [f"i{i}" for i in range(1001)]}))
    args = _create(a["id"], "x", big, 5)
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"icp file {big}: icp.industries: at most 1000 items, got 1001" in " ".join(result.output.split())
    assert _json("campaign", "list", "--json") == []


def test_allocate_round_shows_progress_on_stderr_json_or_not(db: Database, terminal: None) -> None:
    """It showed none, even on a terminal."""
    for args in (["allocate-round"], ["allocate-round", "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "allocating a round" in result.stderr and "allocating a round" not in result.stdout
    assert json.loads(result.stdout)["campaigns"] == []
    assert "\x1b[2K" in result.stderr  # under --json the spinner is wiped when done
