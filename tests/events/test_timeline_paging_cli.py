"""``leadpool leads timeline`` and ``companies timeline`` still list everything by default (read a
page at a time), and page on request: --limit, --after (the cursor printed on stderr),
--newest-first."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from api.timeline_world import busy_lead, expected_company_sources, expected_sources
from leadpool.cli import app
from leadpool.cli.common import print_json
from leadpool.cli.timeline_output import PAGE
from leadpool.db import Database, session_scope
from leadpool.timeline import lead_timeline

from .conftest import World

runner = CliRunner()


def _cursor(stderr: str) -> str | None:
    found = re.search(r"--after (\S+)", stderr)
    return found.group(1) if found else None


def _json_cursor(stderr: str) -> str | None:
    """With --json the cursor is machine-readable too: one JSON object on stderr."""
    if not stderr.strip():
        return None
    (line,) = stderr.strip().splitlines()
    cursor = json.loads(line)["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


def test_leads_timeline_lists_everything_in_pages_and_pages_on_request(db: Database, world: World, capsys):
    busy = busy_lead(db, world.agency(), world.agency())
    expected = expected_sources(db, busy)
    assert len(expected) > PAGE  # read from the database in more than one page

    out = runner.invoke(app, ["leads", "timeline", str(busy.lead_id), "--json"])
    assert out.exit_code == 0, out.output
    assert [e["source"] for e in json.loads(out.stdout)] == expected
    assert out.stderr == ""
    with session_scope(db) as s:  # the same text as before paging (print_json of the whole list)
        print_json([e.as_dict() for e in lead_timeline(s, busy.lead_id)])
    assert out.stdout == capsys.readouterr().out

    seen: list[str] = []
    after: list[str] = []
    while True:
        page = runner.invoke(
            app, ["leads", "timeline", str(busy.lead_id), "--json", "--limit", "400", *after]
        )
        assert page.exit_code == 0, page.output
        entries = json.loads(page.stdout)
        seen += [e["source"] for e in entries]
        cursor = _json_cursor(page.stderr)
        if cursor is None:
            break
        assert len(entries) == 400
        after = ["--after", cursor]
    assert seen == expected

    newest = runner.invoke(
        app, ["leads", "timeline", str(busy.lead_id), "--json", "--newest-first", "--limit", "5"]
    )
    assert [e["source"] for e in json.loads(newest.stdout)] == expected[::-1][:5]
    table = runner.invoke(app, ["leads", "timeline", str(busy.lead_id), "--limit", "3"])
    assert table.exit_code == 0 and "enrollment.enrolled" in table.stdout and _cursor(table.stderr)

    missing = runner.invoke(app, ["leads", "timeline", "999999", "--json"])
    assert missing.exit_code == 2 and "lead 999999 not found" in missing.output and missing.stdout == ""
    bad = runner.invoke(app, ["leads", "timeline", str(busy.lead_id), "--after", "nope"])
    assert bad.exit_code == 2 and "not a timeline cursor" in bad.output
    # a cursor is for its own timeline and order: on another lead's, or reversed, it printed a page
    # of entries from the wrong place (or none) and exit 0; it is refused, as the API refuses it
    cursor = _cursor(table.stderr)
    assert cursor is not None
    other = world.lead()
    for elsewhere in (
        [str(other), "--after", cursor],
        [str(busy.lead_id), "--after", cursor, "--newest-first"],
    ):
        wrong = runner.invoke(app, ["leads", "timeline", *elsewhere, "--json"])
        assert wrong.exit_code == 2 and "not a timeline cursor" in wrong.output and wrong.stdout == ""
    right = runner.invoke(
        app, ["leads", "timeline", str(busy.lead_id), "--limit", "2", "--after", cursor, "--json"]
    )
    assert [e["source"] for e in json.loads(right.stdout)] == expected[3:5]
    empty = runner.invoke(app, ["leads", "timeline", str(world.lead()), "--json"])
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []


def test_companies_timeline_lists_everything(db: Database, world: World):
    busy = busy_lead(db, world.agency(), world.agency(), n=600)
    expected = expected_company_sources(db, busy)
    assert len(expected) > PAGE
    out = runner.invoke(app, ["companies", "timeline", str(busy.company_id), "--json"])
    assert out.exit_code == 0, out.output
    assert [e["source"] for e in json.loads(out.stdout)] == expected
    newest = runner.invoke(
        app, ["companies", "timeline", str(busy.company_id), "--json", "--newest-first", "--limit", "7"]
    )
    assert [e["source"] for e in json.loads(newest.stdout)] == expected[::-1][:7]
    cursor = json.loads(newest.stderr)["next_cursor"]
    more = runner.invoke(
        app, ["companies", "timeline", str(busy.company_id), "--json", "--newest-first", "--after", cursor]
    )
    assert more.exit_code == 0 and [e["source"] for e in json.loads(more.stdout)] == expected[::-1][7:]
    wrong = runner.invoke(app, ["leads", "timeline", str(busy.lead_id), "--after", cursor])
    assert wrong.exit_code == 2 and "not a timeline cursor" in wrong.output
