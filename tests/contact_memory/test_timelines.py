"""Explaining contact memory: the lead timeline, the company timeline, and its CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN
from typer.testing import CliRunner

from leadpool.allocation.campaigns import end_enrollment
from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.errors import NotFound
from leadpool.events import EventIn, record_event
from leadpool.gate import check, confirm_sent
from leadpool.timeline import company_timeline, lead_timeline

T0 = MONDAY_OPEN


def _send(s: Session, lead_id: int, campaign_id: int, at: object) -> int:
    d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="linkedin", at=at)  # type: ignore[arg-type]
    assert d.touch_id is not None, d.reasons
    confirm_sent(s, d.touch_id, f"m-{d.touch_id}", at=at)  # type: ignore[arg-type]
    return d.touch_id


def _story(db: Database) -> dict[str, int]:
    """Two people at one company, owned by two agencies; one finishes a sequence, the other says no."""
    with session_scope(db) as s:
        company = f.company(s)
        a, b = f.agency(s), f.agency(s)
        ca, cb = f.campaign(s, a), f.campaign(s, b)
        anna, bob = f.lead(s, company_id=company), f.lead(s, company_id=company)
        f.own(s, anna, a)
        f.enroll(s, anna, ca, a)
        f.own(s, bob, b)
        f.enroll(s, bob, cb, b)
        _send(s, anna, ca, T0)
        _send(s, bob, cb, T0 + timedelta(hours=1))
        end_enrollment(s, ca, anna, at=T0 + timedelta(days=1))
        event = record_event(
            s,
            EventIn(
                type="reply",
                lead_id=bob,
                occurred_at=T0 + timedelta(days=2),
                source="test",
                provider_event_id="bob-no",
                category="not_interested",
                text="Not interested, thanks.",
            ),
            at=T0 + timedelta(days=2),
        )
    return {
        "company": company,
        "a": a,
        "b": b,
        "ca": ca,
        "cb": cb,
        "anna": anna,
        "bob": bob,
        "event": event.event_id,
    }


def test_lead_timeline_shows_rest_and_the_company_pause_with_their_causes(db: Database) -> None:
    w = _story(db)
    with session_scope(db) as s:
        anna = lead_timeline(s, w["anna"])
        bob = lead_timeline(s, w["bob"])
    kinds = [e.kind for e in anna]
    assert kinds.index("enrollment.unenrolled") < kinds.index("rest.started") < kinds.index("company.paused")
    rest = next(e for e in anna if e.kind == "rest.started")
    assert rest.detail["reason"] == "sequence_finished" and rest.detail["campaign_id"] == w["ca"]
    assert rest.detail["until"] == T0 + timedelta(days=91)
    pause = next(e for e in anna if e.kind == "company.paused")
    assert pause.detail["cause_event_id"] == w["event"] and pause.detail["cause"] == "not_interested"
    assert pause.detail["until"] == T0 + timedelta(days=92) and "lead_id" not in pause.detail
    # the replier's own pause does not apply to him, so his timeline does not list it
    assert "company.paused" not in [e.kind for e in bob]


def test_company_timeline_lists_touches_replies_and_pauses(db: Database) -> None:
    w = _story(db)
    with session_scope(db) as s:
        entries = company_timeline(s, w["company"])
        with pytest.raises(NotFound):
            company_timeline(s, 999999)
    assert [e.kind for e in entries] == ["touch", "touch", "event.reply", "company.paused"]
    assert [e.detail["lead_id"] for e in entries] == [w["anna"], w["bob"], w["bob"], w["bob"]]
    assert entries[3].detail["cause_event_id"] == w["event"]
    assert all("text" not in e.detail for e in entries)  # the reply's words stay on the event


def test_cli_companies_timeline_json(db: Database, env: None) -> None:
    w = _story(db)
    runner = CliRunner()
    r = runner.invoke(app, ["companies", "timeline", str(w["company"]), "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert [e["kind"] for e in got] == ["touch", "touch", "event.reply", "company.paused"]
    r = runner.invoke(app, ["companies", "timeline", str(w["company"])])
    assert r.exit_code == 0 and "company.paused" in r.stdout
    r = runner.invoke(app, ["companies", "timeline", "999999", "--json"])
    assert r.exit_code != 0 and "company 999999 not found" in r.output


def test_cli_end_enrollment(db: Database, env: None) -> None:
    with session_scope(db) as s:
        w = f.World(s)
        lid = w.lead()
    runner = CliRunner()
    r = runner.invoke(app, ["campaign", "end-enrollment", str(w.campaign_id), str(lid), "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["ended"] is True and got["rest_until"]
    r = runner.invoke(
        app, ["campaign", "end-enrollment", str(w.campaign_id), str(lid), "--reason", "removed"]
    )
    assert r.exit_code == 0 and "nothing changed" in r.stdout
    r = runner.invoke(
        app, ["campaign", "end-enrollment", str(w.campaign_id), str(lid), "--reason", "replied"]
    )
    assert r.exit_code != 0 and "sequence_finished" in r.output
