"""The sender guards: a mailbox whose hard bounces pass 2% of its last sends, or which collects
policy blocks, is paused for every campaign it sends for; resuming it lets it send again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from leadpool.db import Database, session_scope
from leadpool.events import senders
from leadpool.events.settings import EventSettings
from leadpool.gate import check
from leadpool.models import AuditLog, Campaign

from .conftest import World
from .test_review_peers import NOON, _event

BOX = "SDR@Agency.example"  # as a sending engine may spell it; the gate keys it lower-cased
KEY = "email:sdr@agency.example"


def _sends(world: World, agency: int, n: int, *, sender: str = BOX, tag: str = "s") -> list[tuple[int, str]]:
    """``n`` sent emails of ``sender`` for a new campaign of ``agency``: (lead, message id) each."""
    campaign = world.campaign(agency, channels=["email"])
    out = []
    for i in range(n):
        lead = world.lead()
        mid = f"<{tag}{i}@agency.example>"
        world.touch(
            lead,
            campaign,
            agency,
            message_id=mid,
            sender=sender.lower(),
            at=NOON - timedelta(days=2, minutes=i),
        )
        out.append((lead, mid))
    return out


def _bounce(db: Database, lead: int, mid: str) -> list[str]:
    return _event(db, type="hard_bounce", lead_id=lead, provider_message_id=mid)


def _codes(db: Database, world: World, agency: int, *, sender: str | None = BOX, at=NOON) -> list[str]:
    campaign = world.campaign(agency, channels=["email"])
    lead = world.lead()
    world.own(lead, agency, campaign)
    with session_scope(db) as s:
        return check(
            s, lead_id=lead, campaign_id=campaign, channel="email", sender=sender, at=at, reserve=False
        ).codes


def _paused(db: Database, at=NOON) -> dict[str, senders.PausedSender]:
    with session_scope(db) as s:
        return {p.sender: p for p in senders.paused_senders(s, at=at)}


def test_bounces_over_the_limit_across_campaigns_pause_the_mailbox_until_resumed(
    db: Database, world: World
) -> None:
    agency = world.agency()
    # two campaigns of 30 sends each: neither reaches the campaign guard's 50 sends, the mailbox does
    sent = _sends(world, agency, 30, tag="a") + _sends(world, agency, 30, tag="b")
    assert "sender:paused_bounce_guard" not in _bounce(db, *sent[0])  # 1 of 60: 1.7%, not over 2%
    assert _paused(db) == {}
    effects = _bounce(db, *sent[31])  # 2 of 60: 3.3%
    assert "sender:paused_bounce_guard" in effects and "campaign:paused_bounce_guard" not in effects
    pause = _paused(db)[KEY]
    assert pause.reason == "sender_bounce_guard" and pause.until is None
    assert pause.detail == {"sends": 60, "hard_bounces": 2}

    codes = _codes(db, world, agency, at=NOON + timedelta(days=30))
    assert codes == ["sender_paused"]  # the person and the campaign are fine: only the mailbox is not
    assert "sender_paused" not in _codes(db, world, agency, sender="other@agency.example")
    assert "sender_paused" not in _codes(db, world, agency, sender=None)  # no sender named, no sender rule
    with session_scope(db) as s:
        assert [c.status for c in s.scalars(select(Campaign))] == ["active"] * len(
            s.scalars(select(Campaign)).all()
        )

    with session_scope(db) as s:
        ended = senders.resume_sender(s, "email", " sdr@AGENCY.example ", actor="ops:kim", at=NOON)
    assert ended is not None and ended.reason == "sender_bounce_guard"
    assert "sender_paused" not in _codes(db, world, agency)
    with session_scope(db) as s:
        actions = [
            (a.action, a.actor)
            for a in s.scalars(
                select(AuditLog).where(AuditLog.subject_type == "sender").order_by(AuditLog.id)
            )
        ]
    assert actions == [("sender.pause", "sender_bounce_guard"), ("sender.resume", "ops:kim")]
    # the provider delivering the same bounce again changes nothing (one event, one effect)
    assert _bounce(db, *sent[31]) == [] and _paused(db) == {}
    # a new bounce over the limit pauses it again
    assert "sender:paused_bounce_guard" in _bounce(db, *sent[40])


def test_too_few_sends_or_few_bounces_pause_nothing(db: Database, world: World) -> None:
    agency = world.agency()
    few = _sends(world, agency, 40, tag="f")  # under the 50 sends the guard needs
    for lead, mid in few[:5]:
        assert "sender:paused_bounce_guard" not in _bounce(db, lead, mid)
    assert _paused(db) == {}
    other = _sends(world, agency, 200, sender="bulk@agency.example", tag="m")
    for lead, mid in other[:4]:  # 4 of 200 = 2.0%: at the limit, not over it
        assert "sender:paused_bounce_guard" not in _bounce(db, lead, mid)
    assert _paused(db) == {}


def test_one_block_reported_twice_counts_once(db: Database, world: World) -> None:
    """A provider's webhook and the agency's own report of one blocked send are two events (two
    sources, two ids) but one block: counted twice, two sends made three blocks and paused the
    mailbox for a day."""
    agency = world.agency()
    sent = _sends(world, agency, 2, tag="twice")
    t = NOON - timedelta(hours=2)
    for n, (source, (lead, mid)) in enumerate(
        (("sendgrid", sent[0]), ("agency", sent[0]), ("sendgrid", sent[1]))
    ):
        effects = _event(
            db,
            type="sender_block",
            lead_id=lead,
            provider_message_id=mid,
            source=source,
            occurred_at=t + timedelta(minutes=n),
        )
        assert effects == ["sender:block_counted"], (source, effects)
    assert KEY not in _paused(db)


def test_policy_blocks_pause_the_mailbox_for_a_day_after_the_last(db: Database, world: World) -> None:
    agency = world.agency()
    sent = _sends(world, agency, 5, tag="k")
    t = NOON - timedelta(hours=30)
    for i, (lead, mid) in enumerate(sent[:2]):
        effects = _event(
            db,
            type="sender_block",
            lead_id=lead,
            provider_message_id=mid,
            occurred_at=t + timedelta(minutes=i),
        )
        assert effects == ["sender:block_counted"]
    # a third block more than a day after the first: only two within any 24 hours
    late = _event(
        db,
        type="sender_block",
        lead_id=sent[2][0],
        provider_message_id=sent[2][1],
        occurred_at=t + timedelta(hours=24, minutes=5),
    )
    assert late == ["sender:block_counted"]
    second = _event(
        db,
        type="sender_block",
        lead_id=sent[4][0],
        provider_message_id=sent[4][1],
        occurred_at=t + timedelta(hours=24, minutes=8),
    )
    assert second == ["sender:block_counted"]
    third = t + timedelta(hours=24, minutes=10)
    effects = _event(
        db, type="sender_block", lead_id=sent[3][0], provider_message_id=sent[3][1], occurred_at=third
    )
    assert "sender:paused_block_guard" in effects
    pause = _paused(db, at=third)[KEY]
    assert pause.reason == "sender_block_guard" and pause.until == third + timedelta(hours=24)

    with session_scope(db) as s:
        lead = world.lead()
        campaign = world.campaign(agency, channels=["email"])
        world.own(lead, agency, campaign)
        d = check(
            s,
            lead_id=lead,
            campaign_id=campaign,
            channel="email",
            sender=BOX,
            at=third + timedelta(hours=1),
            reserve=False,
        )
    reason = next(r for r in d.reasons if r.code == "sender_paused")
    # the first moment it has passed and the lead's email window is open (07:00 in Denver)
    assert reason.retry_after is not None and reason.retry_after >= third + timedelta(hours=24)
    assert "5.7" in reason.message and f"{third + timedelta(hours=24):%Y-%m-%d %H:%M} UTC" in reason.message
    assert "sender_paused" not in _codes(db, world, agency, at=third + timedelta(hours=24))


def test_a_timed_pause_never_shortens_one_until_resumed(db: Database, world: World) -> None:
    agency = world.agency()
    sent = _sends(world, agency, 60, tag="t")
    for lead, mid in sent[:2]:
        _bounce(db, lead, mid)
    assert _paused(db)[KEY].until is None
    for i, (lead, mid) in enumerate(sent[10:13]):
        _event(
            db,
            type="sender_block",
            lead_id=lead,
            provider_message_id=mid,
            occurred_at=NOON - timedelta(minutes=30 - i),
        )
    pause = _paused(db)[KEY]
    assert pause.until is None and pause.reason == "sender_bounce_guard"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sender_bounce_guard_rate", 0),
        ("sender_bounce_guard_rate", 1),
        ("sender_block_guard_count", 0),
        ("sender_block_guard_hours", 0),
        ("sender_block_guard_hours", 721),
    ],
)
def test_out_of_range_guard_settings_are_refused(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        EventSettings(**{name: value})
