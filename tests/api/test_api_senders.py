"""Paused senders over HTTP and the CLI: who sees which, and resuming them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from api.conftest import ADMIN_TOKEN
from api.world import MONDAY
from leadpool.cli import app
from leadpool.db import session_scope
from leadpool.models import SenderPause

runner = CliRunner()


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


def _blocked_three_times(w, client, campaign, leads, sender: str) -> None:
    """Three of the agency's own sends refused by policy: reported by the agency, they pause the
    sender (the real way in: a block names the send it refused)."""
    now = datetime.now(UTC)
    for i, lead in enumerate(leads[:3]):
        d = client.check(lead, campaign, "linkedin", sender=sender, at=MONDAY + timedelta(days=i))
        assert d.decision == "allow", d.reasons
        client.confirm_sent(d.touch_id, f"msg-{sender}-{i}", at=MONDAY + timedelta(days=i, minutes=1))
        client.record_event(
            {
                "type": "sender_block",
                "lead_id": lead,
                "channel": "linkedin",
                "provider_message_id": f"msg-{sender}-{i}",
                "occurred_at": (now - timedelta(minutes=10 - i)).isoformat(),
                "source": "engine",
                "provider_event_id": f"block-{sender}-{i}",
            }
        )


def test_an_agency_sees_and_resumes_only_the_senders_it_used(api, world, db):
    w = world
    _blocked_three_times(w, w.ca, w.camp_a.id, w.alloc_a.allocated, "li-A1")
    d = w.cb.check(w.alloc_b.allocated[0], w.camp_b.id, "linkedin", sender="li-A1", at=MONDAY)
    assert d.decision == "deny"  # B naming A's account is denied too: the account is paused
    _pause(db, "email:sdr@elsewhere.example")
    _pause(db, "email:old@agency-a.test", until=MONDAY - timedelta(days=1))  # ended

    assert [p.sender for p in w.ca.paused_senders()] == ["linkedin:li-A1"]
    assert w.cb.paused_senders() == []
    assert {p.sender for p in api.admin.paused_senders()} == {"linkedin:li-A1", "email:sdr@elsewhere.example"}

    denied = w.ca.check(
        w.alloc_a.allocated[3], w.camp_a.id, "linkedin", sender="li-A1", at=MONDAY + timedelta(days=5)
    )
    assert "sender_paused" in [r.code for r in denied.reasons]

    assert not w.cb.resume_sender("linkedin", "li-A1").resumed  # not B's pause: as if not paused
    assert not w.ca.resume_sender("email", "sdr@elsewhere.example").resumed
    done = w.ca.resume_sender("linkedin", "li-A1")
    assert done.resumed and done.pause is not None and done.pause.reason == "sender_block_guard"
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


def test_the_cli_resumes_a_sender_named_as_the_list_names_it_and_prints_it_as_is(api, db):
    """`paused-senders` lists keys (email:sdr9@..., domain:...): pasted into `resume-sender` they
    were read as the mailbox "email:sdr9@..." (not paused), and rich printed ":email:" as an emoji."""
    _pause(db, "email:sdr9@acme-mail.example")
    _pause(db, "domain:spread.example")
    r = runner.invoke(app, ["send", "resume-sender", "email:SDR9@acme-mail.example", "--actor", "ops"])
    assert r.exit_code == 0 and "email:sdr9@acme-mail.example resumed" in r.stdout, r.output
    r = runner.invoke(app, ["send", "resume-sender", "domain:Spread.example.", "--actor", "ops", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["pause"]["sender"] == "domain:spread.example"
    r = runner.invoke(app, ["send", "resume-sender", "email:email:sdr9@acme-mail.example", "--actor", "ops"])
    assert r.exit_code == 0 and "email:email:sdr9@acme-mail.example was not paused" in r.stdout
    assert "\u2709" not in r.stdout  # no emoji for ":email:"
    assert api.admin.paused_senders() == []


def test_the_cli_names_a_sending_domain_it_did_not_find_paused_as_the_domain(api, db):
    """`resume-sender @domain` looks up the sending domain's pause; when there was none it said
    "email:@spread.example was not paused", a mailbox nobody has, not the domain it looked for."""
    r = runner.invoke(app, ["send", "resume-sender", "@Spread.example", "--actor", "ops"])
    assert r.exit_code == 0 and "domain:spread.example was not paused" in r.stdout, r.output
    _pause(db, "domain:spread.example")
    r = runner.invoke(app, ["send", "resume-sender", "@Spread.example", "--actor", "ops"])
    assert r.exit_code == 0 and "domain:spread.example resumed" in r.stdout, r.output


def test_resuming_with_a_blank_sender_or_actor_is_refused_and_keeps_the_pause(api, world, db):
    _pause(db, "email:sdr@elsewhere.example")
    r = httpx.post(
        f"{api.url}/v1/senders/resume",
        json={"channel": "email", "sender": "   "},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert r.status_code == 422 and "sender" in r.text
    r = runner.invoke(app, ["send", "resume-sender", "sdr@elsewhere.example", "--actor", " "])
    assert r.exit_code == 2 and "--actor" in r.output
    r = runner.invoke(app, ["send", "resume-sender", " ", "--actor", "ops"])
    assert r.exit_code == 2 and "sender" in r.output
    assert [p.sender for p in api.admin.paused_senders()] == ["email:sdr@elsewhere.example"]


def test_complaints_on_an_agencys_sends_pause_the_mailbox_it_alone_sees_and_resumes(api, world, db):
    """Spam complaints the agency reports about its own sends pause the mailbox (sender complaint
    guard); the pause is listed over HTTP and by the CLI, and only that agency may end it."""
    from sqlalchemy import select, text

    from leadpool.models import AuditLog

    w = world
    leads = w.alloc_a.allocated
    with db.engine.begin() as c:  # 60 sent emails of the mailbox, two of them to people who complain
        for i in range(60):
            c.execute(
                text(
                    "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, sender, state, at, "
                    "local_date, sent_at, provider_message_id) VALUES (:l, :a, :c, 'email', "
                    "'sdr@agency-a.test', 'sent', :t, :d, :t, :m)"
                ),
                {
                    "l": leads[i % 2],
                    "a": w.a.id,
                    "c": w.camp_a.id,
                    "t": MONDAY - timedelta(hours=i),
                    "d": (MONDAY - timedelta(hours=i)).date(),
                    "m": f"<c{i}@agency-a.test>",
                },
            )
    now = datetime.now(UTC)
    effects = [
        w.ca.record_event(
            {
                "type": "complaint",
                "lead_id": leads[i],
                "channel": "email",
                "provider_message_id": f"<c{i}@agency-a.test>",
                "occurred_at": (now - timedelta(minutes=5 - i)).isoformat(),
                "source": "engine",
                "provider_event_id": f"fbl-{i}",
            }
        ).effects
        for i in range(2)
    ]
    assert "sender:paused_complaint_guard" not in effects[0] and "sender:paused_complaint_guard" in effects[1]

    (mine,) = w.ca.paused_senders()
    assert mine.sender == "email:sdr@agency-a.test" and mine.reason == "sender_complaint_guard"
    assert mine.until is None and mine.detail == {"sends": 60, "complaints": 2}
    assert w.cb.paused_senders() == [] and not w.cb.resume_sender("email", "sdr@agency-a.test").resumed
    r = runner.invoke(app, ["send", "paused-senders"])
    assert r.exit_code == 0 and "sender_complaint_guard" in r.stdout and "complaints 2" in r.stdout
    done = w.ca.resume_sender("email", "SDR@agency-a.test")
    assert done.resumed and done.pause is not None and done.pause.reason == "sender_complaint_guard"
    assert api.admin.paused_senders() == []
    with session_scope(db) as s:
        rows = s.scalars(
            select(AuditLog).where(AuditLog.subject_type == "sender").order_by(AuditLog.id)
        ).all()
        assert [a.action for a in rows] == ["sender.pause", "sender.resume"]
        assert rows[0].actor == "sender_complaint_guard"


def test_a_sending_domains_pause_is_listed_and_resumed_over_http(api, db) -> None:
    """The sending-domain guard's pause (domain:DOMAIN, its own reasons) is one of the paused
    senders, and `POST /v1/senders/resume` with sender `@domain` ends it (the API's model once
    admitted only the mailbox guards' reasons: a 500)."""
    with session_scope(db) as s:
        s.add(
            SenderPause(
                sender="domain:spread.example",
                reason="domain_bounce_guard",
                paused_at=MONDAY,
                detail={"sends": 300, "hard_bounces": 10, "complaints": 0, "days": 7},
            )
        )
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    listed = httpx.get(f"{api.url}/v1/senders/paused", headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text
    assert [(p["sender"], p["reason"]) for p in listed.json()] == [
        ("domain:spread.example", "domain_bounce_guard")
    ]
    resumed = httpx.post(
        f"{api.url}/v1/senders/resume",
        headers=headers,
        json={"channel": "email", "sender": "@Spread.example."},
        timeout=30,
    )
    assert resumed.status_code == 200 and resumed.json()["resumed"] is True, resumed.text
    with session_scope(db) as s:
        assert s.get(SenderPause, "domain:spread.example") is None
