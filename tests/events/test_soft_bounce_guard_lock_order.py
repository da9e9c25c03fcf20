"""A soft bounce that makes its address count as hard bounced runs the bounce guards of the
campaigns and mailboxes of the address's earlier soft bounces too. Those guards' locks were taken
then, after the delivery's own (taken up front, in one order), so a delivery holding a mailbox's
lock waited for a campaign's that another delivery held while it waited for that mailbox:
a deadlock, one delivery refused. They are taken up front now, with the others."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from tests.interleaving import backend_pid, run_threads, wait_until_lock_waiting

from leadpool.db import Database
from leadpool.events import EventIn, record_event
from leadpool.events.record import lock_leads_of

from .conftest import World
from .test_review_peers import NOON, _event

S1, S2 = "one@agency.example", "two@agency.example"


def test_a_soft_bounce_threshold_and_a_hard_bounce_of_its_campaign_do_not_deadlock(
    db: Database, world: World
) -> None:
    agency = world.agency()
    c1, c2 = world.campaign(agency, channels=["email"]), world.campaign(agency, channels=["email"])
    person, other = world.lead(), world.lead()
    # two soft bounces of the person's address, sent in campaign 2 from mailbox 2 (recorded)
    for i in range(2):
        mid = f"<soft{i}@agency.example>"
        world.touch(person, c2, agency, message_id=mid, sender=S2, at=NOON - timedelta(days=2, minutes=i))
        _event(
            db,
            type="soft_bounce",
            lead_id=person,
            provider_message_id=mid,
            occurred_at=NOON - timedelta(days=1, minutes=i),
            detail={"smtp_status": "4.2.2"},
        )
    # the third, in campaign 1 from mailbox 1: the threshold (campaign 2's and mailbox 2's guards too)
    world.touch(
        person, c1, agency, message_id="<soft2@agency.example>", sender=S1, at=NOON - timedelta(days=1)
    )
    third = EventIn(
        type="soft_bounce",
        lead_id=person,
        provider_message_id="<soft2@agency.example>",
        source="test",
        provider_event_id="third",
        occurred_at=NOON - timedelta(hours=2),
        detail={"smtp_status": "4.2.2"},
    )
    # another delivery: a hard bounce in campaign 2 from mailbox 1 (guards: campaign 2, mailbox 1)
    world.touch(other, c2, agency, message_id="<hard@agency.example>", sender=S1, at=NOON - timedelta(days=1))
    hard = EventIn(
        type="hard_bounce",
        lead_id=other,
        provider_message_id="<hard@agency.example>",
        source="test",
        provider_event_id="hard",
        occurred_at=NOON - timedelta(hours=1),
    )

    effects: list[str] = []
    x_locked = threading.Event()
    y_pid: list[int] = []

    def delivery_x() -> None:
        with db.sessionmaker() as s, s.begin():
            lock_leads_of(s, [third])  # as leadpool.webhooks.handle does
            x_locked.set()
            while not y_pid:
                time.sleep(0.01)
            wait_until_lock_waiting(db, y_pid[0])  # Y holds what it got and waits for the rest
            effects.extend(record_event(s, third, at=NOON).effects)

    def delivery_y() -> None:
        x_locked.wait(10)
        with db.sessionmaker() as s, s.begin():
            y_pid.append(backend_pid(s))
            lock_leads_of(s, [hard])
            record_event(s, hard, at=NOON)

    assert run_threads(delivery_x, delivery_y) == []
    assert "soft_bounce:threshold" in effects
