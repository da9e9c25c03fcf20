"""Every agency-scoped endpoint answers another agency's ids exactly as if they did not exist."""

from __future__ import annotations

from datetime import timedelta

import httpx

from api.conftest import ADMIN_TOKEN
from api.world import MONDAY


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


def test_another_agencys_report_shows_in_a_timeline_only_where_it_acted_and_without_its_details(api, world):
    w = world
    lead = w.alloc_a.allocated[0]
    email = api.admin.get_lead(lead).fields["email"]
    own = {"sender": "sdr@agency-b.example", "detail": {"b_internal": "Q3 blitz list"}, "source": "smartlead"}
    for n, kind in enumerate(["opened", "unsubscribe"]):
        r = _raw(
            api.url,
            w.b.api_key,
            "POST",
            "/v1/events",
            json={
                "type": kind,
                "email": email,
                "provider_event_id": f"b-{n}",
                "occurred_at": "2026-03-02T15:00:00Z",
            }
            | own,
        )
        assert r.status_code == 200, r.text
    entries = _raw(api.url, w.a.api_key, "GET", f"/v1/leads/{lead}/timeline").json()["entries"]
    events = [e for e in entries if e["kind"].startswith("event.")]
    # the open named A's lead's address but did nothing to it; the unsubscribe protects the person
    assert [e["kind"] for e in events] == ["event.unsubscribe"]
    shown = str(events)
    assert "agency-b.example" not in shown and "b_internal" not in shown and f"agency-{w.b.id}" not in shown
    assert events[0]["detail"]["source"] == "another agency"
    # the admin sees both, whole
    admin = _raw(api.url, ADMIN_TOKEN, "GET", f"/v1/leads/{lead}/timeline").json()["entries"]
    assert sum(1 for e in admin if e["kind"].startswith("event.")) == 2
    assert "b_internal" in str(admin)


def test_a_campaign_lists_a_lead_its_agency_no_longer_holds_by_id_only(api, world):
    w = world
    released = w.alloc_a.allocated[0]
    # A is cancelled: its leads go back to the pool (another agency may take them next)
    _raw(api.url, ADMIN_TOKEN, "POST", f"/v1/agencies/{w.a.id}/cancel").raise_for_status()
    rows = _raw(api.url, w.a.api_key, "GET", f"/v1/campaigns/{w.camp_a.id}/leads").json()
    mine = {r["lead_id"]: r for r in rows}
    assert released in mine
    assert (mine[released]["name"], mine[released]["email"], mine[released]["title"]) == (None, None, None)
    assert mine[released]["enrollment_status"] == "ended"
    full = _raw(api.url, ADMIN_TOKEN, "GET", f"/v1/campaigns/{w.camp_a.id}/leads").json()
    assert any(r["lead_id"] == released and r["email"] for r in full)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_gate_check_does_not_reveal_another_agencys_lead_state(api, world):
    """README: "an agency sees only its own campaigns, leads and touches (anything else is 404, as
    if absent)". The gate only checks the *campaign* belongs to the caller; any lead id is then
    evaluated and every reason returned: another agency's lead's replies, out-of-office return
    date, unsubscribes, complaints, cooling, erasure, email status and whether it is owned at all."""
    url = api.url
    theirs = world.alloc_b.allocated[0]
    # agency B's lead replies out of office (B reports it on its own lead)
    world.cb.record_event(
        {
            "type": "reply",
            "lead_id": theirs,
            "occurred_at": (MONDAY - timedelta(hours=2)).isoformat(),
            "source": "engine-b",
            "provider_event_id": "ooo-1",
            "category": "out_of_office",
            "text": "I am out of the office until 20 March 2026.",
        }
    )
    r = httpx.post(
        f"{url}/v1/sends/check",
        json={
            "lead_id": theirs,
            "campaign_id": world.camp_a.id,
            "channel": "email",
            "at": MONDAY.isoformat(),
        },
        headers=_auth(world.a.api_key),
    )
    assert r.status_code in (200, 404), r.text
    if r.status_code == 404:
        return
    codes = {x["code"] for x in r.json()["reasons"]}
    messages = " | ".join(x["message"] for x in r.json()["reasons"])
    leaked = codes - {"not_owned", "not_enrolled"}
    assert not leaked, f"agency A learns about agency B's lead {theirs}: {sorted(leaked)}: {messages}"


def test_gate_check_is_not_an_ownership_oracle(api, world):
    """The same check tells a free pool lead from one another agency owns, and an id that does
    not exist from one that does: A can map who owns which lead ids."""
    url = api.url
    theirs = world.alloc_b.allocated[0]
    missing = 10_000_000
    out = {}
    for lead in (theirs, missing):
        r = httpx.post(
            f"{url}/v1/sends/check",
            json={
                "lead_id": lead,
                "campaign_id": world.camp_a.id,
                "channel": "linkedin",
                "at": MONDAY.isoformat(),
            },
            headers=_auth(world.a.api_key),
        )
        out[lead] = (
            r.status_code,
            sorted((x["code"], x["message"].replace(str(lead), "#")) for x in r.json().get("reasons", [])),
        )
    assert out[theirs] == out[missing], f"another agency's lead and a missing id answer differently: {out}"


def test_a_batch_answers_unheld_leads_alike_and_decides_the_rest(api, world):
    theirs, mine = world.alloc_b.allocated[0], world.alloc_a.allocated[0]
    items = [
        {"lead_id": lid, "campaign_id": world.camp_a.id, "channel": "linkedin", "at": MONDAY.isoformat()}
        for lid in (theirs, 10_000_000, mine)
    ]
    r = httpx.post(f"{api.url}/v1/sends/check-batch", json={"items": items}, headers=_auth(world.a.api_key))
    assert r.status_code == 200, r.text
    out = r.json()["results"]
    strip = [
        [(x["code"], x["message"].replace(str(i["lead_id"]), "#")) for x in d["reasons"]]
        for d, i in zip(out, items, strict=True)
    ]
    assert strip[0] == strip[1] and {c for c, _ in strip[0]} == {"not_owned", "not_enrolled"}
    assert out[0]["decision_id"] is not None  # recorded as agency A's check (B never sees it)
    assert out[2]["decision"] == "allow" and out[2]["touch_id"] is not None


def test_rotating_an_agency_key_revokes_the_old_one(api, world):
    old = world.a.api_key
    assert _raw(api.url, old, "GET", "/v1/campaigns").status_code == 200
    assert _raw(api.url, old, "POST", f"/v1/agencies/{world.a.id}/rotate-key").status_code == 403
    r = _raw(api.url, ADMIN_TOKEN, "POST", f"/v1/agencies/{world.a.id}/rotate-key")
    assert r.status_code == 200 and r.json()["id"] == world.a.id
    new = r.json()["api_key"]
    assert new != old
    assert _raw(api.url, old, "GET", "/v1/campaigns").status_code == 401
    assert _raw(api.url, new, "GET", "/v1/campaigns").status_code == 200
    assert _raw(api.url, ADMIN_TOKEN, "POST", "/v1/agencies/999999/rotate-key").status_code == 404


def test_an_events_effects_do_not_tell_whether_another_agency_holds_an_address(api, world):
    """Naming its own lead and any address, an agency was told what its event did to other
    leads holding that address (``other_leads:*``) and to the suppression list: whether the pool
    held the address (another agency's lead) and whether it was already suppressed. It is told
    only what the event did to its own lead, campaigns and senders."""
    w = world
    mine = w.alloc_a.allocated[0]
    with httpx.Client(base_url=api.url) as c:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        theirs = c.get(f"/v1/leads/{w.alloc_b.allocated[0]}", headers=admin).json()["fields"]["email"]
        assert theirs

        def bounce(email: str, n: int) -> list[str]:
            r = c.post(
                "/v1/events",
                headers={"Authorization": f"Bearer {w.a.api_key}"},
                json={
                    "type": "hard_bounce",
                    "lead_id": mine,
                    "email": email,
                    "occurred_at": "2026-03-03T10:00:00Z",
                    "source": "api",
                    "provider_event_id": f"probe-{n}",
                },
            )
            assert r.status_code == 200, r.text
            return list(r.json()["effects"])

        absent = bounce("nobody-at-all@unknown-domain-xyz.example", 1)
        held = bounce(theirs, 2)
    assert held == absent, (held, absent)
    assert not [e for e in held if e.startswith(("other_leads:", "suppressed:", "consents:"))], held
