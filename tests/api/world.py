"""A small world built through the API itself: pool imported, two agencies, campaigns, leads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadpool.apollo.generate import generate_people
from leadpool.client import Allocation, Campaign, LeadpoolClient
from leadpool.client.models import AgencyCreated

# Monday 2026-03-02 15:00 UTC: 10:00 in New York, 15:00 in London; linkedin has no window anyway
MONDAY = datetime.fromisoformat("2026-03-02T15:00:00+00:00")
BROAD_ICP = {"email_statuses": ["verified", "extrapolated", "guessed", "unverified", "unavailable"]}


@dataclass
class World:
    a: AgencyCreated
    b: AgencyCreated
    ca: LeadpoolClient
    cb: LeadpoolClient
    camp_a: Campaign
    camp_b: Campaign
    alloc_a: Allocation
    alloc_b: Allocation

    def close(self) -> None:
        self.ca.close()
        self.cb.close()


def build_world(admin: LeadpoolClient, url: str, people: int = 40) -> World:
    imported = admin.import_leads({"people": list(generate_people(people, seed=11))})
    assert imported.inserted > 0
    a = admin.create_agency("Agency A")
    b = admin.create_agency("Agency B")
    ca, cb = LeadpoolClient(url, a.api_key), LeadpoolClient(url, b.api_key)
    camp_a = ca.create_campaign("A construction", ["email", "linkedin"], BROAD_ICP, daily_quota=10)
    camp_b = cb.create_campaign("B construction", ["linkedin", "sms"], BROAD_ICP, daily_quota=10)
    ca.activate_campaign(camp_a.id)
    cb.activate_campaign(camp_b.id)
    alloc_a = ca.allocate(camp_a.id, 5)
    alloc_b = cb.allocate(camp_b.id, 5)
    assert len(alloc_a.allocated) == 5 and len(alloc_b.allocated) == 5
    return World(a, b, ca, cb, camp_a, camp_b, alloc_a, alloc_b)
