"""The client covers the whole API: every route in the OpenAPI has a method on both clients, and
the methods for key rotation, insights, lead scores, campaign suggestions, job and pool filters
return real, typed results from a live server (sync and async)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.conftest import ADMIN_TOKEN
from insights.factrows import add_facts
from leadpool.client import (
    ApiError,
    AsyncLeadpoolClient,
    CampaignSuggestions,
    InsightsReport,
    LeadpoolClient,
    LeadScore,
)
from leadpool.db import session_scope
from leadpool.insights import score

# (method, path) of every route in the OpenAPI -> the method of LeadpoolClient and
# AsyncLeadpoolClient that calls it. A new route without a client method fails the test below.
CLIENT_METHODS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "health",
    ("GET", "/metrics"): "metrics",
    ("POST", "/v1/agencies"): "create_agency",
    ("GET", "/v1/agencies"): "list_agencies",
    ("POST", "/v1/agencies/{agency_id}/cancel"): "cancel_agency",
    ("POST", "/v1/agencies/{agency_id}/rotate-key"): "rotate_agency_key",
    ("POST", "/v1/leads/import"): "import_leads",
    ("GET", "/v1/leads/{lead_id}"): "get_lead",
    ("GET", "/v1/leads/{lead_id}/timeline"): "lead_timeline",
    ("POST", "/v1/leads/{lead_id}/erase"): "erase_lead",
    ("POST", "/v1/leads/{lead_id}/consents"): "grant_consent",
    ("GET", "/v1/leads/{lead_id}/consents"): "consents",
    ("POST", "/v1/consents/{consent_id}/revoke"): "revoke_consent",
    ("GET", "/v1/raw-payloads/{payload_id}"): "get_raw_payload",
    ("GET", "/v1/pool/stats"): "pool_stats",
    ("POST", "/v1/blocklist"): "blocklist",
    ("POST", "/v1/blocklist/domains"): "block_domain",
    ("GET", "/v1/blocklist/domains"): "list_domain_blocks",
    ("DELETE", "/v1/blocklist/domains/{domain}"): "unblock_domain",
    ("GET", "/v1/jobs"): "list_jobs",
    ("POST", "/v1/campaigns"): "create_campaign",
    ("GET", "/v1/campaigns"): "list_campaigns",
    ("GET", "/v1/campaigns/{campaign_id}"): "get_campaign",
    ("POST", "/v1/campaigns/{campaign_id}/activate"): "activate_campaign",
    ("POST", "/v1/campaigns/{campaign_id}/pause"): "pause_campaign",
    ("POST", "/v1/campaigns/{campaign_id}/resume"): "resume_campaign",
    ("POST", "/v1/campaigns/{campaign_id}/allocate"): "allocate",
    ("GET", "/v1/campaigns/{campaign_id}/leads"): "campaign_leads",
    ("POST", "/v1/campaigns/{campaign_id}/leads/{lead_id}/end"): "end_enrollment",
    ("GET", "/v1/campaigns/{campaign_id}/suggestions"): "campaign_suggestions",
    ("GET", "/v1/companies/{company_id}/timeline"): "company_timeline",
    ("POST", "/v1/sends/check"): "check",
    ("POST", "/v1/sends/check-batch"): "check_batch",
    ("POST", "/v1/touches/{touch_id}/sent"): "confirm_sent",
    ("POST", "/v1/touches/sent-batch"): "confirm_sent_batch",
    ("POST", "/v1/touches/{touch_id}/cancel"): "cancel_touch",
    ("POST", "/v1/events"): "record_event",
    ("POST", "/v1/webhooks/{provider}"): "webhook",
    ("GET", "/v1/senders/paused"): "paused_senders",
    ("POST", "/v1/senders/resume"): "resume_sender",
    ("GET", "/v1/senders/claims"): "sender_claims",
    ("GET", "/v1/agencies/{agency_id}/policy"): "agency_policy",
    ("PUT", "/v1/agencies/{agency_id}/policy"): "set_agency_policy",
    ("GET", "/v1/campaigns/{campaign_id}/policy"): "campaign_policy",
    ("PUT", "/v1/campaigns/{campaign_id}/policy"): "set_campaign_policy",
    ("GET", "/v1/dead-domains"): "dead_domains",
    ("POST", "/v1/dead-domains/revive"): "revive_domain",
    ("GET", "/v1/insights"): "get_insights",
    ("GET", "/v1/insights/leads/{lead_id}/scores"): "lead_scores",
}

# query parameters each client method must be able to send (by the same name)
QUERY_PARAMS: dict[str, set[str]] = {
    "lead_timeline": {"limit", "cursor", "order"},
    "company_timeline": {"limit", "cursor", "order"},
    "pool_stats": {"top"},
    "list_jobs": {"limit", "status"},
    "campaign_leads": {"limit", "offset"},
    "get_insights": {"dims"},
    "list_domain_blocks": {"agency_id"},
    "unblock_domain": {"agency_id"},
    "consents": {"agency_id"},
    "dead_domains": {"limit", "after"},
}

OTHER_AGENCIES = (9_000_001, 9_000_002, 9_000_003)


@pytest.fixture
def facts(db, world):
    """Outcome facts of the software segment (local hour 9 best) from three other agencies and from
    Agency A, then every lead scored; returns the model version."""
    with session_scope(db) as s:
        for a in OTHER_AGENCIES:
            add_facts(s, 100, replies=10, positives=5, agency_id=a, industry="software", local_hour=9)
            add_facts(s, 60, replies=1, agency_id=a, industry="software", local_hour=15)
        add_facts(s, 40, replies=8, positives=4, agency_id=world.a.id, industry="software", local_hour=9)
        add_facts(s, 40, replies=0, agency_id=world.a.id, industry="software", local_hour=16)
        return score.score_leads(s).model_version


def _operations(openapi: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): op
        for path, ops in openapi["paths"].items()
        for method, op in ops.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_route_has_a_method_on_both_clients(api):
    operations = _operations(httpx.get(f"{api.url}/openapi.json").json())
    assert set(operations) == set(CLIENT_METHODS), "routes without a client method (or gone)"
    for (method, path), name in CLIENT_METHODS.items():
        for client in (LeadpoolClient, AsyncLeadpoolClient):
            assert callable(getattr(client, name, None)), f"{client.__name__}.{name} for {method} {path}"
        query = {p["name"] for p in operations[method, path].get("parameters", []) if p["in"] == "query"}
        assert query == QUERY_PARAMS.get(name, set()), f"{name}: the route's query parameters changed"
        for client in (LeadpoolClient, AsyncLeadpoolClient):
            params = getattr(client, name).__code__.co_varnames
            assert query <= set(params), f"{client.__name__}.{name} cannot send {query - set(params)}"


def test_rotate_agency_key(api, world):
    w = world
    rotated = api.admin.rotate_agency_key(w.a.id)
    assert (rotated.id, rotated.name, rotated.status) == (w.a.id, "Agency A", "active")
    assert rotated.api_key and rotated.api_key != w.a.api_key
    with pytest.raises(ApiError) as e:
        w.ca.list_campaigns()  # the old key stops working at once
    assert e.value.status == 401
    with LeadpoolClient(api.url, rotated.api_key) as ca:
        assert [c.id for c in ca.list_campaigns()] == [w.camp_a.id]
        with pytest.raises(ApiError) as e:
            ca.rotate_agency_key(w.a.id)  # admin only
        assert e.value.status == 403
    with pytest.raises(ApiError) as e:
        api.admin.rotate_agency_key(987_654_321)
    assert e.value.status == 404
    assert [c.id for c in w.cb.list_campaigns()] == [w.camp_b.id]  # other agencies untouched


def test_pool_stats_top_and_list_jobs_by_status(api, world, monkeypatch):
    from leadpool.config import get_settings

    everything = api.admin.pool_stats()
    top1 = api.admin.pool_stats(top=1)
    assert len(everything.industry) > 2
    assert len(top1.industry) == 2 and top1.industry[1].value == "(other)"
    assert sum(c.leads for c in top1.industry) == top1.totals["leads"] == everything.totals["leads"]

    monkeypatch.setenv("LEADPOOL_APOLLO_API_KEY", "not-used-no-worker-runs")
    get_settings.cache_clear()
    narrow = world.ca.create_campaign("rare", ["linkedin"], {"industries": ["no such industry"]}, 50)
    world.ca.activate_campaign(narrow.id)
    allocation = world.ca.allocate(narrow.id, 7)
    assert allocation.job_id is not None
    (queued,) = api.admin.list_jobs(status="queued")
    assert (queued.campaign_id, queued.status, queued.job_id) == (narrow.id, "queued", allocation.job_id)
    assert api.admin.list_jobs(status="done") == []
    assert api.admin.list_jobs(limit=1, status="queued") == [queued]
    with pytest.raises(ApiError) as e:
        api.admin.list_jobs(status="nope")  # type: ignore[arg-type]
    assert e.value.status == 422 and "status" in str(e.value)


def test_insights_for_admin_and_agency(api, world, facts):
    w = world
    admin = api.admin.get_insights()
    assert isinstance(admin, InsightsReport)
    assert (admin.scope, admin.dims, admin.agency_id) == ("admin", ["industry", "seniority"], None)
    assert admin.own is None and admin.platform is None and admin.status and admin.all
    assert admin.status["facts"] == 3 * 160 + 80 and admin.status["model_version"] == facts
    assert admin.thresholds.min_leads > 0 and admin.thresholds.min_agencies > 0
    assert {"industry": "software"} in [c["segment"] for c in admin.all["segments"]]

    mine = w.ca.get_insights(["industry"])
    assert (mine.scope, mine.dims, mine.agency_id) == ("agency", ["industry"], w.a.id)
    assert mine.all is None and mine.status is None and mine.own and mine.platform
    # Agency B has no facts: nothing sent in its own view, the same privacy-safe platform view as A's
    theirs = w.cb.get_insights(["industry"])
    assert theirs.agency_id == w.b.id and theirs.platform == mine.platform
    assert theirs.own is not None and [c["sends"] for c in theirs.own["segments"]] == [0]
    own = {c["segment"].get("industry"): c["sends"] for c in mine.own["segments"]}
    assert own == {None: 80, "software": 80}

    with pytest.raises(ApiError) as e:
        w.ca.get_insights(["industry", "seniority", "country", "channel"])
    assert e.value.status == 422 and "dims" in str(e.value)


def test_lead_scores(api, world, facts):
    w = world
    lead_id = w.alloc_a.allocated[0]
    scores = w.ca.lead_scores(lead_id)
    assert scores and all(isinstance(s, LeadScore) for s in scores)
    assert {s.model_version for s in scores} == {facts}
    assert all(0 < s.score < 1 and s.channel in {"email", "linkedin", "sms", "phone"} for s in scores)
    assert [s.channel for s in scores] == sorted(s.channel for s in scores)
    assert api.admin.lead_scores(lead_id) == scores
    shown = api.admin.get_lead(lead_id).scores  # the same scores as on the lead
    assert [x["channel"] for x in shown] == [s.channel for s in scores]
    assert [x["score"] for x in shown] == pytest.approx([s.score for s in scores], abs=1e-6)
    with pytest.raises(ApiError) as e:
        w.cb.lead_scores(lead_id)  # another agency's lead: 404 as if it did not exist
    assert e.value.status == 404


def test_campaign_suggestions(api, world, facts):
    w = world
    software = w.ca.create_campaign("software", ["email"], {"industries": ["Software"]}, daily_quota=5)
    mine = w.ca.campaign_suggestions(software.id)
    assert isinstance(mine, CampaignSuggestions)
    assert (mine.campaign_id, mine.metric) == (software.id, "reply")
    assert (mine.segment.dimension, mine.segment.values) == ("industry", ["software"])
    assert mine.all is None and mine.own and mine.platform
    assert mine.own["best_hour"]["local_hour"] == 9 and mine.own["best_hour"]["rate"]["n"] == 40
    assert mine.platform["best_hour"]["local_hour"] == 9

    admin = api.admin.campaign_suggestions(software.id)
    assert admin.own is None and admin.platform is None and admin.all
    assert admin.all["best_hour"]["local_hour"] == 9 and admin.all["best_hour"]["rate"]["n"] == 3 * 100 + 40

    broad = w.ca.campaign_suggestions(w.camp_a.id)  # no industries nor seniorities: the platform
    assert (broad.segment.dimension, broad.segment.values) == (None, [])
    with pytest.raises(ApiError) as e:
        w.cb.campaign_suggestions(software.id)
    assert e.value.status == 404


def test_async_client_new_methods(api, world, facts):
    w = world
    software = w.ca.create_campaign("software", ["email"], {"industries": ["software"]}, daily_quota=5)
    lead_id = w.alloc_a.allocated[0]

    async def run():
        async with (
            AsyncLeadpoolClient(api.url, w.a.api_key) as ca,
            AsyncLeadpoolClient(api.url, api.admin.token) as admin,
        ):
            got = await asyncio.gather(
                ca.get_insights(["industry"]),
                ca.lead_scores(lead_id),
                ca.campaign_suggestions(software.id),
                admin.pool_stats(top=1),
                admin.list_jobs(status="queued"),
            )
            with pytest.raises(ApiError) as e:
                await ca.lead_scores(w.alloc_b.allocated[0])
            assert e.value.status == 404
            rotated = await admin.rotate_agency_key(w.b.id)
            return got, rotated

    (report, scores, suggestions, stats, jobs), rotated = asyncio.run(run())
    assert report == w.ca.get_insights(["industry"]) and report.own
    assert scores == w.ca.lead_scores(lead_id) and {s.model_version for s in scores} == {facts}
    assert suggestions == w.ca.campaign_suggestions(software.id)
    assert suggestions.own and suggestions.own["best_hour"]["local_hour"] == 9
    assert stats == api.admin.pool_stats(top=1) and stats.industry[-1].value == "(other)"
    assert jobs == []
    assert rotated.id == w.b.id and rotated.api_key != w.b.api_key
    with LeadpoolClient(api.url, rotated.api_key) as cb:
        assert [c.id for c in cb.list_campaigns()] == [w.camp_b.id]


def test_blocklist(api, world):
    w = world
    lead_id = w.ca.campaign_leads(w.camp_a.id)[0].lead_id
    detail = api.admin.get_lead(lead_id)
    out = api.admin.blocklist("asked us by phone", lead_id=lead_id)
    assert lead_id in out.lead_ids and out.newly_blocklisted >= 1
    assert api.admin.get_lead(lead_id).fields["blocklisted_at"] is not None
    assert api.admin.blocklist("again", email=detail.fields["email"]).newly_blocklisted == 0
    with pytest.raises(ApiError) as e:
        w.ca.blocklist("an agency may not", email="x@y.example")  # admin only
    assert e.value.status == 403
    r = httpx.post(
        f"{api.url}/v1/blocklist",
        json={"reason": "nobody named"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert r.status_code == 422 and "name the person" in r.text
    with pytest.raises(ApiError) as e:
        api.admin.blocklist("bad", email="not an address")
    assert e.value.status == 422 and "email" in str(e.value)
