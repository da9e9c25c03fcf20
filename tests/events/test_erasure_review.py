"""Erasure reaches everything that still describes the person: their other leads, insights about
them, the sentences of the gate's decisions, and an event recorded while the erasure runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from tests.events.conftest import World
from tests.interleaving import Runner, backend_pid, wait_until_lock_waiting

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, effects, record_event
from leadpool.events.settings import EventSettings
from leadpool.gate import check
from leadpool.gate.reasons import REASON_SUMMARIES
from leadpool.ingestion.hashing import address_hmac
from leadpool.insights.facts import rebuild_facts, refresh_facts
from leadpool.models import AuditLog
from leadpool.privacy import erase

NOON_DENVER = datetime(2025, 1, 14, 17, 0, tzinfo=UTC)
NIGHT_IN_CHATHAM = datetime(2025, 1, 14, 12, 0, tzinfo=UTC)  # 01:45 on the Chatham Islands


def _lead(db: Database, lead_id: int) -> dict[str, Any]:
    with session_scope(db) as s:
        row = s.execute(
            text("SELECT email, first_name, phone, erased_at FROM leads WHERE id = :i"), {"i": lead_id}
        ).one()
    return dict(row._mapping)


def test_erasure_takes_the_same_persons_other_leads_with_it(db: Database, world: World) -> None:
    # Jane reached the pool from Apollo (her personal address listed), from a CSV keyed by that
    # personal address (listing another one of hers), and from a file keyed by the latter
    jane = world.lead(
        email="jane@acme-widgets.com",
        personal_emails=["Jane.Roe.Home@gmail.com", "info@acme-widgets.com"],
        linkedin_url=None,
        phone="+13035550142",
        first_name="Jane",
    )
    csv_jane = world.lead(
        email="jane.roe.home@gmail.com",
        personal_emails=["jane.r@proton.example"],
        linkedin_url="https://www.linkedin.com/in/jane-roe",
        phone=None,
        first_name="Jane",
    )
    file_jane = world.lead(email="jane.r@proton.example", linkedin_url=None, phone=None, first_name="Jane")
    # not her: a colleague reached on the same office number, and the company's shared mailbox
    colleague = world.lead(email="sam@acme-widgets.com", phone="+13035550142", first_name="Sam")
    mailbox = world.lead(email="info@acme-widgets.com", linkedin_url=None, phone=None, first_name="Info")
    agency = world.agency()
    campaign = world.campaign(agency)
    world.own(csv_jane, agency, campaign)
    with session_scope(db) as s:
        before = check(
            s, lead_id=csv_jane, campaign_id=campaign, channel="email", at=NOON_DENVER, reserve=False
        )
    assert before.allowed

    with session_scope(db) as s:
        result = erase(s, jane, actor="dpo")
    assert result.same_person_erased == [csv_jane, file_jane]
    assert result.ownership_ended and result.enrollments_ended == 1
    for lead_id in (jane, csv_jane, file_jane):
        row = _lead(db, lead_id)
        assert row["erased_at"] is not None and row["email"] is None and row["first_name"] is None
    assert _lead(db, colleague)["first_name"] == "Sam" and _lead(db, colleague)["erased_at"] is None
    assert _lead(db, mailbox)["email"] == "info@acme-widgets.com" and _lead(db, mailbox)["erased_at"] is None

    with session_scope(db) as s:
        after = check(
            s, lead_id=csv_jane, campaign_id=campaign, channel="email", at=NOON_DENVER, reserve=False
        )
        audits = {a.subject_id: a.detail for a in s.execute(select(AuditLog)).scalars()}
        erased = set(s.execute(text("SELECT value_hmac FROM suppressions WHERE kind = 'erased'")).scalars())
    assert not after.allowed and "erased" in after.codes
    assert audits[str(jane)]["same_person_erased"] == [csv_jane, file_jane]
    assert audits[str(csv_jane)]["same_person_as"] == jane and audits[str(csv_jane)]["ownership_ended"]
    assert (
        address_hmac("linkedin", "https://www.linkedin.com/in/jane-roe", get_settings().resolved_secret_key())
        in erased
    )
    with session_scope(db) as s:
        again = erase(s, jane, actor="dpo")
    assert again.already_erased and again.same_person_erased == []


def _erasing(db: Database, lead_id: int) -> Any:
    """An erasure that has run but not committed: it holds the lead's row lock."""
    eraser = db.sessionmaker()
    erase(eraser, lead_id, actor="dpo")
    eraser.flush()
    return eraser


def _record_behind(db: Database, eraser: Any, event: EventIn) -> Any:
    """Record ``event`` while the erasure is open; it must wait for it, then the erasure commits."""
    s = db.sessionmaker()
    pid = backend_pid(s)
    runner = Runner(lambda: (record_event(s, event), s.commit())[0])
    runner.start()
    try:
        wait_until_lock_waiting(db, pid)
    finally:
        eraser.commit()
        eraser.close()
        runner.join(30)
        s.close()
    assert runner.error is None, runner.error
    return runner.result


def test_a_reply_recorded_while_an_erasure_runs_keeps_no_text(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead()
    world.own(lead, agency, campaign)
    eraser = _erasing(db, lead)
    words = "Jane Roe here. Interested - call my cell 303-555-0142."
    outcome = _record_behind(
        db,
        eraser,
        EventIn(
            type="reply",
            lead_id=lead,
            text=words,
            occurred_at=NOON_DENVER,
            source="api",
            provider_event_id="r-1",
        ),
    )
    assert outcome.lead_id == lead and "lead:replied" in outcome.effects  # its effects still apply
    with session_scope(db) as s:
        stored = s.execute(text("SELECT text, detail FROM events WHERE lead_id = :l"), {"l": lead}).one()
    assert tuple(stored) == (None, None)


def test_an_open_recorded_while_an_erasure_runs_keeps_no_detail(db: Database, world: World) -> None:
    """An open writes nothing on the lead (no writer's lock), yet still waits for the erasure."""
    lead = world.lead()
    eraser = _erasing(db, lead)
    _record_behind(
        db,
        eraser,
        EventIn(
            type="opened",
            lead_id=lead,
            occurred_at=NOON_DENVER,
            source="api",
            provider_event_id="o-1",
            detail={"ip": "203.0.113.9", "user_agent": "Jane's iPhone"},
        ),
    )
    with session_scope(db) as s:
        detail = s.execute(text("SELECT detail FROM events WHERE lead_id = :l"), {"l": lead}).scalar_one()
    assert detail is None


def _bounce_guard_pauses(db: Database, campaign: int, rate: float) -> bool:
    """Whether the campaign's bounce guard would pause it now at ``rate`` (nothing is kept)."""
    settings = EventSettings(bounce_guard_min_sends=1, bounce_guard_rate=rate)
    s = db.sessionmaker()
    try:
        return effects.bounce_guard(s, campaign, settings, now=NOON_DENVER)
    finally:
        s.rollback()
        s.close()


def test_erasure_keeps_the_marks_the_guards_count_bounces_by(db: Database, world: World) -> None:
    """A provider's drop is no bounce, and soft bounces past the threshold count as hard, for the
    campaign, mailbox and sending-domain guards alike (``effects.HARD_BOUNCE_EVENTS``). Those marks
    say nothing about the person: erasing her, or a late drop about her after it, must not turn
    her drop into a bounce nor her counted soft bounces back into nothing."""
    agency = world.agency()
    campaign = world.campaign(agency, channels=["email"])
    dropped, soft = world.lead(), world.lead()
    late = world.lead(email="late.one@x.example")
    world.touch(dropped, campaign, agency, message_id="<drop@x.example>", at=NOON_DENVER - timedelta(days=3))
    world.touch(late, campaign, agency, message_id="<late@x.example>", at=NOON_DENVER - timedelta(days=3))
    for i in range(3):
        world.touch(
            soft, campaign, agency, message_id=f"<soft{i}@x.example>", at=NOON_DENVER - timedelta(days=3)
        )

    def bounce(lead: int, kind: str, mid: str, email: str | None = None, **detail: object) -> None:
        with session_scope(db) as s:
            record_event(
                s,
                EventIn(
                    type=kind,
                    lead_id=lead,
                    email=email,
                    provider_message_id=mid,
                    source="test",
                    provider_event_id=f"{kind}-{mid}",
                    occurred_at=NOON_DENVER - timedelta(days=2),
                    detail=detail,
                ),
                at=NOON_DENVER - timedelta(days=1),
            )

    bounce(dropped, "hard_bounce", "<drop@x.example>", dropped=True)
    for i in range(3):  # the third reaches the threshold: all three count as hard bounces
        bounce(soft, "soft_bounce", f"<soft{i}@x.example>", smtp_status="4.2.2")
    # 3 hard bounces of 5 sends: over 50%, not over 60%
    assert (_bounce_guard_pauses(db, campaign, 0.5), _bounce_guard_pauses(db, campaign, 0.6)) == (True, False)
    with session_scope(db) as s:
        erase(s, dropped, actor="dpo")
        erase(s, soft, actor="dpo")
        erase(s, late, actor="dpo")
    assert (_bounce_guard_pauses(db, campaign, 0.5), _bounce_guard_pauses(db, campaign, 0.6)) == (True, False)
    # about a person erased already: the provider names the address it dropped
    bounce(late, "hard_bounce", "<late@x.example>", "late.one@x.example", dropped=True)
    assert (_bounce_guard_pauses(db, campaign, 0.5), _bounce_guard_pauses(db, campaign, 0.6)) == (True, False)
    with session_scope(db) as s:
        kept = s.execute(text("SELECT detail FROM events WHERE detail IS NOT NULL")).scalars().all()
    assert sorted(kept, key=str) == [{"counted_as_hard": True}] * 3 + [{"dropped": True}] * 2


def test_erasure_forgets_what_insights_know_about_the_lead(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(
        country="Iceland", seniority="c_suite", departments=["finance"], time_zone="Atlantic/Reykjavik"
    )
    other = world.lead(country="Norway")
    world.touch(lead, campaign, agency, at=NOON_DENVER, message_id="m-1")
    world.touch(other, campaign, agency, at=NOON_DENVER, message_id="m-2")
    with session_scope(db) as s:
        refresh_facts(s)
        for lead_id in (lead, other):
            s.execute(
                text(
                    "INSERT INTO lead_scores (lead_id, channel, score, model_version, computed_at) "
                    "VALUES (:l, 'email', 0.42, 'v1', now())"
                ),
                {"l": lead_id},
            )
        s.execute(text("UPDATE leads SET insight_score = 0.42"))

    with session_scope(db) as s:
        result = erase(s, lead, actor="dpo")
    assert result.insight_rows_deleted == 2  # one fact, one score
    with session_scope(db) as s:
        refresh_facts(s)  # the touch is still in the refresh's overlap window
        rebuild_facts(s)  # and every touch is read again here

    def about(lead_id: int) -> tuple[Any, ...]:
        with session_scope(db) as s:
            return (
                s.execute(text("SELECT country FROM insight_facts WHERE lead_id = :l"), {"l": lead_id}).all(),
                s.execute(text("SELECT score FROM lead_scores WHERE lead_id = :l"), {"l": lead_id}).all(),
                s.execute(text("SELECT insight_score FROM leads WHERE id = :l"), {"l": lead_id}).scalar_one(),
            )

    assert about(lead) == ([], [], None)
    assert about(other) == ([("norway",)], [(0.42,)], 0.42)


def test_erasure_keeps_the_gates_decisions_without_the_persons_place(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(time_zone="Pacific/Chatham", city="Waitangi", country="New Zealand")
    other = world.lead(time_zone="Pacific/Chatham")
    for lead_id in (lead, other):
        world.own(lead_id, agency, campaign)
        with session_scope(db) as s:
            d = check(
                s,
                lead_id=lead_id,
                campaign_id=campaign,
                channel="sms",
                at=NIGHT_IN_CHATHAM,
                reserve=False,
                sender="sms-1",
            )
        assert "quiet_hours" in d.codes

    def reasons(lead_id: int) -> list[dict[str, Any]]:
        with session_scope(db) as s:
            return s.execute(
                text("SELECT reasons FROM decisions WHERE lead_id = :l"), {"l": lead_id}
            ).scalar_one()

    before = reasons(lead)
    with session_scope(db) as s:
        assert erase(s, lead, actor="dpo").decisions_generalised == 1
    after = reasons(lead)
    assert [(r["code"], r["retry_after"]) for r in after] == [(r["code"], r["retry_after"]) for r in before]
    assert [r["message"] for r in after] == [REASON_SUMMARIES[r["code"]] for r in after]
    assert "Chatham" not in str(after) and "Chatham" in str(reasons(other))
