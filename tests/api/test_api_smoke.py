"""The admin and agency flows end to end through the client: import, campaigns, allocation,
pool stats, erasure and cancellation."""

from __future__ import annotations

import httpx
import pytest

from api.conftest import ADMIN_TOKEN
from api.world import MONDAY
from leadpool.apollo.generate import generate_people
from leadpool.client import ApiError


def test_health_import_allocate_and_read(api, world):
    w = world
    assert api.admin.health().status == "ok"
    assert {a.name for a in api.admin.list_agencies()} == {"Agency A", "Agency B"}
    assert [c.id for c in w.ca.list_campaigns()] == [w.camp_a.id]
    assert {lead.lead_id for lead in w.ca.campaign_leads(w.camp_a.id)} == set(w.alloc_a.allocated)
    lead = w.ca.get_lead(w.alloc_a.allocated[0])
    assert lead.owner_agency_id == w.a.id and lead.fields["apollo_id"] and lead.company
    assert lead.raw_payloads and "person" in lead.raw_payloads[0]  # an agency sees only this person
    (payload,) = api.admin.get_lead(lead.id).raw_payloads  # the whole import: its body only on request
    assert "body" not in payload and payload["body_url"] == f"/v1/raw-payloads/{payload['id']}"
    assert api.admin.get_raw_payload(payload["id"]).body.startswith('{"people"')

    stats = api.admin.pool_stats()
    assert stats.owned == 10 and stats.free == stats.totals["leads"] - 10
    assert sum(c.leads for c in stats.industry) == stats.totals["leads"]
    assert api.admin.list_jobs() == []

    paused = w.ca.pause_campaign(w.camp_a.id)
    assert paused.status == "paused"
    assert w.ca.resume_campaign(w.camp_a.id).status == "active"
    r = httpx.get(f"{api.url}/v1/agencies")
    assert r.status_code == 401


def test_reimport_merges_and_rejects_by_index(api, world):
    people = list(generate_people(40, seed=11))[:5]
    result = api.admin.import_leads({"people": [*people, {"nothing": 1}]})
    assert result.inserted == 0 and result.merged == 5
    assert [r.index for r in result.rejected] == [5]


def test_erasure_and_cancellation(api, world):
    w = world
    erased_lead = w.alloc_a.allocated[0]
    result = api.admin.erase_lead(erased_lead)
    assert result.lead_id == erased_lead and result.suppressions_added >= 1
    assert api.admin.get_lead(erased_lead).fields["email"] is None
    with pytest.raises(ApiError) as e:
        w.ca.get_lead(erased_lead)  # ownership ended with the erasure
    assert e.value.status == 404
    timeline = api.admin.lead_timeline(erased_lead)
    assert "audit.lead.erase" in [entry.kind for entry in timeline.entries]

    cancelled = api.admin.cancel_agency(w.b.id)
    assert cancelled.status == "cancelled" and cancelled.released == 5
    with pytest.raises(ApiError) as e:
        api.admin.cancel_agency(w.b.id)
    assert e.value.status == 409
    with pytest.raises(ApiError) as e:
        w.cb.get_lead(w.alloc_b.allocated[0])
    assert e.value.status == 404
    d = w.cb.check(w.alloc_b.allocated[0], w.camp_b.id, "linkedin", at=MONDAY)
    assert d.decision == "deny" and "agency_inactive" in [r.code for r in d.reasons]


def test_a_shortfall_queues_a_refill_job_listed_in_jobs(api, world, monkeypatch):
    from leadpool.config import get_settings

    w = world
    narrow = w.ca.create_campaign("rare", ["linkedin"], {"industries": ["no such industry"]}, daily_quota=50)
    w.ca.activate_campaign(narrow.id)
    unfilled = w.ca.allocate(narrow.id, 3)  # no Apollo key yet: the answer says why no job
    assert (unfilled.shortfall, unfilled.job_id) == (3, None)
    assert unfilled.refill_unavailable is not None and "Apollo API key" in unfilled.refill_unavailable
    monkeypatch.setenv("LEADPOOL_APOLLO_API_KEY", "not-used-no-worker-runs")
    get_settings.cache_clear()
    before = _metric(api.admin.metrics(), "leadpool_allocation_shortfall_leads_total")
    allocation = w.ca.allocate(narrow.id, 7)
    assert allocation.allocated == [] and allocation.shortfall == 7 and allocation.job_id is not None
    assert allocation.refill_unavailable is None
    jobs = api.admin.list_jobs()
    assert [(j.campaign_id, j.requested, j.job_id) for j in jobs] == [(narrow.id, 7, allocation.job_id)]
    assert jobs[0].queue_status == "todo"
    assert _metric(api.admin.metrics(), "leadpool_allocation_shortfall_leads_total") == before + 7


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))


def test_erasure_says_who_asked(api, world):
    lead = world.alloc_a.allocated[1]
    r = httpx.post(
        f"{api.url}/v1/leads/{lead}/erase",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"requested_by": "  "},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "requested_by", r.text
    assert api.admin.get_lead(lead).fields["email"] is not None  # refused whole: nothing erased
    api.admin.erase_lead(lead, requested_by="DSAR ticket 4711")
    (row,) = [e for e in api.admin.lead_timeline(lead).entries if e.kind == "audit.lead.erase"]
    assert row.detail["requested_by"] == "DSAR ticket 4711"
