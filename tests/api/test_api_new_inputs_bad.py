"""Malformed input to the entry points this round added: a clear error naming what and where, and
nothing stored is changed."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import text

from api.conftest import ADMIN_TOKEN
from api.world import MONDAY
from leadpool.db import Database


def _call(url: str, token: str, method: str, path: str, **kw) -> httpx.Response:
    return httpx.request(method, url + path, headers={"Authorization": f"Bearer {token}"}, **kw)


def _counts(db: Database) -> tuple[int, int, int]:
    with db.engine.connect() as c:
        return tuple(  # type: ignore[return-value]
            c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("decisions", "touches", "agencies")
        )


def test_timeline_paging_parameters_are_named_when_wrong(api, world, db):
    lead = world.alloc_a.allocated[0]
    with db.engine.connect() as c:
        company = c.execute(text("SELECT min(id) FROM companies")).scalar_one()
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"cursor": "not a cursor"}, "cursor"),
    ):
        for path in (f"/v1/leads/{lead}/timeline", f"/v1/companies/{company}/timeline"):
            r = _call(api.url, ADMIN_TOKEN, "GET", path, params=params)
            assert r.status_code == 422, (path, params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert field in r.json()["detail"], r.json()


def test_raw_payload_and_rotate_key_refuse_bad_ids_and_change_nothing(api, world, db):
    before = _counts(db)
    for path, method, field in (
        ("/v1/raw-payloads/0", "GET", "payload_id"),
        ("/v1/raw-payloads/abc", "GET", "payload_id"),
        ("/v1/agencies/0/rotate-key", "POST", "agency_id"),
    ):
        r = _call(api.url, ADMIN_TOKEN, method, path)
        assert r.status_code == 422 and field in r.json()["detail"], r.text
    r = _call(api.url, ADMIN_TOKEN, "POST", "/v1/agencies/999999/rotate-key")
    assert r.status_code == 404 and r.json()["detail"] == "agency 999999 not found"
    # every key still works: a refused rotation rotated nothing
    for key in (world.a.api_key, world.b.api_key):
        assert _call(api.url, key, "GET", "/v1/campaigns").status_code == 200
    assert _counts(db) == before


def test_a_malformed_check_of_an_unheld_lead_is_refused_before_anything_is_recorded(api, world, db):
    theirs = world.alloc_b.allocated[0]
    before = _counts(db)
    for body, field in (
        (
            {"lead_id": theirs, "campaign_id": world.camp_a.id, "channel": "fax", "at": MONDAY.isoformat()},
            "channel",
        ),
        ({"lead_id": theirs, "campaign_id": world.camp_a.id, "channel": "email", "at": "monday"}, "at"),
        ({"lead_id": "x", "campaign_id": world.camp_a.id, "channel": "email"}, "lead_id"),
    ):
        r = _call(api.url, world.a.api_key, "POST", "/v1/sends/check", json=body)
        assert r.status_code == 422 and field in r.json()["detail"], r.text
        batch = _call(api.url, world.a.api_key, "POST", "/v1/sends/check-batch", json={"items": [body]})
        assert batch.status_code == 422 and field in batch.json()["detail"], batch.text
    assert _counts(db) == before


def test_a_message_id_of_brackets_only_or_another_agencys_is_refused_and_the_reservation_kept(api, world, db):
    """confirm_sent's new rules (ids compared without their brackets, another agency's id
    refused): a bracketed blank id is 422 naming it, another agency's id 409; either way the
    reservation stays as it was, unconfirmed."""
    w = world
    checks = []
    for key, lead, campaign, sender in (
        (w.a.api_key, w.alloc_a.allocated[0], w.camp_a.id, "li-a"),
        (w.b.api_key, w.alloc_b.allocated[0], w.camp_b.id, "li-b"),
    ):
        r = _call(
            api.url,
            key,
            "POST",
            "/v1/sends/check",
            json={
                "lead_id": lead,
                "campaign_id": campaign,
                "channel": "linkedin",
                "sender": sender,
                "at": MONDAY.isoformat(),
            },
        )
        assert r.status_code == 200 and r.json()["decision"] == "allow", r.text
        checks.append(r.json()["touch_id"])
    mine, theirs = checks
    sent_at = (MONDAY + timedelta(minutes=1)).isoformat()  # within the reservations
    assert (
        _call(
            api.url,
            w.b.api_key,
            "POST",
            f"/v1/touches/{theirs}/sent",
            json={"provider_message_id": "b-msg-1", "at": sent_at},
        ).status_code
        == 200
    )
    blank = _call(
        api.url,
        w.a.api_key,
        "POST",
        f"/v1/touches/{mine}/sent",
        json={"provider_message_id": " <> ", "at": sent_at},
    )
    taken = _call(
        api.url,
        w.a.api_key,
        "POST",
        f"/v1/touches/{mine}/sent",
        json={"provider_message_id": "<b-msg-1>", "at": sent_at},
    )
    assert blank.status_code == 422 and "provider_message_id" in blank.text, blank.text
    assert taken.status_code == 409 and "another agency's send" in taken.json()["detail"], taken.text
    with db.engine.connect() as c:
        state = c.execute(
            text("SELECT state, provider_message_id FROM touches WHERE id = :t"), {"t": mine}
        ).one()
    assert tuple(state) == ("reserved", None)
