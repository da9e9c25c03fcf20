"""Every agency-scoped endpoint answers another agency's ids exactly as if they did not exist."""

from __future__ import annotations

import httpx
import pytest

from api.world import MONDAY, build_world


@pytest.fixture
def world(api):
    w = build_world(api.admin, api.url)
    yield w
    w.close()


def _raw(url: str, token: str, method: str, path: str, **kw):
    return httpx.request(method, url + path, headers={"Authorization": f"Bearer {token}"}, **kw)


def _assert_absent(response: httpx.Response, kind: str, ident: int) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert body["detail"] == f"{kind} {ident} not found"


def test_other_agencys_ids_are_404_on_every_agency_scoped_endpoint(api, world):
    w = world
    b = w.b.api_key
    a_campaign = w.camp_a.id
    a_lead = w.alloc_a.allocated[0]
    absent = 10**12

    # a touch of agency A, reserved through the gate
    d = w.ca.check(a_lead, a_campaign, "linkedin", sender="li-a", at=MONDAY)
    assert d.decision == "allow", d
    a_touch = d.touch_id
    assert a_touch is not None

    cases = [
        ("GET", "/v1/campaigns/{}", "campaign", a_campaign, None),
        ("POST", "/v1/campaigns/{}/activate", "campaign", a_campaign, None),
        ("POST", "/v1/campaigns/{}/pause", "campaign", a_campaign, None),
        ("POST", "/v1/campaigns/{}/resume", "campaign", a_campaign, None),
        ("POST", "/v1/campaigns/{}/allocate", "campaign", a_campaign, {"count": 1}),
        ("GET", "/v1/campaigns/{}/leads", "campaign", a_campaign, None),
        ("GET", "/v1/leads/{}", "lead", a_lead, None),
        ("GET", "/v1/leads/{}/timeline", "lead", a_lead, None),
        ("POST", "/v1/touches/{}/sent", "touch", a_touch, {"provider_message_id": "m-1"}),
        ("POST", "/v1/touches/{}/cancel", "touch", a_touch, None),
    ]
    for method, template, kind, ident, body in cases:
        foreign = _raw(api.url, b, method, template.format(ident), json=body)
        _assert_absent(foreign, kind, ident)
        missing = _raw(api.url, b, method, template.format(absent), json=body)
        _assert_absent(missing, kind, absent)

    # the gate: another agency's campaign is absent
    check = {"lead_id": a_lead, "campaign_id": a_campaign, "channel": "linkedin", "at": MONDAY.isoformat()}
    _assert_absent(_raw(api.url, b, "POST", "/v1/sends/check", json=check), "campaign", a_campaign)
    batch = {"items": [check]}
    _assert_absent(_raw(api.url, b, "POST", "/v1/sends/check-batch", json=batch), "campaign", a_campaign)

    # events naming another agency's lead or campaign
    event = {
        "type": "unsubscribe",
        "occurred_at": MONDAY.isoformat(),
        "source": "api",
        "provider_event_id": "tenancy-1",
    }
    r = _raw(api.url, b, "POST", "/v1/events", json=event | {"lead_id": a_lead})
    _assert_absent(r, "lead", a_lead)
    r = _raw(
        api.url, b, "POST", "/v1/events", json=event | {"email": "x@example.com", "campaign_id": a_campaign}
    )
    _assert_absent(r, "campaign", a_campaign)

    # lists show only the caller's own
    assert [c.id for c in w.cb.list_campaigns()] == [w.camp_b.id]
    # and nothing of A's changed: its touch is still reserved, its campaign still active
    assert w.ca.get_campaign(a_campaign).status == "active"
    assert w.ca.cancel_touch(a_touch).state == "cancelled"


def test_a_check_of_another_agencys_lead_in_my_campaign_is_a_deny(api, world):
    w = world
    d = w.cb.check(w.alloc_a.allocated[0], w.camp_b.id, "linkedin", at=MONDAY)
    assert d.decision == "deny"
    assert "not_owned" in [r.code for r in d.reasons]
    assert d.touch_id is None


def test_admin_sees_every_agency(api, world):
    w = world
    assert {c.id for c in api.admin.list_campaigns()} == {w.camp_a.id, w.camp_b.id}
    assert api.admin.get_lead(w.alloc_b.allocated[0]).owner_agency_id == w.b.id
