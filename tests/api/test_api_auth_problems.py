"""Bearer auth (admin vs agency keys), RFC 9457 problem+json everywhere, and the body size limit."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlalchemy import select

from api.conftest import ADMIN_TOKEN, MAX_BODY
from leadpool.client import ApiError
from leadpool.db import session_scope
from leadpool.models import Agency

ADMIN_ONLY = [
    ("POST", "/v1/agencies", {"name": "X"}),
    ("GET", "/v1/agencies", None),
    ("POST", "/v1/agencies/1/cancel", None),
    ("POST", "/v1/leads/import", {"people": []}),
    ("POST", "/v1/leads/1/erase", None),
    ("GET", "/v1/pool/stats", None),
    ("GET", "/v1/jobs", None),
]


def _problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return body


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_admin_only_endpoints_refuse_agency_keys_and_missing_tokens(api, method, path, body):
    key = api.admin.create_agency("Keyholder").api_key
    r = httpx.request(method, api.url + path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert "admin" in _problem(r, 403)["detail"]
    r = httpx.request(method, api.url + path, json=body)
    _problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    r = httpx.request(method, api.url + path, json=body, headers={"Authorization": "Bearer lpa_forged"})
    _problem(r, 401)


def test_agency_only_endpoint_refuses_the_admin(api):
    with pytest.raises(ApiError) as e:
        api.admin.create_campaign("c", ["email"], {}, 1)
    assert e.value.status == 403


def test_agency_key_is_shown_once_and_stored_only_as_its_hash(api, db):
    created = api.admin.create_agency("Hashed")
    with session_scope(db) as s:
        stored = s.scalar(select(Agency.api_key_hash).where(Agency.id == created.id))
    assert stored == hashlib.sha256(created.api_key.encode()).hexdigest()
    assert created.api_key not in stored
    listed = httpx.get(api.url + "/v1/agencies", headers={"Authorization": "Bearer " + api.admin.token})
    assert created.api_key not in listed.text and "api_key" not in listed.text


def test_validation_errors_name_the_field(api):
    key = api.admin.create_agency("Validator").api_key
    auth = {"Authorization": f"Bearer {key}"}
    body = _problem(
        httpx.post(
            api.url + "/v1/campaigns", json={"name": "c", "channels": ["fax"], "icp": {}}, headers=auth
        ),
        422,
    )
    fields = {e["field"] for e in body["errors"]}
    assert {"channels.0", "daily_quota"} <= fields
    assert "daily_quota" in body["detail"]

    bad_icp = {"name": "c", "channels": ["email"], "icp": {"industrie": ["x"]}, "daily_quota": 5}
    body = _problem(httpx.post(api.url + "/v1/campaigns", json=bad_icp, headers=auth), 422)
    assert [e["field"] for e in body["errors"]] == ["icp.industrie"]

    body = _problem(httpx.post(api.url + "/v1/campaigns/1/allocate", json={"count": 0}, headers=auth), 422)
    assert body["errors"][0]["field"] == "count"
    body = _problem(httpx.get(api.url + "/v1/campaigns/abc", headers=auth), 422)
    assert body["errors"][0] == {
        "field": "campaign_id",
        "location": "path",
        "message": body["errors"][0]["message"],
    }


def test_other_errors_are_problems_too(api):
    auth = {"Authorization": "Bearer " + api.admin.token}
    _problem(httpx.get(api.url + "/v1/nothing-here", headers=auth), 404)
    _problem(httpx.delete(api.url + "/v1/agencies", headers=auth), 405)
    body = _problem(httpx.post(api.url + "/v1/agencies", content=b"{not json", headers=auth), 422)
    assert body["errors"][0]["field"] == "body"
    api.admin.create_agency("Twice")
    body = _problem(httpx.post(api.url + "/v1/agencies", json={"name": "Twice"}, headers=auth), 409)
    assert "already taken" in body["detail"]
    body = _problem(httpx.post(api.url + "/v1/leads/import", json={"nothing": 1}, headers=auth), 422)
    assert "Apollo" in body["detail"]


def test_oversized_bodies_are_refused_with_413(api):
    auth = {"Authorization": "Bearer " + api.admin.token, "Content-Type": "application/json"}
    big = b'{"people": [' + b'{"id": "x"},' * (MAX_BODY // 10) + b"{}]}"
    assert len(big) > MAX_BODY
    # declared length over the limit: refused before the body is read
    body = _problem(httpx.post(api.url + "/v1/leads/import", content=big, headers=auth), 413)
    assert str(MAX_BODY) in body["detail"]

    # chunked, no length declared: refused once the stream passes the limit
    def chunks():
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    _problem(httpx.post(api.url + "/v1/leads/import", content=chunks(), headers=auth), 413)
    # also for routes whose body FastAPI parses itself, and for webhooks
    _problem(httpx.post(api.url + "/v1/agencies", content=chunks(), headers=auth), 413)
    _problem(httpx.post(api.url + "/v1/webhooks/mailgun", content=chunks(), headers=auth), 413)
    # nothing was imported
    assert api.admin.health().status == "ok"


def test_metrics_count_requests(api):
    api.admin.list_agencies()
    text = api.admin.metrics()
    assert (
        'leadpool_http_request_duration_seconds_count{method="GET",route="/v1/agencies",status="200"}' in text
    )


CONTRACT = {
    ("POST", "/v1/agencies"),
    ("GET", "/v1/agencies"),
    ("POST", "/v1/agencies/{agency_id}/cancel"),
    ("POST", "/v1/agencies/{agency_id}/rotate-key"),
    ("POST", "/v1/leads/import"),
    ("POST", "/v1/leads/{lead_id}/erase"),
    ("POST", "/v1/leads/{lead_id}/consents"),
    ("GET", "/v1/leads/{lead_id}/consents"),
    ("POST", "/v1/consents/{consent_id}/revoke"),
    ("GET", "/v1/pool/stats"),
    ("POST", "/v1/blocklist"),
    ("POST", "/v1/blocklist/domains"),
    ("GET", "/v1/blocklist/domains"),
    ("DELETE", "/v1/blocklist/domains/{domain}"),
    ("GET", "/v1/jobs"),
    ("POST", "/v1/campaigns"),
    ("GET", "/v1/campaigns"),
    ("GET", "/v1/campaigns/{campaign_id}"),
    ("POST", "/v1/campaigns/{campaign_id}/activate"),
    ("POST", "/v1/campaigns/{campaign_id}/pause"),
    ("POST", "/v1/campaigns/{campaign_id}/resume"),
    ("POST", "/v1/campaigns/{campaign_id}/allocate"),
    ("GET", "/v1/campaigns/{campaign_id}/leads"),
    ("GET", "/v1/leads/{lead_id}"),
    ("GET", "/v1/leads/{lead_id}/timeline"),
    ("GET", "/v1/raw-payloads/{payload_id}"),
    ("GET", "/v1/companies/{company_id}/timeline"),
    ("GET", "/v1/insights"),
    ("GET", "/v1/insights/leads/{lead_id}/scores"),
    ("GET", "/v1/campaigns/{campaign_id}/suggestions"),
    ("POST", "/v1/campaigns/{campaign_id}/leads/{lead_id}/end"),
    ("POST", "/v1/sends/check"),
    ("POST", "/v1/sends/check-batch"),
    ("POST", "/v1/touches/{touch_id}/sent"),
    ("POST", "/v1/touches/sent-batch"),
    ("POST", "/v1/touches/{touch_id}/cancel"),
    ("POST", "/v1/events"),
    ("POST", "/v1/webhooks/{provider}"),
    ("GET", "/v1/senders/paused"),
    ("POST", "/v1/senders/resume"),
    ("GET", "/v1/agencies/{agency_id}/policy"),
    ("PUT", "/v1/agencies/{agency_id}/policy"),
    ("GET", "/v1/campaigns/{campaign_id}/policy"),
    ("PUT", "/v1/campaigns/{campaign_id}/policy"),
    ("GET", "/v1/senders/claims"),
    ("GET", "/v1/dead-domains"),
    ("POST", "/v1/dead-domains/revive"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
}


def test_openapi_holds_exactly_the_public_contract(api):
    schema = httpx.get(api.url + "/openapi.json").json()
    ops = {(m.upper(), path) for path, item in schema["paths"].items() for m in item}
    assert ops == CONTRACT
    check = schema["components"]["schemas"]["CheckRequest"]["properties"]
    assert {"lead_id", "campaign_id", "channel", "sender", "idempotency_key"} <= set(check)
    decision = schema["components"]["schemas"]["Decision"]["properties"]
    assert {"decision", "reasons", "touch_id"} <= set(decision)
    throttled = schema["paths"]["/v1/leads/{lead_id}"]["get"]["responses"]["429"]  # the sign-in throttle
    assert "Retry-After" in throttled["headers"] and "Problem" in str(throttled["content"])
    event = schema["components"]["schemas"]["EventIn"]["properties"]
    expected = {"type", "lead_id", "email", "phone", "channel", "occurred_at", "source", "provider_event_id"}
    assert expected | {"category", "text"} <= set(event)


def test_the_client_raises_api_error_for_a_refused_sent_batch(api):
    from leadpool.client import ApiError, LeadpoolClient

    with LeadpoolClient(api.url, "not-a-valid-token") as stranger, pytest.raises(ApiError) as e:
        stranger.confirm_sent_batch([(1, "m-1")])
    assert e.value.status == 401
    with pytest.raises(ApiError) as e:
        api.admin.confirm_sent_batch([(1, " ")])
    assert e.value.status == 422


def test_a_nul_character_in_a_request_is_a_422_naming_where(api):
    r = httpx.post(
        f"{api.url}/v1/agencies",
        json={"name": "Acme\u0000"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert r.status_code == 422 and "name: contains a NUL character" in r.json()["detail"], r.text


def test_an_icp_allocation_could_never_run_is_refused_naming_the_part_and_nothing_is_stored(api, db):
    """Past 1,000 items or 200 characters a term, PostgreSQL refuses the allocation statement:
    the campaign is refused when it is created, not accepted to fail every round."""
    from leadpool.models import Campaign

    key = api.admin.create_agency("Limits").api_key
    auth = {"Authorization": f"Bearer {key}"}
    for icp, field, says in [
        (
            {"title_terms": ["cto", "ab" * 30_000]},
            "icp.title_terms",
            "item 1: at most 200 characters, got 60000",
        ),
        ({"cities": [f"c{i}" for i in range(8_200)]}, "icp.cities", "at most 1000 items, got 8200"),
        (
            {"exclude": {"title_terms": ["x" * 201]}},
            "icp.exclude.title_terms",
            "item 0: at most 200 characters",
        ),
    ]:
        bad = {"name": "c", "channels": ["email"], "icp": icp, "daily_quota": 5}
        body = _problem(httpx.post(api.url + "/v1/campaigns", json=bad, headers=auth), 422)
        assert [e["field"] for e in body["errors"]] == [field]
        assert says in body["errors"][0]["message"]
    with session_scope(db) as s:
        assert s.scalars(select(Campaign)).all() == []
