"""The sending-domain guard: a domain whose mailboxes together bounce or draw complaints past its
limit is paused, every mailbox at it; each mailbox and campaign alone stayed under its own guard.
The gate denies its mailboxes' emails on every path; a person resumes it; only a new bounce after
that pauses it again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select, text
from tests.gate.factories import MONDAY_OPEN
from tests.gate.factories import World as GateWorld
from tests.jobs import run_job
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event, senders
from leadpool.events.sending_domains import DomainRate, sweep
from leadpool.events.settings import EventSettings
from leadpool.events.tasks import DOMAIN_GUARD_TASK
from leadpool.gate import GateWorker, check, check_many, fast
from leadpool.gate.request import CheckRequest
from leadpool.models import Agency, AuditLog, Campaign, Event, Lead, SenderPause, Touch

_n = count(1)
SETTINGS = EventSettings()


def _sends(
    db: Database, domain: str, *, boxes: int, per_box: int, at: datetime, campaigns: int = 10
) -> list[int]:
    """``boxes`` mailboxes at ``domain`` sending ``per_box`` emails each, spread over ``campaigns``
    campaigns of one agency (each campaign and mailbox under its guard's minimum of sends)."""
    with session_scope(db) as s:
        agency = Agency(name=f"sending-agency-{next(_n)}")
        s.add(agency)
        s.flush()
        cs = [
            Campaign(
                agency_id=agency.id, name=f"c{i}", status="active", channels=["email"], icp={}, daily_quota=1
            )
            for i in range(campaigns)
        ]
        leads = [
            Lead(email=f"p{next(_n)}@recipients.example", email_status="verified")
            for _ in range(boxes * per_box)
        ]
        s.add_all([*cs, *leads])
        s.flush()
        touches = [
            Touch(
                lead_id=lead.id,
                agency_id=agency.id,
                campaign_id=cs[i % campaigns].id,
                channel="email",
                sender=f"box{i % boxes}@{domain}",
                state="sent",
                at=at,
                sent_at=at,
                local_date=at.date(),
                provider_message_id=f"<m{lead.id}@{domain}>",
            )
            for i, lead in enumerate(leads)
        ]
        s.add_all(touches)
        s.flush()
        return [t.id for t in touches]


def _report(db: Database, touch_ids: list[int], kind: str, at: datetime) -> list[str]:
    """Record a provider's ``kind`` event about each of the sends (linked by message id)."""
    effects: list[str] = []
    with session_scope(db) as s:
        sends = s.execute(
            select(Touch.lead_id, Touch.provider_message_id).where(Touch.id.in_(touch_ids))
        ).all()
    for lead_id, mid in sends:
        with session_scope(db) as s:
            event = EventIn(
                type=kind,
                lead_id=lead_id,
                provider_message_id=mid,
                source="test",
                provider_event_id=f"{kind}-{mid}-{at}",
                occurred_at=at,
            )
            effects += record_event(s, event, at=at + timedelta(minutes=1)).effects
    return effects


def _sweep(db: Database, now: datetime, settings: EventSettings = SETTINGS) -> dict[str, DomainRate]:
    with session_scope(db) as s:
        return {r.domain: r for r in sweep(s, settings, now=now)}


def _pauses(db: Database) -> dict[str, str]:
    with session_scope(db) as s:
        return dict(s.execute(select(SenderPause.sender, SenderPause.reason)).tuples().all())


def _sender_codes(db: Database, channel: str, sender: str) -> list[str]:
    with session_scope(db) as s:
        w = GateWorld(s)
        lead = w.lead(company_id=None)
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=lead,
            campaign_id=w.campaign_id,
            channel=channel,
            sender=sender,
            at=MONDAY_OPEN,
            reserve=False,
        )
    return d.codes


def test_a_domain_whose_mailboxes_together_bounce_too_much_is_paused_until_resumed(db: Database) -> None:
    now = datetime.now(UTC)
    spread = _sends(db, "spread.example", boxes=10, per_box=30, at=now - timedelta(days=2))
    _sends(db, "clean.example", boxes=2, per_box=150, at=now - timedelta(days=2))
    # 10 hard bounces in 300 sends (3.3%), one per mailbox (30 sends each, under the mailbox
    # guard's 50) and one per campaign (30 each, under the campaign guard's 50): no guard fires
    effects = _report(db, spread[:10], "hard_bounce", now - timedelta(days=1))
    assert not [e for e in effects if "paused" in e] and _pauses(db) == {}

    rates = _sweep(db, now)
    assert set(rates) == {"spread.example", "clean.example"}
    assert rates["spread.example"].as_dict() | {"bounce_rate": None} == {
        "domain": "spread.example",
        "sends": 300,
        "hard_bounces": 10,
        "complaints": 0,
        "bounce_rate": None,
        "complaint_rate": 0.0,
        "over": "domain_bounce_guard",
        "paused": True,
    }
    assert not rates["clean.example"].paused and rates["clean.example"].over is None
    assert _pauses(db) == {"domain:spread.example": "domain_bounce_guard"}

    # every mailbox at the domain, one that never sent included; not LinkedIn; not other domains
    denied = _sender_codes(db, "email", "New.Box@Spread.example")
    assert denied == ["sender_paused"]
    assert _sender_codes(db, "linkedin", "box1@spread.example") == []
    assert _sender_codes(db, "email", "box1@clean.example") == []
    with session_scope(db) as s:
        w = GateWorld(s)
        lead, other = w.lead(company_id=None), w.lead(company_id=None)
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=lead,
            campaign_id=w.campaign_id,
            channel="email",
            sender="box3@spread.example",
            at=MONDAY_OPEN,
            reserve=False,
        )
        assert (
            "resume-sender @spread.example" in d.reasons[0].message
            and "sending domain" in d.reasons[0].message
        )
        dbapi = s.connection().connection.dbapi_connection
        args = {"campaign_id": w.campaign_id, "channel": "email", "at": MONDAY_OPEN, "idempotency_key": None}
        assert fast.try_allow(dbapi, lead_id=lead, sender="box3@spread.example", **args) is None
        assert fast.try_allow(dbapi, lead_id=other, sender="box3@clean.example", **args) is not None
    with GateWorker(db) as gate:
        assert gate.check(
            lead_id=lead,
            campaign_id=w.campaign_id,
            channel="email",
            sender="box3@spread.example",
            at=MONDAY_OPEN,
        ).codes == ["sender_paused"]
    with session_scope(db) as s:
        got = check_many(
            s, [CheckRequest(lead, w.campaign_id, "email", "box4@spread.example", MONDAY_OPEN, True, None)]
        )
        assert got[0].codes == ["sender_paused"]

    # listed with the mailboxes' pauses; a second sweep changes nothing
    listed = CliRunner().invoke(app, ["send", "paused-senders", "--json"])
    assert [p["sender"] for p in json.loads(listed.stdout)] == ["domain:spread.example"]
    assert not _sweep(db, now)["spread.example"].paused
    with session_scope(db) as s:
        assert (
            s.scalar(select(text("count(*)")).select_from(AuditLog).where(AuditLog.action == "sender.pause"))
            == 1
        )

    # resumed by a person: the window still shows 3.3%, but only a bounce after that pauses again
    res = CliRunner().invoke(
        app, ["send", "resume-sender", "@spread.example", "--actor", "ops:kim", "--json"]
    )
    assert res.exit_code == 0 and json.loads(res.stdout)["resumed"] is True, res.output
    assert _sender_codes(db, "email", "box1@spread.example") == []
    assert not _sweep(db, datetime.now(UTC))["spread.example"].paused and _pauses(db) == {}
    _report(db, spread[10:11], "hard_bounce", datetime.now(UTC))
    assert _sweep(db, datetime.now(UTC))["spread.example"].paused


def _insert_events(db: Database, touch_ids: list[int], kind: str, at: datetime) -> None:
    with session_scope(db) as s:
        s.add_all(
            Event(
                type=kind,
                touch_id=t,
                channel="email",
                occurred_at=at,
                source="test",
                provider_event_id=f"{kind}-{t}",
            )
            for t in touch_ids
        )


def test_complaints_spread_over_mailboxes_pause_the_domain_and_what_does_not_count(db: Database) -> None:
    now = datetime(2026, 6, 10, 12, tzinfo=UTC)
    # 3 complaints in 1000 sends (0.3%, above 0.1%): paused
    noisy = _sends(db, "noisy.example", boxes=20, per_box=50, at=now - timedelta(days=3))
    _insert_events(db, noisy[:3], "complaint", now - timedelta(days=2))
    # 1 complaint in 200 sends (0.5%) is under the minimum of 2 complaints
    one = _sends(db, "one.example", boxes=4, per_box=50, at=now - timedelta(days=3))
    _insert_events(db, one[:1], "complaint", now - timedelta(days=2))
    # 199 sends is under the minimum of sends: not measured, whatever its bounces
    few = _sends(db, "few.example", boxes=1, per_box=199, at=now - timedelta(days=3))
    _insert_events(db, few[:50], "hard_bounce", now - timedelta(days=2))
    # sends older than the window, and their bounces, do not count
    old = _sends(db, "old.example", boxes=4, per_box=100, at=now - timedelta(days=8))
    _insert_events(db, old[:100], "hard_bounce", now - timedelta(days=7, hours=12))
    # a soft bounce counts only once it counted as hard; a soft one alone does not
    soft = _sends(db, "soft.example", boxes=4, per_box=50, at=now - timedelta(days=3))
    _insert_events(db, soft[:20], "soft_bounce", now - timedelta(days=2))
    # LinkedIn seats (no @) and other channels are no sending domain
    with session_scope(db) as s:
        s.execute(text("UPDATE touches SET channel = 'linkedin' WHERE id = ANY(:ids)"), {"ids": old[:1]})

    rates = _sweep(db, now)
    assert set(rates) == {"noisy.example", "one.example", "soft.example"}
    assert (rates["noisy.example"].over, rates["noisy.example"].paused) == ("domain_complaint_guard", True)
    assert rates["one.example"].over is None and rates["soft.example"].hard_bounces == 0
    with session_scope(db) as s:
        s.execute(
            text("UPDATE events SET detail = '{\"counted_as_hard\": true}' WHERE touch_id = ANY(:ids)"),
            {"ids": soft[:20]},
        )
    assert _sweep(db, now)["soft.example"].over == "domain_bounce_guard"
    assert _pauses(db) == {
        "domain:noisy.example": "domain_complaint_guard",
        "domain:soft.example": "domain_bounce_guard",
    }
    with session_scope(db) as s:
        pause = s.get(SenderPause, "domain:noisy.example")
        assert pause is not None and pause.until is None
        assert pause.detail == {"sends": 1000, "hard_bounces": 0, "complaints": 3, "days": 7}

    # the limits are settings; 1 turns a guard off
    off = EventSettings(sending_domain_bounce_guard_rate=1, sending_domain_complaint_guard_rate=1)
    assert all(r.over is None for r in _sweep(db, now, off).values())
    for bad in (
        {"sending_domain_guard_days": 0},
        {"sending_domain_guard_min_sends": 0},
        {"sending_domain_bounce_guard_rate": 0},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            EventSettings(**bad)


def test_the_worker_runs_the_sweep_and_the_cli_runs_it_now(db: Database) -> None:
    now = datetime.now(UTC)
    sent = _sends(db, "job.example", boxes=5, per_box=40, at=now - timedelta(days=1))
    _insert_events(db, sent[:7], "hard_bounce", now - timedelta(hours=2))
    listed = CliRunner().invoke(app, ["send", "domain-guard"])
    assert listed.exit_code == 0 and "job.example: 200 sends, hard bounces 3.50%" in listed.output, (
        listed.output
    )
    assert "paused now" in listed.output
    with session_scope(db) as s:
        s.execute(text("DELETE FROM sender_pauses"))
    assert run_job(db, DOMAIN_GUARD_TASK, queue="events") == "succeeded"
    assert _pauses(db) == {"domain:job.example": "domain_bounce_guard"}
    again = CliRunner().invoke(app, ["send", "domain-guard", "--json"])
    assert json.loads(again.stdout)[0] | {"bounce_rate": 0} == {
        "domain": "job.example",
        "sends": 200,
        "hard_bounces": 7,
        "complaints": 0,
        "bounce_rate": 0,
        "complaint_rate": 0.0,
        "over": "domain_bounce_guard",
        "paused": False,
    }


def test_a_bad_setting_is_one_line_naming_it(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadpool.events.settings import get_event_settings

    monkeypatch.setenv("LEADPOOL_EVENTS_SENDING_DOMAIN_GUARD_DAYS", "a week")
    get_event_settings.cache_clear()
    try:
        res = CliRunner().invoke(app, ["send", "domain-guard"])
    finally:
        monkeypatch.delenv("LEADPOOL_EVENTS_SENDING_DOMAIN_GUARD_DAYS")
        get_event_settings.cache_clear()
    assert (
        res.exit_code == 2
        and "SENDING_DOMAIN_GUARD_DAYS" in res.output.upper()
        and "Traceback" not in res.output
    )


def _paused_by_sweep(db: Database, domain: str) -> None:
    now = datetime.now(UTC)
    sent = _sends(db, domain, boxes=10, per_box=30, at=now - timedelta(days=2))
    _insert_events(db, sent[:10], "hard_bounce", now - timedelta(days=1))  # 3.3%
    assert _sweep(db, now)[domain].paused
    assert _pauses(db) == {f"domain:{domain}": "domain_bounce_guard"}


@pytest.mark.parametrize("sender", ["Box One <box1@spread.example>", "box1@SPREAD.example."])
def test_every_spelling_of_a_mailbox_at_a_paused_domain_is_denied(db: Database, sender: str) -> None:
    """A From header's display name, a fully qualified trailing dot, upper case: one domain."""
    _paused_by_sweep(db, "spread.example")
    assert _sender_codes(db, "email", sender) == ["sender_paused"]


def test_the_big_mailbox_providers_are_no_agencys_sending_domain(db: Database) -> None:
    """One agency's gmail.com mailboxes bounce: another agency's gmail.com mailbox is not paused
    (each such mailbox is judged by its own guard)."""
    now = datetime.now(UTC)
    sent = _sends(db, "gmail.com", boxes=10, per_box=30, at=now - timedelta(days=2))
    _insert_events(db, sent[:30], "hard_bounce", now - timedelta(days=1))
    assert "gmail.com" not in _sweep(db, now) and _pauses(db) == {}
    assert _sender_codes(db, "email", "founder.of.other.agency@gmail.com") == []


def test_new_complaints_pause_a_domain_resumed_while_its_old_bounces_still_show(db: Database) -> None:
    now = datetime.now(UTC)
    sent = _sends(db, "both.example", boxes=10, per_box=30, at=now - timedelta(days=2))
    _insert_events(db, sent[:10], "hard_bounce", now - timedelta(days=1))
    assert _sweep(db, now - timedelta(hours=3))["both.example"].paused
    with session_scope(db) as s:
        assert senders.resume_sender(s, "email", "@both.example", actor="ops", at=now - timedelta(hours=2))
    assert not _sweep(db, now - timedelta(minutes=90))["both.example"].paused  # the old bounces only
    _insert_events(db, sent[20:23], "complaint", now - timedelta(hours=1))  # 1%, after the resume
    rate = _sweep(db, now)["both.example"]
    assert rate.complaints == 3 and rate.paused
    assert _pauses(db) == {"domain:both.example": "domain_complaint_guard"}


def test_a_mailbox_spelled_at_domain_cannot_pause_the_whole_domain(db: Database) -> None:
    """A sender spelled '@victim.example' is a mailbox key of its own (email:@victim.example): its
    three policy blocks pause it, not every mailbox at victim.example (domain:victim.example)."""
    now = datetime.now(UTC)
    sent = _sends(db, "x.example", boxes=1, per_box=3, at=now - timedelta(hours=3), campaigns=1)
    with session_scope(db) as s:
        s.execute(text("UPDATE touches SET sender = '@victim.example' WHERE id = ANY(:ids)"), {"ids": sent})
    effects = _report(db, sent, "sender_block", now - timedelta(hours=2))
    assert "sender:paused_block_guard" in effects
    assert _pauses(db) == {"email:@victim.example": "sender_block_guard"}
    assert _sender_codes(db, "email", "sdr@victim.example") == []


def test_drops_count_in_no_domains_complaint_rate(db: Database) -> None:
    """A provider's drop (the address already on its suppression list, ``detail.dropped``) sent
    nothing to complain about: the sweep counts it neither as a complaint nor as a bounce."""
    now = datetime.now(UTC)
    sends = _sends(db, "drops.example", boxes=10, per_box=30, at=now - timedelta(days=2))
    at = now - timedelta(days=1)
    with session_scope(db) as s:
        rows = s.execute(
            select(Touch.lead_id, Touch.provider_message_id).where(Touch.id.in_(sends[:10]))
        ).all()
    for kind in ("complaint", "hard_bounce"):
        for lead_id, mid in rows:
            with session_scope(db) as s:
                record_event(
                    s,
                    EventIn(
                        type=kind,
                        lead_id=lead_id,
                        provider_message_id=mid,
                        source="test",
                        provider_event_id=f"drop-{kind}-{mid}",
                        occurred_at=at,
                        detail={"dropped": True},
                    ),
                    at=at + timedelta(minutes=1),
                )
    rate = _sweep(db, now)["drops.example"]
    assert (rate.sends, rate.hard_bounces, rate.complaints, rate.over) == (300, 0, 0, None)
    assert _pauses(db) == {}
