"""``leadpool send ...`` end to end on the test database."""

from __future__ import annotations

import json

from tests.gate.factories import MONDAY_OPEN, World
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope

runner = CliRunner()
AT = MONDAY_OPEN.isoformat()


def _world(db: Database) -> tuple[World, int]:
    with session_scope(db) as s:
        w = World(s)
        return w, w.lead()


def test_check_confirm_cancel(db: Database) -> None:
    w, lid = _world(db)
    base = ["send", "check", "--lead", str(lid), "--campaign", str(w.campaign_id), "--at", AT]
    r = runner.invoke(
        app, [*base, "--channel", "email", "--sender", "me@x.com", "--idempotency-key", "k", "--json"]
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["decision"] == "allow" and d["reasons"] == [] and d["touch_id"]
    again = json.loads(
        runner.invoke(
            app, [*base, "--channel", "email", "--sender", "me@x.com", "--idempotency-key", "k", "--json"]
        ).stdout
    )
    assert again["touch_id"] == d["touch_id"] and again["replayed"]

    r = runner.invoke(app, [*base, "--channel", "linkedin", "--json"])
    assert r.exit_code == 3
    denied = json.loads(r.stdout)
    assert [x["code"] for x in denied["reasons"]] == ["lead_daily_cap"]
    assert denied["reasons"][0]["retry_after"] == "2026-03-03T05:00:00+00:00"

    r = runner.invoke(app, [*base, "--channel", "linkedin"])
    assert r.exit_code == 3 and "lead_daily_cap" in r.stdout

    r = runner.invoke(
        app, ["send", "confirm", str(d["touch_id"]), "--provider-message-id", "pm-1", "--at", AT, "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["state"] == "sent"
    r = runner.invoke(app, ["send", "cancel", str(d["touch_id"])])
    assert r.exit_code == 2 and "already sent" in r.output


def test_no_reserve_and_bad_input(db: Database) -> None:
    w, lid = _world(db)
    base = ["send", "check", "--lead", str(lid), "--campaign", str(w.campaign_id)]
    r = runner.invoke(app, [*base, "--channel", "linkedin", "--no-reserve", "--json", "--at", AT])
    assert r.exit_code == 0 and json.loads(r.stdout)["touch_id"] is None
    r = runner.invoke(app, [*base, "--channel", "fax"])
    assert r.exit_code == 2 and "fax" in r.output
    r = runner.invoke(app, [*base, "--channel", "email", "--at", "yesterday"])
    assert r.exit_code == 2 and "--at" in r.output
    r = runner.invoke(app, ["send", "cancel", "424242"])
    assert r.exit_code == 2 and "424242" in r.output


def test_policy_and_reasons(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s, agency_gate={"sender_daily_caps": {"email": 30}})
    r = runner.invoke(app, ["send", "policy", "--campaign", str(w.campaign_id), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["sender_daily_caps"]["email"] == 30
    r = runner.invoke(app, ["send", "reasons", "--json"])
    codes = [x["code"] for x in json.loads(r.stdout)]
    assert len(codes) == 34 and "gate_error" in codes and "no_consent" in codes


def test_check_prints_the_one_click_link_when_the_public_address_is_known(db: Database, monkeypatch) -> None:
    from leadpool.privacy import unsubscribe as one_click

    w, lid = _world(db)
    base = ["send", "check", "--lead", str(lid), "--campaign", str(w.campaign_id), "--channel", "email"]
    monkeypatch.delenv("LEADPOOL_PUBLIC_URL", raising=False)
    r = runner.invoke(app, [*base, "--no-reserve", "--at", AT, "--json"])
    assert (
        r.exit_code == 0 and json.loads(r.stdout)["unsubscribe_url"] is None
    )  # nothing reserved, no link (null, as the API)

    monkeypatch.setenv("LEADPOOL_PUBLIC_URL", "https://lp.example.com")
    r = runner.invoke(app, [*base, "--at", AT, "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    prefix = "https://lp.example.com/unsubscribe/"
    assert d["unsubscribe_url"].startswith(prefix)
    assert one_click.touch_of(d["unsubscribe_url"].removeprefix(prefix)) == d["touch_id"]
    r = runner.invoke(app, [*base, "--at", AT, "--idempotency-key", "t"])
    assert r.exit_code == 3 and "unsubscribe" not in r.stdout  # a deny carries no link
