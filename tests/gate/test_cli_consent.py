"""``leadpool consent grant|revoke|list`` end to end on the test database, and the gate's answer
before and after (``leadpool send check``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from tests.gate.factories import MONDAY_OPEN, World
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.models import AuditLog, Consent
from leadpool.privacy.consent import consents_of, grant_consent

runner = CliRunner()
AT = MONDAY_OPEN.isoformat()


@pytest.fixture(autouse=True)
def _defaults(fresh_policy: None) -> Iterator[None]:
    """The platform policy's defaults: email needs consent in DE and CA."""
    yield


def _world(db: Database) -> tuple[World, int]:
    with session_scope(db) as s:
        w = World(s)
        return w, w.lead(country="Germany")


def _stored(db: Database) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(Consent)) or 0)


def _check(w: World, lead: int) -> int:
    base = ["send", "check", "--lead", str(lead), "--campaign", str(w.campaign_id), "--channel", "email"]
    r = runner.invoke(app, [*base, "--no-reserve", "--at", AT])
    assert r.exit_code in (0, 3), r.output
    return r.exit_code


def test_grant_list_revoke(db: Database) -> None:
    w, lead = _world(db)
    assert _check(w, lead) == 3  # denied no_consent
    r = runner.invoke(
        app,
        [
            "consent",
            "grant",
            str(lead),
            "--agency",
            str(w.agency_id),
            "--basis",
            "express",
            "--source",
            "webinar sign-up form",
            "--channel",
            "email",
            "--evidence",
            "form-123",
            "--granted-at",
            "2026-02-10T09:00:00+01:00",
            "--actor",
            "ops:kim",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    given = json.loads(r.stdout)
    assert (given["lead_id"], given["agency_id"], given["channel"]) == (lead, w.agency_id, "email")
    assert (given["basis"], given["source"], given["evidence"]) == (
        "express",
        "webinar sign-up form",
        "form-123",
    )
    assert datetime.fromisoformat(given["granted_at"]) == datetime(2026, 2, 10, 8, tzinfo=UTC)
    assert given["expires_at"] is None
    assert (given["actor"], given["live"], given["changed"], given["revoked_at"]) == (
        "ops:kim",
        True,
        True,
        None,
    )
    assert _check(w, lead) == 0  # allowed now

    r = runner.invoke(
        app,
        [
            "consent",
            "grant",
            str(lead),
            "--agency",
            str(w.agency_id),
            "--basis",
            "implied",
            "--source",
            "a reply",
            "--granted-at",
            "2026-02-01T00:00:00Z",
            "--expires-at",
            "2028-02-01T00:00:00Z",
        ],
    )
    assert r.exit_code == 0, r.output
    said = " ".join(r.stdout.split())
    assert "every channel, implied, from 2026-02-01 00:00 UTC until 2028-02-01 00:00 UTC" in said

    r = runner.invoke(app, ["consent", "list", str(lead), "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert [c["basis"] for c in listed] == ["express", "implied"] and listed[0]["id"] == given["id"]
    assert listed[1]["actor"] == "cli"  # --actor's default
    r = runner.invoke(app, ["consent", "list", str(lead)])
    table = " ".join(r.stdout.split())  # a cell may wrap
    assert r.exit_code == 0 and "webinar sign-up form" in table and "live" in table
    assert "email express 2026-02-10 - live" in table and "all implied 2026-02-01 2028-02-01 live" in table

    r = runner.invoke(app, ["consent", "revoke", str(given["id"]), "--reason", "asked to stop", "--json"])
    assert r.exit_code == 0, r.output
    revoked = json.loads(r.stdout)
    assert revoked["revoked_reason"] == "asked to stop" and not revoked["live"] and revoked["changed"]
    r = runner.invoke(app, ["consent", "revoke", str(given["id"]), "--reason", "again"])
    assert r.exit_code == 0 and "already revoked" in r.stdout and "nothing changed" in r.stdout
    r = runner.invoke(app, ["consent", "list", str(lead)])
    assert "revoked" in r.stdout
    assert _check(w, lead) == 0  # the every-channel consent still holds
    implied = listed[1]["id"]
    r = runner.invoke(
        app, ["consent", "revoke", str(implied), "--reason", "gone", "--agency", str(w.agency_id)]
    )
    assert r.exit_code == 0 and f"consent {implied} revoked" in r.stdout
    assert _check(w, lead) == 3
    with session_scope(db) as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.subject_id == str(lead))).all()
    assert sorted(actions) == ["consent.grant", "consent.grant", "consent.revoke", "consent.revoke"]


def test_list_for_one_agency_and_none(db: Database) -> None:
    w, lead = _world(db)
    with session_scope(db) as s:
        other = World(s)
    r = runner.invoke(app, ["consent", "list", str(lead)])
    assert r.exit_code == 0 and "has no consent" in r.stdout
    for agency in (w.agency_id, other.agency_id):
        r = runner.invoke(
            app,
            [
                "consent",
                "grant",
                str(lead),
                "--agency",
                str(agency),
                "--basis",
                "express",
                "--source",
                "form",
            ],
        )
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["consent", "list", str(lead), "--agency", str(other.agency_id), "--json"])
    assert [c["agency_id"] for c in json.loads(r.stdout)] == [other.agency_id]
    assert len(json.loads(runner.invoke(app, ["consent", "list", str(lead), "--json"]).stdout)) == 2
    first = json.loads(runner.invoke(app, ["consent", "list", str(lead), "--json"]).stdout)[0]["id"]
    r = runner.invoke(
        app, ["consent", "revoke", str(first), "--reason", "r", "--agency", str(other.agency_id)]
    )
    assert r.exit_code == 2 and f"consent {first} not found" in r.output  # not that agency's
    r = runner.invoke(app, ["consent", "list", "424242"])
    assert r.exit_code == 2 and "lead 424242 not found" in r.output


BAD = [
    (["--basis", "verbal"], "basis: 'verbal' is not one of express, implied"),
    (["--source", "  "], "source: required"),
    (["--channel", "fax"], "channel: 'fax' is not one of"),
    (["--granted-at", "2026-03-01T10:00:00"], "--granted-at '2026-03-01T10:00:00' has no offset"),
    (["--expires-at", "2027-03-01T10:00"], "--expires-at '2027-03-01T10:00' has no offset"),
    (["--granted-at", "yesterday"], "--granted-at 'yesterday' is not an ISO 8601 time"),
    (["--granted-at", "0001-01-01T00:00:00+01:00"], "is not between 1970 and 2999"),
    (["--granted-at", "2026-03-01T10:00Z", "--expires-at", "2026-02-01T10:00Z"], "expires_at:"),
    (["--actor", " "], "actor: required"),
    (["--agency", "424242"], "agency 424242 not found"),
]


@pytest.mark.parametrize(("extra", "message"), BAD, ids=[m.split()[0] for _, m in BAD])
def test_bad_input_is_one_line_and_stores_nothing(db: Database, extra: list[str], message: str) -> None:
    w, lead = _world(db)
    with session_scope(db) as s:  # what was stored before must stay as it was
        before = grant_consent(
            s, lead_id=lead, agency_id=w.agency_id, basis="implied", source="earlier", actor="ops"
        ).as_dict()
    args = [
        "consent",
        "grant",
        str(lead),
        "--agency",
        str(w.agency_id),
        "--basis",
        "express",
        "--source",
        "form",
    ]
    r = runner.invoke(app, [*args, *extra])
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.split())  # one message (the console wraps it at its width)
    assert said.startswith("error: ") and said.count("error:") == 1, r.output
    assert message in said and "Traceback" not in said
    assert _stored(db) == 1
    with session_scope(db) as s:
        assert [c.as_dict() for c in consents_of(s, lead)] == [before]


def test_unknown_lead_and_consent(db: Database) -> None:
    w, _lead = _world(db)
    r = runner.invoke(
        app,
        ["consent", "grant", "424242", "--agency", str(w.agency_id), "--basis", "express", "--source", "f"],
    )
    assert r.exit_code == 2 and "lead 424242 not found" in r.output
    r = runner.invoke(app, ["consent", "revoke", "424242", "--reason", "r"])
    assert r.exit_code == 2 and "consent 424242 not found" in r.output
    r = runner.invoke(app, ["consent", "revoke", "1", "--reason", " "])
    assert r.exit_code == 2 and "reason: required" in r.output
    assert _stored(db) == 0
