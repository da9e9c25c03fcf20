"""Review of the sender guards (9df259f): cases where a mailbox that passed a guard's limit is
not paused."""

from __future__ import annotations

from datetime import timedelta

from leadpool.db import Database

from .conftest import World
from .test_review_peers import NOON, _event
from .test_sender_guard import KEY, _paused, _sends


def test_policy_blocks_delivered_out_of_order_still_pause_the_mailbox(db: Database, world: World) -> None:
    """Three 5.7.x blocks within three hours, the newest delivered first (webhook retries and the
    suppression-list reconciliation deliver late): no arriving block sees two earlier ones before
    it, so block_guard (which only looks back from the arriving event) never pauses."""
    agency = world.agency()
    sent = _sends(world, agency, 3, tag="ooo")
    base = NOON - timedelta(hours=5)
    for (lead, mid), t in zip(
        sent, (base + timedelta(hours=2), base, base + timedelta(hours=1)), strict=True
    ):
        _event(db, type="sender_block", lead_id=lead, provider_message_id=mid, occurred_at=t)
    pause = _paused(db, at=NOON).get(KEY)
    assert pause is not None and pause.until == base + timedelta(hours=26)


def test_soft_bounces_counted_as_hard_pause_the_mailbox_as_they_pause_the_campaign(
    db: Database, world: World
) -> None:
    """The sender guard counts soft bounces counted as hard (its docstring, _HARD), but only a
    hard_bounce event runs it: an address whose third soft bounce makes it count as hard pauses
    the campaign (fx.bounce_guard in _soft_bounces_count_as_hard) and never the mailbox."""
    agency = world.agency()
    sent = _sends(world, agency, 47, tag="sb")
    campaign = world.campaign(agency, channels=["email"])
    lead = world.lead()
    mids = []
    for i in range(3):  # one person mailed three times from the mailbox, each a soft bounce
        mid = f"<full{i}@agency.example>"
        world.touch(
            lead,
            campaign,
            agency,
            message_id=mid,
            sender="sdr@agency.example",
            at=NOON - timedelta(days=3, minutes=i),
        )
        mids.append(mid)
    assert len(sent) + 3 == 50
    effects: list[str] = []
    for i, mid in enumerate(mids):
        effects = _event(
            db,
            type="soft_bounce",
            lead_id=lead,
            provider_message_id=mid,
            occurred_at=NOON - timedelta(hours=3 - i),
            detail={"smtp_status": "4.2.2"},
        )
    assert "soft_bounce:threshold" in effects  # the address now counts as hard bounced: 3 of 50 sends
    assert KEY in _paused(db, at=NOON)


def test_two_deliveries_bouncing_one_mailbox_in_two_campaigns_do_not_deadlock(
    db: Database, world: World
) -> None:
    """A provider delivery is one transaction recording its events in payload order, and each
    hard bounce now takes the campaign guard's advisory lock, then the sender guard's, both held
    to commit. Delivery X (a bounce in campaign 1, then one in campaign 2) and delivery Y (a
    bounce in campaign 2) from the same mailbox deadlock: X holds sender:S and waits for guard:c2,
    Y holds guard:c2 and waits for sender:S. Before 9df259f, Y never waited on X."""
    import threading
    import time

    from tests.interleaving import run_threads

    from leadpool.events import EventIn, record_event
    from leadpool.events.record import lock_leads_of

    agency = world.agency()
    c1, c2 = world.campaign(agency, channels=["email"]), world.campaign(agency, channels=["email"])
    sent = []
    for i, campaign in enumerate((c1, c2, c2)):
        lead = world.lead()
        mid = f"<dl{i}@agency.example>"
        world.touch(
            lead,
            campaign,
            agency,
            message_id=mid,
            sender="sdr@agency.example",
            at=NOON - timedelta(days=1, minutes=i),
        )
        sent.append((lead, mid))

    def bounce(lead: int, mid: str) -> EventIn:
        return EventIn(
            type="hard_bounce",
            lead_id=lead,
            provider_message_id=mid,
            source="test",
            provider_event_id=f"dl-{mid}",
            occurred_at=NOON - timedelta(hours=1),
        )

    x_first_done, y_started = threading.Event(), threading.Event()

    def delivery_x() -> None:
        with db.sessionmaker() as s, s.begin():
            # as a webhook delivery records its events (leadpool.webhooks.handle)
            lock_leads_of(s, [bounce(*sent[0]), bounce(*sent[1])])
            record_event(s, bounce(*sent[0]), at=NOON)
            x_first_done.set()
            y_started.wait(10)
            time.sleep(0.5)  # Y is now waiting on the sender lock X holds
            record_event(s, bounce(*sent[1]), at=NOON)

    def delivery_y() -> None:
        x_first_done.wait(10)
        with db.sessionmaker() as s, s.begin():
            y_started.set()
            lock_leads_of(s, [bounce(*sent[2])])
            record_event(s, bounce(*sent[2]), at=NOON)

    assert run_threads(delivery_x, delivery_y) == []


def test_blocks_of_a_linkedin_account_pause_that_account_not_a_mailbox_of_its_name(
    db: Database, world: World
) -> None:
    """block_guard keys every pause ``email:`` whatever the touch's channel: three sender_block
    events on LinkedIn touches (an account restriction reported as a block) pause a non-existent
    mailbox ``email:li-acct-7`` and leave ``linkedin:li-acct-7`` sending."""
    agency = world.agency()
    campaign = world.campaign(agency, channels=["linkedin"])
    for i in range(3):
        lead = world.lead()
        mid = f"li-msg-{i}"
        world.touch(
            lead,
            campaign,
            agency,
            channel="linkedin",
            message_id=mid,
            sender="li-acct-7",
            at=NOON - timedelta(hours=6, minutes=i),
        )
        _event(
            db,
            type="sender_block",
            lead_id=lead,
            provider_message_id=mid,
            channel="linkedin",
            occurred_at=NOON - timedelta(hours=2, minutes=-i),
        )
    paused = _paused(db, at=NOON)
    assert "email:li-acct-7" not in paused
