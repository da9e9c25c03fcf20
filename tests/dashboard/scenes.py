"""A world with history, built through the API, so every dashboard page has something to show."""

from __future__ import annotations

from datetime import timedelta

from api.world import MONDAY, World, build_world
from leadpool.client import LeadpoolClient


def busy_world(admin: LeadpoolClient, url: str) -> World:
    w = build_world(admin, url, people=60)
    for day in range(3):
        at = MONDAY + timedelta(days=day)
        for client, campaign, alloc in ((w.ca, w.camp_a, w.alloc_a), (w.cb, w.camp_b, w.alloc_b)):
            for i, lead in enumerate(alloc.allocated):
                d = client.check(lead, campaign.id, "linkedin", sender=f"li-{i % 2}", at=at)
                if d.decision == "allow" and d.touch_id is not None:
                    client.confirm_sent(d.touch_id, f"m-{lead}-{day}", at=at + timedelta(minutes=1))
    w.ca.record_event(
        {
            "type": "reply",
            "lead_id": w.alloc_a.allocated[0],
            "channel": "linkedin",
            "occurred_at": MONDAY + timedelta(hours=3),
            "source": "engine-a",
            "provider_event_id": "reply-1",
            "text": "Thanks, but we are not interested at the moment.",
        }
    )
    w.cb.record_event(
        {
            "type": "unsubscribe",
            "lead_id": w.alloc_b.allocated[0],
            "occurred_at": MONDAY + timedelta(hours=4),
            "source": "engine-b",
            "provider_event_id": "unsub-1",
        }
    )
    return w
