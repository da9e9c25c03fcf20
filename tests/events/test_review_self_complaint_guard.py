"""Review of this stop's complaint guard (``events.effects.complaint_guard``): a replayed complaint
must change nothing, and a resumed campaign is the agency's decision."""

from __future__ import annotations

from datetime import timedelta

from leadpool.allocation.campaigns import resume_campaign
from leadpool.db import Database, session_scope
from leadpool.models import Campaign

from .conftest import T0, World
from .test_review_peers import _event


def _status(db: Database, campaign: int) -> tuple[str, str | None]:
    with session_scope(db) as s:
        c = s.get(Campaign, campaign)
        assert c is not None
        return c.status, c.paused_reason


def test_a_replayed_complaint_does_not_pause_a_resumed_campaign_again(db: Database, world: World) -> None:
    """Idempotency (docs/events.md: late, reordered or replayed events cannot undo anything, and
    a replay changes nothing): after the guard paused the campaign and the agency resumed it, the
    provider delivering the same complaint again (same provider event id) must not pause it again."""
    agency = world.agency()
    campaign = world.campaign(agency, channels=["email"])
    leads = [world.lead() for _ in range(60)]
    for i, lead in enumerate(leads):
        world.touch(lead, campaign, agency, message_id=f"<r{i}@agency.example>", at=T0 + timedelta(minutes=i))
    _event(db, type="complaint", lead_id=leads[0], provider_message_id="<r0@agency.example>")
    _event(db, type="complaint", lead_id=leads[1], provider_message_id="<r1@agency.example>")
    assert _status(db, campaign) == ("paused", "campaign_complaint_guard")
    with session_scope(db) as s:
        resume_campaign(s, campaign)
    replay = _event(db, type="complaint", lead_id=leads[1], provider_message_id="<r1@agency.example>")
    assert "campaign:paused_complaint_guard" not in replay
    assert _status(db, campaign) == ("active", None)
