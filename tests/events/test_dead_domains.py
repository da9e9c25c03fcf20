"""Dead domains: a permanent bounce saying the recipient's domain accepts no mail (SMTP 5.1.2,
5.1.10) closes that domain to email for everyone, on every path of the gate, for a while; other
channels stay open; other codes, mailbox providers and the flag turned off close nothing."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.gate.factories import MONDAY_OPEN, World
from tests.interleaving import backend_pid, interleave, run_threads, wait_until_lock_waiting
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.events.dead_domains import dead_domains, revive_domain
from leadpool.events.record import lock_leads_of
from leadpool.events.settings import EventSettings
from leadpool.gate import GateWorker, check, check_many, fast
from leadpool.gate.request import CheckRequest
from leadpool.models import AuditLog, DeadDomain

T0 = MONDAY_OPEN
BOUNCED = T0 - timedelta(hours=1)
UNTIL = BOUNCED + timedelta(days=90)
_ids = iter(range(1, 10_000))


def _bounce(
    db: Database,
    email: str,
    status: str | None,
    *,
    at: datetime = BOUNCED,
    event_id: str | None = None,
    settings: EventSettings | None = None,
    lead_id: int | None = None,
) -> list[str]:
    event = EventIn(
        type="hard_bounce",
        email=None if lead_id else email,
        lead_id=lead_id,
        source="test",
        provider_event_id=event_id or f"bounce-{next(_ids)}",
        occurred_at=at,
        detail={"smtp_status": status} if status else {},
    )
    with session_scope(db) as s:
        return record_event(s, event, at=at + timedelta(minutes=1), settings=settings).effects


def _check(db: Database, lead: int, campaign: int, channel: str = "email", at: datetime = T0) -> Any:
    with session_scope(db) as s:
        return check(s, lead_id=lead, campaign_id=campaign, channel=channel, at=at, reserve=False)


def _closed(db: Database) -> dict[str, tuple[datetime, datetime, int, str]]:
    with session_scope(db) as s:
        return {r.domain: (r.since, r.until, r.bounces, r.smtp_status) for r in s.scalars(select(DeadDomain))}


def test_a_domain_a_bounce_says_accepts_no_mail_is_closed_to_email_on_every_path(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        bounced = w.lead(company_id=None, email="jane@deadco.example")
        colleague = w.lead(company_id=None, email="raj@deadco.example")
        subdomain = w.lead(company_id=None, email="li@eu.deadco.example")
        elsewhere = w.lead(company_id=None, email="kim@liveco.example")
        control = w.lead(company_id=None, email="bo@liveco.example")
    assert _check(db, colleague, w.campaign_id).allowed  # and this process learns the policy

    # the provider's DSN line, as mail logs show it
    effects = _bounce(db, "jane@deadco.example", "550 5.1.2 Host unknown")
    assert "domain:dead" in effects and "suppressed:email_bounced" in effects
    assert _closed(db) == {"deadco.example": (BOUNCED, UNTIL, 1, "5.1.2")}

    d = _check(db, colleague, w.campaign_id)
    # possible again once the closure ends (and the send window is open: Sunday 31 May, so Monday)
    assert d.codes == ["email_bounced"] and d.retry_after == datetime.fromisoformat(
        "2026-06-01T11:00:00+00:00"
    )
    assert "deadco.example" in d.reasons[0].message and "accepts no mail" in d.reasons[0].message
    own = _check(db, bounced, w.campaign_id)  # the address's own bounce: never passes by itself
    assert own.codes == ["email_bounced"] and own.retry_after is None
    for channel in ("linkedin", "sms", "phone"):
        assert _check(db, colleague, w.campaign_id, channel).allowed, channel
    for other in (subdomain, elsewhere):  # a subdomain keeps its own mail set-up
        assert _check(db, other, w.campaign_id).allowed, other
    assert _check(db, colleague, w.campaign_id, at=d.retry_after).allowed  # it ended

    # the fast function sends it to the full check; a sending worker and a batch deny it
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        fast_args = {"campaign_id": w.campaign_id, "channel": "email", "sender": None, "at": T0}
        assert fast.try_allow(dbapi, lead_id=colleague, idempotency_key=None, **fast_args) is None
        assert fast.try_allow(dbapi, lead_id=control, idempotency_key=None, **fast_args) is not None
    with GateWorker(db) as gate:
        assert gate.check(lead_id=colleague, campaign_id=w.campaign_id, channel="email", at=T0).codes == [
            "email_bounced"
        ]
        assert gate.check(lead_id=elsewhere, campaign_id=w.campaign_id, channel="email", at=T0).allowed
    with session_scope(db) as s:
        reqs = [
            CheckRequest(lead, w.campaign_id, "email", None, T0, True, None)
            for lead in (colleague, subdomain)
        ]
        assert [x.codes for x in check_many(s, reqs)] == [["email_bounced"], []]


@pytest.mark.parametrize(
    ("email", "status", "suppressed"),
    [
        ("a@stale.example", "5.1.1", True),  # one mailbox, not the domain
        ("a@stale.example", None, True),  # a hard bounce with no code says nothing of the domain
        ("a@stale.example", "4.1.2", False),  # transient (a DNS failure): a soft bounce
        ("a@stale.example", "5.7.1 relay denied", False),  # a policy block of the sender
        ("a@gmail.com", "5.1.2", True),  # a mailbox provider always accepts mail: a misreport
        ("a@outlook.com", "5.1.10", True),
    ],
)
def test_other_codes_and_mailbox_providers_close_nothing(
    db: Database, email: str, status: str | None, suppressed: bool
) -> None:
    effects = _bounce(db, email, status)
    assert "domain:dead" not in effects
    assert ("suppressed:email_bounced" in effects) is suppressed
    assert _closed(db) == {}


def test_the_flag_turned_off_closes_nothing_and_its_setting_is_validated(db: Database) -> None:
    assert "domain:dead" not in _bounce(
        db, "a@gone.example", "5.1.10", settings=EventSettings(dead_domain_days=0)
    )
    assert _closed(db) == {}
    for bad in (-1, 3651):
        with pytest.raises(ValueError, match="dead_domain_days"):
            EventSettings(dead_domain_days=bad)


def test_an_address_the_pool_does_not_hold_closes_its_domain_for_leads_imported_later(db: Database) -> None:
    assert "domain:dead" in _bounce(db, "Old.Boss@Gone.Example", "5.1.10")  # normalised as leads are
    with session_scope(db) as s:
        w = World(s)
        later = w.lead(company_id=None, email="new.hire@gone.example")
    d = _check(db, later, w.campaign_id)
    assert d.codes == ["email_bounced"] and "gone.example" in d.reasons[0].message


def test_a_bounce_naming_only_the_lead_closes_its_current_addresss_domain(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(company_id=None, email="ann@shutco.example")
    assert "domain:dead" in _bounce(db, "", "5.1.2", lead_id=lead)
    assert set(_closed(db)) == {"shutco.example"}


def test_replays_change_nothing_and_later_bounces_keep_it_closed_longer(db: Database) -> None:
    _bounce(db, "a@gone.example", "5.1.2", event_id="first")
    assert _bounce(db, "a@gone.example", "5.1.2", event_id="first") == []  # the provider's retry
    assert _closed(db)["gone.example"] == (BOUNCED, UNTIL, 1, "5.1.2")

    later = BOUNCED + timedelta(days=10)
    _bounce(db, "b@gone.example", "5.1.10", at=later)
    assert _closed(db)["gone.example"] == (BOUNCED, later + timedelta(days=90), 2, "5.1.10")
    # one that happened before, arriving late, does not pull the end back (nor its reason)
    _bounce(db, "c@gone.example", "5.1.2", at=BOUNCED - timedelta(days=5))
    assert _closed(db)["gone.example"] == (
        BOUNCED - timedelta(days=5),
        later + timedelta(days=90),
        3,
        "5.1.10",
    )


def test_the_cli_lists_closed_domains_and_an_operator_revives_one(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(company_id=None, email="raj@deadco.example")
    now = datetime.now(UTC)  # the CLI lists what is closed now
    _bounce(db, "jane@deadco.example", "5.1.2", at=now - timedelta(hours=1))
    _bounce(db, "x@expired.example", "5.1.2", at=now - timedelta(days=200))  # ended long ago
    assert _check(db, lead, w.campaign_id).codes == ["email_bounced"]
    runner = CliRunner()

    listed = runner.invoke(app, ["send", "dead-domains", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["domain"] for r in rows] == ["deadco.example"] and rows[0]["smtp_status"] == "5.1.2"
    human = runner.invoke(app, ["send", "dead-domains"])
    assert "deadco.example: 5.1.2 since" in human.output and "(1 bounce)" in human.output
    past = runner.invoke(app, ["send", "dead-domains", "--after", "deadco.example", "--limit", "5", "--json"])
    assert past.exit_code == 0 and json.loads(past.stdout) == [], past.output
    zero = runner.invoke(app, ["send", "dead-domains", "--limit", "0"])
    assert zero.exit_code == 2 and "--limit" in zero.output

    res = runner.invoke(app, ["send", "revive-domain", "not a domain", "--actor", "ops:kim"])
    assert res.exit_code != 0 and "not a domain" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["send", "revive-domain", "deadco.example", "--actor", "  "])
    assert res.exit_code != 0 and "actor" in res.output

    revived = runner.invoke(
        app, ["send", "revive-domain", "https://www.DeadCo.example/", "--actor", "ops:kim", "--json"]
    )
    assert revived.exit_code == 0, revived.output
    out = json.loads(revived.stdout)
    assert out["revived"] is True and out["domain"]["domain"] == "deadco.example"
    assert _check(db, lead, w.campaign_id).allowed
    with session_scope(db) as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "domain.revive")).one()
        assert (audit.actor, audit.subject_id, audit.detail["smtp_status"]) == (
            "ops:kim",
            "deadco.example",
            "5.1.2",
        )
        assert [d.domain for d in dead_domains(s, at=now - timedelta(days=199))] == ["expired.example"]

    again = runner.invoke(app, ["send", "revive-domain", "deadco.example", "--actor", "ops:kim"])
    assert again.exit_code == 0 and "was not closed" in again.output
    with session_scope(db) as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "domain.revive").offset(1)) is None


def test_two_deliveries_closing_two_domains_in_opposite_orders_do_not_deadlock(db: Database) -> None:
    """A provider's delivery is one transaction recording its events in payload order; closing a
    domain writes its row. Delivery X (x then y) and delivery Y (y then x), bounce by bounce,
    each held one row and waited for the other's. The domains' locks are taken up front, sorted
    with the guards' (``lock_leads_of``, as ``leadpool.webhooks`` does)."""

    def bounce(email: str) -> EventIn:
        return EventIn(
            type="hard_bounce",
            email=email,
            source="test",
            provider_event_id=f"dl-{email}",
            occurred_at=BOUNCED,
            detail={"smtp_status": "5.1.2"},
        )

    x_events = [bounce("a@x-gone.example"), bounce("b@y-gone.example")]
    y_events = [bounce("c@y-gone.example"), bounce("d@x-gone.example")]
    x_first_done = threading.Event()
    y_pid: list[int] = []

    def delivery_x() -> None:
        with db.sessionmaker() as s, s.begin():
            lock_leads_of(s, x_events)
            record_event(s, x_events[0], at=T0)
            x_first_done.set()
            while not y_pid:
                time.sleep(0.01)
            wait_until_lock_waiting(db, y_pid[0])  # Y holds what it got and waits for the rest
            record_event(s, x_events[1], at=T0)

    def delivery_y() -> None:
        x_first_done.wait(10)
        with db.sessionmaker() as s, s.begin():
            y_pid.append(backend_pid(s))
            lock_leads_of(s, y_events)
            for event in y_events:
                record_event(s, event, at=T0)

    assert run_threads(delivery_x, delivery_y) == []
    assert {d: c[2] for d, c in _closed(db).items()} == {"x-gone.example": 2, "y-gone.example": 2}


def _late(
    db: Database, email: str, at: datetime, arrived: datetime, agency_id: int | None = None
) -> list[str]:
    event = EventIn(
        type="hard_bounce",
        email=email,
        source="test",
        provider_event_id=f"late-{next(_ids)}",
        occurred_at=at,
        detail={"smtp_status": "5.1.2"},
    )
    with session_scope(db) as s:
        return record_event(s, event, at=arrived, agency_id=agency_id).effects


def test_a_bounce_from_before_a_revive_does_not_close_the_domain_again(db: Database) -> None:
    now = datetime.now(UTC)
    _late(db, "jane@fixedco.example", now - timedelta(hours=2), now - timedelta(hours=2))
    with session_scope(db) as s:
        assert (
            revive_domain(s, "fixedco.example", actor="ops:kim", at=now - timedelta(minutes=30)) is not None
        )
    # a colleague's bounce from before the fix, delivered late: the address only
    effects = _late(db, "raj@fixedco.example", now - timedelta(hours=3), now)
    assert "domain:dead" not in effects and "suppressed:email_bounced" in effects
    assert _closed(db) == {}
    assert "domain:dead" in _late(db, "li@fixedco.example", now - timedelta(minutes=5), now)  # after it


def test_a_domain_kept_as_www_is_listed_and_revived_as_it_is(db: Database) -> None:
    now = datetime.now(UTC)
    assert "domain:dead" in _late(db, "info@www.oldco.example", now - timedelta(hours=1), now)
    listed = json.loads(CliRunner().invoke(app, ["send", "dead-domains", "--json"]).stdout)
    assert [r["domain"] for r in listed] == ["www.oldco.example"]
    res = CliRunner().invoke(app, ["send", "revive-domain", "www.oldco.example", "--actor", "ops", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["revived"] is True, res.output
    assert _closed(db) == {}


def test_an_agency_closes_a_domain_only_by_a_bounce_of_its_own_send(db: Database) -> None:
    """A bounce an agency reports by address alone could name any domain, and a closure holds for
    every agency: it suppresses the address only. Providers' webhooks (no agency) close it."""
    with session_scope(db) as s:
        a, b = World(s), World(s)
        victim = b.lead(company_id=None, email="ceo@bigclient.example")
    effects = _late(db, "nobody@bigclient.example", BOUNCED, BOUNCED, agency_id=a.agency_id)
    assert "domain:dead" not in effects and "suppressed:email_bounced" in effects
    assert _check(db, victim, b.campaign_id).allowed


@pytest.mark.parametrize(
    "email", ["a@hotmail.de", "a@yahoo.de", "a@outlook.de", "a@live.co.uk", "a@btinternet.com"]
)
def test_regional_mailbox_providers_are_never_closed(db: Database, email: str) -> None:
    assert "domain:dead" not in _bounce(db, email, "5.1.2")


def test_reviving_a_closure_that_already_ended_changes_nothing(db: Database) -> None:
    now = datetime.now(UTC)
    _bounce(db, "x@expired.example", "5.1.2", at=now - timedelta(days=200))
    res = CliRunner().invoke(app, ["send", "revive-domain", "expired.example", "--actor", "ops", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["revived"] is False, res.output
    with session_scope(db) as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "domain.revive")) is None


def test_a_bounce_from_before_a_revive_recorded_while_it_runs_does_not_close_the_domain_again(
    db: Database,
) -> None:
    """The revive takes the closing bounces' lock: without it, an old bounce being recorded at that
    moment read the audit log before the revive committed, waited on the deleted row, and put the
    closure back once the revive committed (the reviewer's reading, now a test)."""
    _bounce(db, "jane@gone-again.example", "5.1.2")
    assert set(_closed(db)) == {"gone-again.example"}
    old = EventIn(
        type="hard_bounce",
        email="raj@gone-again.example",
        source="test",
        provider_event_id=f"old-{next(_ids)}",
        occurred_at=BOUNCED + timedelta(minutes=1),  # before the revive
        detail={"smtp_status": "5.1.2"},
    )

    def revive(s: Any) -> None:
        assert revive_domain(s, "gone-again.example", actor="ops:kim", at=T0) is not None

    def record(s: Any) -> None:
        record_event(s, old, at=T0 + timedelta(minutes=1))

    assert interleave(db, revive, "INSERT INTO audit_log", record) == (None, None)
    assert _closed(db) == {}
