"""The complaint guard: a campaign whose spam reports pass the mailbox providers' ceiling pauses,
one complaint alone does not, and the agency resumes it."""

from __future__ import annotations

from datetime import timedelta

from leadpool.allocation.campaigns import resume_campaign
from leadpool.db import Database, session_scope
from leadpool.gate import check
from leadpool.models import Campaign

from .conftest import T0, World
from .test_review_peers import NOON, _event


def _sent(world: World, n: int) -> tuple[int, int, list[int]]:
    agency = world.agency()
    campaign = world.campaign(agency, channels=["email"])
    leads = [world.lead() for _ in range(n)]
    for i, lead in enumerate(leads):
        world.touch(lead, campaign, agency, message_id=f"<c{i}@agency.example>", at=T0 + timedelta(minutes=i))
    return agency, campaign, leads


def _status(db: Database, campaign: int) -> tuple[str, str | None]:
    with session_scope(db) as s:
        c = s.get(Campaign, campaign)
        assert c is not None
        return c.status, c.paused_reason


def test_one_complaint_does_not_pause_two_do_and_the_agency_resumes(db: Database, world: World) -> None:
    agency, campaign, leads = _sent(world, 60)
    first = _event(db, type="complaint", lead_id=leads[0], provider_message_id="<c0@agency.example>")
    assert "campaign:paused_complaint_guard" not in first
    assert _status(db, campaign) == ("active", None)
    second = _event(db, type="complaint", lead_id=leads[1], provider_message_id="<c1@agency.example>")
    assert "campaign:paused_complaint_guard" in second
    assert _status(db, campaign) == ("paused", "campaign_complaint_guard")
    fresh = world.lead()
    world.own(fresh, agency, campaign)
    with session_scope(db) as s:
        d = check(s, lead_id=fresh, campaign_id=campaign, channel="email", at=NOON, reserve=False)
    assert "campaign_complaint_guard" in d.codes and "campaign_not_active" not in d.codes
    with session_scope(db) as s:
        resume_campaign(s, campaign)
    assert _status(db, campaign) == ("active", None)


def test_too_few_sends_to_measure_pause_nothing(db: Database, world: World) -> None:
    _, campaign, leads = _sent(world, 20)  # under the guard's 50 sends
    for i in range(3):
        _event(db, type="complaint", lead_id=leads[i], provider_message_id=f"<c{i}@agency.example>")
    assert _status(db, campaign) == ("active", None)


def test_a_replayed_complaint_does_not_pause_a_resumed_campaign_again(db: Database, world: World) -> None:
    """A replay changes nothing: after the guard paused the campaign and the agency resumed it, the
    provider delivering the same complaint again must not pause it again."""
    _, campaign, leads = _sent(world, 60)
    for i in (0, 1):
        _event(db, type="complaint", lead_id=leads[i], provider_message_id=f"<c{i}@agency.example>")
    assert _status(db, campaign) == ("paused", "campaign_complaint_guard")
    with session_scope(db) as s:
        resume_campaign(s, campaign)
    replay = _event(db, type="complaint", lead_id=leads[1], provider_message_id="<c1@agency.example>")
    assert "campaign:paused_complaint_guard" not in replay
    assert _status(db, campaign) == ("active", None)
