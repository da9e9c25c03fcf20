"""The sender complaint guard: spam complaints spread over a mailbox's campaigns trip no campaign's
guard, but above 0.1% of the mailbox's last 2000 sends (2 complaints at least) they pause the
mailbox for every campaign it sends for, until someone resumes it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, senders
from leadpool.events.record import lock_leads_of
from leadpool.events.settings import EventSettings
from leadpool.gate import check, fast
from leadpool.gate.request import normalize_sender
from leadpool.models import AuditLog, Campaign, Event

from .conftest import World
from .test_review_peers import NOON, _event

BOX = "SDR@Agency.example"  # as a sending engine may spell it; the gate keys it lower-cased
KEY = "email:sdr@agency.example"
LATER = NOON + timedelta(days=30)  # a weekday morning in Denver, past the sends' caps


def _sends(
    world: World,
    db: Database,
    agency: int,
    n: int,
    *,
    complained: int,
    sender: str = BOX,
    tag: str = "s",
    campaign: int | None = None,
    start: datetime = NOON - timedelta(days=2),
) -> tuple[int, list[tuple[int, str]]]:
    """``n`` sent emails of ``sender`` for a campaign of ``agency`` (a new one unless given), the
    first ``complained`` (the newest) each to its own lead, the rest to one lead in one statement.
    Returns the campaign and the (lead, message id) of the first ones, newest first."""
    campaign = campaign if campaign is not None else world.campaign(agency, channels=["email"])
    own = []
    for i in range(complained):
        lead, mid = world.lead(), f"<{tag}{i}@agency.example>"
        world.touch(
            lead, campaign, agency, message_id=mid, sender=sender.lower(), at=start - timedelta(minutes=i)
        )
        own.append((lead, mid))
    rest = world.lead()
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, sender, state, at, local_date, "
                "sent_at, provider_message_id) SELECT :lead, :agency, :campaign, 'email', :sender, 'sent', "
                "t, t::date, t, :tag || i FROM generate_series(CAST(:first AS int), CAST(:last AS int)) i, "
                "LATERAL (SELECT CAST(:start AS timestamptz) - i * interval '1 minute' AS t) x"
            ),
            {
                "lead": rest,
                "agency": agency,
                "campaign": campaign,
                "sender": sender.lower(),
                "tag": f"<{tag}-bulk-",
                "first": complained,
                "last": n - 1,
                "start": start,
            },
        )
    return campaign, own


def _complain(db: Database, lead: int, mid: str) -> list[str]:
    return _event(db, type="complaint", lead_id=lead, provider_message_id=mid)


def _paused(db: Database, at: datetime = NOON) -> dict[str, senders.PausedSender]:
    with session_scope(db) as s:
        return {p.sender: p for p in senders.paused_senders(s, at=at)}


def _codes(db: Database, world: World, agency: int, sender: str | None) -> list[str]:
    campaign = world.campaign(agency, channels=["email"])
    lead = world.lead()
    world.own(lead, agency, campaign)
    with session_scope(db) as s:
        return check(
            s, lead_id=lead, campaign_id=campaign, channel="email", sender=sender, at=LATER, reserve=False
        ).codes


def _message(db: Database, world: World, agency: int, sender: str) -> str:
    campaign = world.campaign(agency, channels=["email"])
    lead = world.lead()
    world.own(lead, agency, campaign)
    with session_scope(db) as s:
        d = check(
            s, lead_id=lead, campaign_id=campaign, channel="email", sender=sender, at=LATER, reserve=False
        )
    return d.reasons[0].message


def _fast(db: Database, world: World, agency: int, sender: str) -> object:
    """The fast path's answer for a fresh lead (None: it left the check to the full one)."""
    campaign = world.campaign(agency, channels=["email"])
    primer, lead = world.lead(), world.lead()
    world.own(primer, agency, campaign)
    world.own(lead, agency, campaign)
    with session_scope(db) as s:  # the full check resolves the campaign's policy for the fast path
        check(s, lead_id=primer, campaign_id=campaign, channel="email", sender=None, at=LATER, reserve=False)
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        return fast.try_allow(
            dbapi,
            lead_id=lead,
            campaign_id=campaign,
            channel="email",
            sender=normalize_sender(sender),  # as check() and GateWorker hand it over
            at=LATER,
            idempotency_key=None,
        )


def _audit(db: Database) -> list[tuple[str, str]]:
    with session_scope(db) as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.subject_type == "sender").order_by(AuditLog.id))
        return [(a.action, a.actor) for a in rows]


def test_complaints_across_campaigns_pause_the_mailbox_no_campaign_guard_saw(
    db: Database, world: World
) -> None:
    agency = world.agency()
    # two campaigns of 100 sends each from one mailbox, one complaint each: a campaign needs 2
    _, a = _sends(world, db, agency, 100, complained=2, tag="a")
    _, b = _sends(world, db, agency, 100, complained=1, tag="b", start=NOON - timedelta(days=3))
    first = _complain(db, *a[0])
    assert "sender:paused_complaint_guard" not in first and _paused(db) == {}  # one report is no rate
    second = _complain(db, *b[0])  # 2 of the mailbox's 200 sends: 1%
    assert "sender:paused_complaint_guard" in second and "campaign:paused_complaint_guard" not in second
    pause = _paused(db)[KEY]
    with session_scope(db) as s:
        cause = s.scalar(select(Event.id).where(Event.type == "complaint", Event.lead_id == b[0][0]))
        assert [c.status for c in s.scalars(select(Campaign))] == ["active", "active"]
    assert pause.reason == "sender_complaint_guard" and pause.until is None
    assert pause.detail == {"sends": 200, "complaints": 2} and pause.cause_event_id == cause
    assert _audit(db) == [("sender.pause", "sender_complaint_guard")]
    assert _complain(db, *b[0]) == [] and _audit(db) == [("sender.pause", "sender_complaint_guard")]

    # the gate: the person and the campaign are fine, only the mailbox is not (full check, fast path)
    assert _codes(db, world, agency, BOX) == ["sender_paused"]
    assert "spam complaints" in _message(db, world, agency, BOX)
    assert _codes(db, world, agency, "other@agency.example") == []
    assert _fast(db, world, agency, BOX) is None
    assert _fast(db, world, agency, "other@agency.example") is not None

    with session_scope(db) as s:
        ended = senders.resume_sender(s, "email", " sdr@AGENCY.example ", actor="ops:kim", at=NOON)
    assert ended is not None and ended.reason == "sender_complaint_guard"
    assert _audit(db) == [("sender.pause", "sender_complaint_guard"), ("sender.resume", "ops:kim")]
    assert _codes(db, world, agency, BOX) == [] and _fast(db, world, agency, BOX) is not None
    # the provider delivering the same complaint again changes nothing; a new one pauses it again
    assert _complain(db, *b[0]) == [] and _paused(db) == {}
    assert "sender:paused_complaint_guard" in _complain(db, *a[1])
    assert _paused(db)[KEY].detail["complaints"] == 3


def test_too_few_complaints_or_sends_or_a_rate_at_the_limit_pause_nothing(db: Database, world: World) -> None:
    agency = world.agency()
    _, one = _sends(world, db, agency, 200, complained=1, tag="o", sender="one@agency.example")
    assert "sender:paused_complaint_guard" not in _complain(db, *one[0])  # 0.5%, but one report
    _, few = _sends(world, db, agency, 40, complained=2, tag="f", sender="few@agency.example")
    for lead, mid in few:  # 2 of 40: under the 50 sends the guard needs
        assert "sender:paused_complaint_guard" not in _complain(db, lead, mid)
    assert _paused(db) == {}

    # the window is the mailbox's last 2000 sends: 3 complaints among them, and one older send's
    campaign, new = _sends(world, db, agency, 2000, complained=3, tag="n", sender="bulk@agency.example")
    _, old = _sends(
        world,
        db,
        agency,
        1,
        complained=1,
        tag="x",
        sender="bulk@agency.example",
        campaign=campaign,
        start=NOON - timedelta(days=10),
    )
    assert "sender:paused_complaint_guard" not in _complain(db, *old[0])  # not in the window
    for lead, mid in new[:2]:  # 2 of 2000: 0.1%, at the limit, not over it
        assert "sender:paused_complaint_guard" not in _complain(db, lead, mid)
    assert _paused(db) == {}
    assert "sender:paused_complaint_guard" in _complain(db, *new[2])  # 3 of 2000: 0.15%
    assert _paused(db)["email:bulk@agency.example"].detail == {"sends": 2000, "complaints": 3}


def test_an_agency_sees_and_resumes_only_a_pause_its_own_send_caused(db: Database, world: World) -> None:
    mine, theirs = world.agency(), world.agency()
    _, sent = _sends(world, db, mine, 100, complained=2, tag="m")
    _sends(world, db, theirs, 100, complained=0, tag="t")  # the other agency sends from it too
    for lead, mid in sent:
        _complain(db, lead, mid)
    with session_scope(db) as s:
        assert [p.sender for p in senders.paused_senders(s, at=NOON, agency_id=mine)] == [KEY]
        assert senders.paused_senders(s, at=NOON, agency_id=theirs) == []
        assert senders.resume_sender(s, "email", BOX, actor="them", at=NOON, agency_id=theirs) is None
    assert KEY in _paused(db)
    with session_scope(db) as s:
        assert senders.resume_sender(s, "email", BOX, actor="us", at=NOON, agency_id=mine) is not None
    assert _paused(db) == {}


def test_a_delivery_takes_the_mailbox_guard_lock_with_the_campaign_one_up_front(
    db: Database, world: World
) -> None:
    """Taken event by event, two deliveries with complaints from one mailbox in two campaigns would
    deadlock (one holds the mailbox's lock and waits for a campaign's the other holds): the lock
    is taken up front, in the one order every delivery uses."""
    agency = world.agency()
    _, sent = _sends(world, db, agency, 1, complained=1, tag="l")
    complaint = EventIn(
        type="complaint",
        lead_id=sent[0][0],
        provider_message_id=sent[0][1],
        source="test",
        provider_event_id="lock-1",
        occurred_at=NOON - timedelta(hours=1),
    )
    with db.sessionmaker() as s, s.begin():
        lock_leads_of(s, [complaint])
        with db.engine.connect() as other:
            free = other.execute(
                text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), {"k": f"sender-guard:{KEY}"}
            ).scalar_one()
            if free:
                other.execute(
                    text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": f"sender-guard:{KEY}"}
                )
    assert not free


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sender_complaint_guard_rate", 0),
        ("sender_complaint_guard_rate", -0.001),
        ("sender_complaint_guard_rate", 1.5),
        ("sender_complaint_guard_window", 0),
    ],
)
def test_out_of_range_settings_are_refused(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        EventSettings(**{name: value})


def test_a_rate_of_one_is_allowed_and_a_bad_variable_is_named(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert EventSettings(sender_complaint_guard_rate=1).sender_complaint_guard_rate == 1  # never pauses
    for name, value in (
        ("LEADPOOL_EVENTS_SENDER_COMPLAINT_GUARD_RATE", "2"),
        ("LEADPOOL_EVENTS_SENDER_COMPLAINT_GUARD_RATE", "0"),
        ("LEADPOOL_EVENTS_SENDER_COMPLAINT_GUARD_WINDOW", "none"),
    ):
        monkeypatch.setenv(name, value)
        res = CliRunner().invoke(app, ["settings"])
        assert res.exit_code == 2 and name in res.output and "Traceback" not in res.output, res.output
        monkeypatch.delenv(name)
    res = CliRunner().invoke(app, ["settings", "--json"])
    assert res.exit_code == 0 and "LEADPOOL_EVENTS_SENDER_COMPLAINT_GUARD_WINDOW" in res.stdout
