"""Every reason code, produced by a realistic situation; several at once; fail closed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.allocation.campaigns import end_enrollment
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate import REASON_CODES, check, confirm_sent, windows
from leadpool.gate.reasons import REASON_SUMMARIES
from leadpool.gate.windows import SendWindow
from leadpool.models import SenderPause
from leadpool.privacy.domains import block_domain

T0 = MONDAY_OPEN
Setup = Callable[[Session, World, int], tuple[int, int, str, str | None, datetime]]


def _sent(s: Session, lead_id: int, campaign_id: int, at: datetime) -> None:
    d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel="linkedin", at=at)
    assert d.touch_id is not None, d.reasons
    confirm_sent(s, d.touch_id, f"msg-{d.touch_id}", at=at)


def _situation(code: str) -> Setup:
    def setup(s: Session, w: World, lid: int) -> tuple[int, int, str, str | None, datetime]:
        channel, sender, at, campaign = "email", None, T0, w.campaign_id
        if code == "agency_inactive":
            f.set_agency(s, w.agency_id, status="cancelled", cancelled_at=T0)
        elif code == "campaign_not_active":
            f.set_campaign(s, w.campaign_id, status="finished")
        elif code in ("campaign_bounce_guard", "campaign_complaint_guard"):
            f.set_campaign(s, w.campaign_id, status="paused", paused_reason=code)
        elif code == "channel_not_in_campaign":
            campaign = f.campaign(s, w.agency_id, channels=("email",))
            s.execute(text("UPDATE enrollments SET campaign_id = :c"), {"c": campaign})
            channel = "sms"
        elif code == "not_owned":
            other = f.agency(s)
            s.execute(text("UPDATE ownerships SET agency_id = :a"), {"a": other})
        elif code == "not_enrolled":
            s.execute(text("UPDATE enrollments SET status = 'ended', ended_at = now()"))
        elif code == "no_address":
            f.set_lead(s, lid, linkedin_url=None)
            channel = "linkedin"
        elif code == "email_unverified":
            f.set_lead(s, lid, email_status="guessed")
        elif code in ("unsubscribed", "complained", "email_bounced", "erased", "blocklisted", "converted"):
            f.set_lead(s, lid, **{f"{code}_at": T0 - timedelta(days=1)})
        elif code == "replied":
            f.set_lead(s, lid, replied_at=T0 - timedelta(hours=1), reply_category="interested")
        elif code == "cooling":
            f.set_lead(s, lid, cooling_until=T0 + timedelta(days=365))
        elif code == "paused_ooo":
            f.set_lead(s, lid, paused_until=T0 + timedelta(days=3))
        elif code == "lead_daily_cap":
            assert check(s, lead_id=lid, campaign_id=campaign, channel="linkedin", at=T0).allowed
        elif code == "lead_weekly_cap":
            for days in (3, 2, 1):
                _sent(s, lid, campaign, T0 - timedelta(days=days))
        elif code == "company_daily_cap":
            for _ in range(2):
                assert check(s, lead_id=w.lead(), campaign_id=campaign, channel="linkedin", at=T0).allowed
        elif code == "sender_daily_cap":
            s.execute(
                text('UPDATE agencies SET settings = \'{"gate": {"sender_daily_caps": {"email": 1}}}\'')
            )
            other = f.World(s)
            assert check(
                s,
                lead_id=other.lead(),
                campaign_id=other.campaign_id,
                channel="email",
                sender="box@a.com",
                at=T0,
            ).allowed
            sender = "box@a.com"
        elif code == "sender_weekly_cap":
            # the account's touch two days ago (another agency's) fills its rolling week, not its day
            s.execute(
                text('UPDATE agencies SET settings = \'{"gate": {"sender_weekly_caps": {"linkedin": 1}}}\'')
            )
            other = f.World(s)
            d = check(
                s,
                lead_id=other.lead(),
                campaign_id=other.campaign_id,
                channel="linkedin",
                sender="seat-1",
                at=T0 - timedelta(days=2),
            )
            assert d.touch_id is not None, d.reasons
            confirm_sent(s, d.touch_id, "msg-seat-1", at=T0 - timedelta(days=2))
            channel, sender = "linkedin", "seat-1"
        elif code == "domain_blocked":
            block_domain(s, "example.com", reason="a competitor", actor="test")  # the lead's email's domain
            f.enroll(s, lid, w.campaign_id, w.agency_id)  # the block ended its enrollment
            f.set_lead(s, lid, rest_until=None)  # and the rest that ending started is over
        elif code == "no_consent":
            f.set_lead(s, lid, country="Germany")  # email there wants the person's consent
        elif code == "sender_paused":
            s.add(
                SenderPause(
                    sender="email:box@a.com", reason="sender_bounce_guard", paused_at=T0 - timedelta(hours=1)
                )
            )
            sender = "box@a.com"
        elif code == "agency_daily_cap":
            f.set_agency(s, w.agency_id, settings={"gate": {"agency_daily_cap": 1}})
            other = f.lead(s)
            f.own(s, other, w.agency_id)
            f.enroll(s, other, campaign, w.agency_id)
            assert check(s, lead_id=other, campaign_id=campaign, channel="email", at=T0).allowed
        elif code == "rest_period":
            # the sequence finished in one campaign; the agency enrolls the lead in a sibling at once
            assert end_enrollment(s, w.campaign_id, lid, at=T0 - timedelta(days=1)).ended
            campaign = f.campaign(s, w.agency_id)
            f.enroll(s, lid, campaign, w.agency_id)
        elif code == "company_paused":
            colleague = w.lead()
            record_event(
                s,
                EventIn(
                    type="reply",
                    lead_id=colleague,
                    occurred_at=T0 - timedelta(hours=2),
                    source="test",
                    provider_event_id="colleague-reply",
                    category="not_interested",
                ),
                at=T0,
            )
        elif code == "company_weekly_cap":
            for days in (5, 4, 3, 2, 1):
                _sent(s, w.lead(), campaign, T0 - timedelta(days=days))
        elif code == "quiet_hours":
            at = T0.replace(hour=2)  # 21:00 Sunday in New York
        elif code == "unknown_timezone":
            f.set_lead(s, lid, time_zone=None)
            channel = "sms"
        return lid, campaign, channel, sender, at

    return setup


# sender_not_owned is the API's (the tenant boundary): tests/api/test_api_sender_claims.py
CODES = [c for c in REASON_CODES if c not in ("gate_error", "sender_not_owned")]


@pytest.mark.parametrize("code", CODES)
def test_each_reason_code_alone(db: Database, code: str) -> None:
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead()
        lead_id, campaign, channel, sender, at = _situation(code)(s, w, lid)
    with session_scope(db) as s:
        d = check(s, lead_id=lead_id, campaign_id=campaign, channel=channel, sender=sender, at=at)
    assert d.decision == "deny"
    assert d.codes == [code], d.reasons
    assert d.reasons[0].message and d.reasons[0].message != REASON_SUMMARIES[code]
    timed = {
        "cooling",
        "paused_ooo",
        "lead_daily_cap",
        "lead_weekly_cap",
        "company_daily_cap",
        "sender_daily_cap",
        "sender_weekly_cap",
        "agency_daily_cap",
        "quiet_hours",
        "rest_period",
        "company_paused",
        "company_weekly_cap",
    }
    assert (d.reasons[0].retry_after is not None) == (code in timed)
    if d.reasons[0].retry_after is not None:
        assert d.reasons[0].retry_after > at
    with db.engine.connect() as c:
        stored = c.execute(text("SELECT allowed, reasons FROM decisions ORDER BY id DESC LIMIT 1")).one()
    assert not stored.allowed and [r["code"] for r in stored.reasons] == [code]


def test_retry_after_values(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead()
        for days in (6, 2, 1):
            _sent(s, lid, w.campaign_id, T0 - timedelta(days=days, hours=-1))
        f.set_lead(s, lid, cooling_until=T0 + timedelta(days=30), paused_until=T0 + timedelta(days=2))
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0.replace(hour=1))
    by = {r.code: r.retry_after for r in d.reasons}
    # 01:00 UTC Monday is 20:00 Sunday in New York, the local day of the touch a day ago
    assert set(by) == {"cooling", "paused_ooo", "lead_daily_cap", "lead_weekly_cap", "quiet_hours"}

    # each at the first moment it has passed and the email window (07:00-19:00 Mon-Fri, New York)
    # is open: a worker sleeping until it is not denied again as quiet hours
    def opens(t: datetime) -> datetime:
        return windows.next_open(
            SendWindow(time(7), time(19), frozenset(range(5))), t, ZoneInfo("America/New_York")
        )

    assert by["lead_daily_cap"] == opens(T0.replace(hour=5)) == T0.replace(hour=12)  # midnight -> 07:00
    assert by["cooling"] == opens(T0 + timedelta(days=30))
    assert by["paused_ooo"] == opens(T0 + timedelta(days=2))
    # three touches in the window (6, 2 and 1 days ago): one more fits when the oldest ages out
    assert by["lead_weekly_cap"] == opens(T0 - timedelta(days=6, hours=-1) + timedelta(days=7))
    assert by["quiet_hours"] == T0.replace(hour=12)  # 07:00 in New York (EST)
    assert d.retry_after == max(by.values())


def test_many_reasons_at_once(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(email_status="guessed", time_zone=None)
        f.set_lead(s, lid, unsubscribed_at=T0, complained_at=T0, email_bounced_at=T0, replied_at=T0)
        f.set_campaign(s, w.campaign_id, status="paused")
        f.set_agency(s, w.agency_id, status="cancelled")
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0.replace(hour=5))
        sms = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="sms", at=T0)
    assert d.codes == [
        "agency_inactive",
        "campaign_not_active",
        "email_unverified",
        "unsubscribed",
        "complained",
        "email_bounced",
        "replied",
        "quiet_hours",  # no zone, no country: every clock of its (US) number's country, all closed
    ]
    assert sms.codes == [
        "agency_inactive",
        "campaign_not_active",
        "unsubscribed",
        "complained",
        "replied",
        "unknown_timezone",
    ]


def test_missing_lead_and_campaign(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        d = check(s, lead_id=987654, campaign_id=w.campaign_id, channel="email", at=T0)
        d2 = check(s, lead_id=w.lead(), campaign_id=987654, channel="email", at=T0)
    assert d.codes == ["not_owned", "not_enrolled"]
    assert "does not exist" in d.reasons[0].message
    assert d2.codes == ["campaign_not_active", "not_owned", "not_enrolled"]
    # no campaign, no agency: nothing about who owns the lead (it read "owned by another agency")
    assert "does not exist" in d2.reasons[1].message and "agency" not in d2.reasons[1].message


def test_allowed_email_statuses_per_campaign(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s, campaign_gate={"allowed_email_statuses": ["verified", "extrapolated"]})
        ok = w.lead(email_status="extrapolated")
        no = w.lead(email_status="guessed", company_id=f.company(s))
    with session_scope(db) as s:
        assert check(s, lead_id=ok, campaign_id=w.campaign_id, channel="email", at=T0).allowed
        assert check(s, lead_id=no, campaign_id=w.campaign_id, channel="email", at=T0).codes == [
            "email_unverified"
        ]


def test_invalid_stored_override_fails_closed(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s, campaign_gate={"lead_daily_cap": "lots"})
        lid = w.lead()
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, idempotency_key="k")
    assert d.codes == ["gate_error"] and "lead_daily_cap" in d.reasons[0].message
    # once the setting is fixed, a retry with the same key decides afresh (errors are not replayed)
    with session_scope(db) as s:
        f.set_campaign(s, w.campaign_id, settings=None)
    with session_scope(db) as s:
        d2 = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, idempotency_key="k")
    assert d2.allowed and not d2.replayed


def test_lost_connection_is_a_gate_error_not_an_exception(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead()
    s = db.sessionmaker()
    try:
        pid = s.connection().execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.engine.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            killer.commit()
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0)
        assert d.decision == "deny" and d.codes == ["gate_error"] and d.touch_id is None
        s.commit()  # the session is usable again; the gate_error decision was recorded
    finally:
        s.close()
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM touches")).scalar_one() == 0
        assert c.execute(text("SELECT count(*) FROM decisions WHERE NOT allowed")).scalar_one() == 1


def test_unreachable_database_is_a_gate_error() -> None:
    from leadpool.db import Database as Db

    bad = Db.from_uri("postgresql://nobody@127.0.0.1:1/nowhere")
    s = bad.sessionmaker()
    try:
        d = check(s, lead_id=1, campaign_id=1, channel="email")
    finally:
        s.close()
        bad.dispose()
    assert d.decision == "deny" and d.codes == ["gate_error"]
