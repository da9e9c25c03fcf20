"""Paused senders over HTTP and the CLI: who sees which, and resuming them."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from typer.testing import CliRunner

from api.world import MONDAY, build_world
from leadpool.cli import app
from leadpool.db import session_scope
from leadpool.models import SenderPause

runner = CliRunner()


@pytest.fixture
def world(api):
    w = build_world(api.admin, api.url)
    yield w
    w.close()


def _pause(db, key: str, until=None) -> None:
    with session_scope(db) as s:
        s.add(
            SenderPause(
                sender=key,
                reason="sender_bounce_guard",
                paused_at=MONDAY,
                until=until,
                detail={"sends": 60, "hard_bounces": 2},
            )
        )


def test_an_agency_sees_and_resumes_only_the_senders_it_used(api, world, db):
    w = world
    d = w.ca.check(w.alloc_a.allocated[0], w.camp_a.id, "linkedin", sender="li-A1", at=MONDAY)
    assert d.decision == "allow"
    _pause(db, "linkedin:li-A1")
    _pause(db, "email:sdr@elsewhere.example")
    _pause(db, "email:old@agency-a.test", until=MONDAY - timedelta(days=1))  # ended

    assert [p.sender for p in w.ca.paused_senders()] == ["linkedin:li-A1"]
    assert w.cb.paused_senders() == []
    assert {p.sender for p in api.admin.paused_senders()} == {"linkedin:li-A1", "email:sdr@elsewhere.example"}

    denied = w.ca.check(
        w.alloc_a.allocated[1], w.camp_a.id, "linkedin", sender="li-A1", at=MONDAY + timedelta(days=1)
    )
    assert "sender_paused" in [r.code for r in denied.reasons]

    assert not w.cb.resume_sender("linkedin", "li-A1").resumed  # B never sent from it: as if not paused
    assert not w.ca.resume_sender("email", "sdr@elsewhere.example").resumed
    done = w.ca.resume_sender("linkedin", "li-A1")
    assert done.resumed and done.pause is not None and done.pause.reason == "sender_bounce_guard"
    assert not w.ca.resume_sender("linkedin", "li-A1").resumed  # idempotent
    assert w.ca.paused_senders() == []
    with pytest.raises(ValueError, match="channel"):  # the client refuses it before sending
        w.ca.resume_sender("fax", "x")
    r = httpx.post(
        f"{api.url}/v1/senders/resume",
        json={"channel": "fax", "sender": "x"},
        headers={"Authorization": f"Bearer {w.a.api_key}"},
    )
    assert r.status_code == 422 and "channel" in r.text


def test_the_cli_lists_and_resumes(api, world, db):
    _pause(db, "email:sdr@elsewhere.example")
    r = runner.invoke(app, ["send", "paused-senders", "--json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert row["sender"] == "email:sdr@elsewhere.example" and row["until"] is None
    r = runner.invoke(app, ["send", "paused-senders"])
    assert r.exit_code == 0 and "sender_bounce_guard" in r.stdout and "hard_bounces 2" in r.stdout
    r = runner.invoke(app, ["send", "resume-sender", "SDR@elsewhere.example", "--actor", "ops:kim", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["resumed"] is True
    r = runner.invoke(app, ["send", "resume-sender", "sdr@elsewhere.example", "--actor", "ops:kim"])
    assert r.exit_code == 0 and "was not paused" in r.stdout
    r = runner.invoke(app, ["send", "resume-sender", "x", "--channel", "fax", "--actor", "k"])
    assert r.exit_code == 2 and "--channel" in r.output
    r = runner.invoke(app, ["send", "paused-senders"])
    assert "no sender is paused" in r.stdout
