"""Consents over HTTP: an agency records, reads and revokes its own for the leads it owns, the admin
for any agency; bad input is refused with a clear problem and stores nothing; a grant lets the
gate allow what it denied ``no_consent``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from tests.gate.factories import MONDAY_OPEN, World

from api.conftest import ADMIN_TOKEN
from leadpool.api.auth import issue_agency_key
from leadpool.client import ApiError, AsyncLeadpoolClient, LeadpoolClient
from leadpool.db import Database, session_scope
from leadpool.gate import check
from leadpool.models import Agency, AuditLog, Consent


@pytest.fixture
def _defaults(fresh_policy: None) -> None:
    """The platform policy's defaults: email needs consent in DE and CA, texts in CA."""


def _stored(db: Database) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(Consent)) or 0)


def _problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


def test_an_agency_grants_lists_and_revokes_its_own(api, world, db):
    w = world
    lead = w.alloc_a.allocated[0]
    now = datetime.now(UTC).replace(microsecond=0)
    given = w.ca.grant_consent(
        lead,
        "express",
        "webinar sign-up form",
        channel="email",
        evidence="form-123",
        granted_at=now - timedelta(days=3),
        expires_at=now + timedelta(days=700),
    )
    assert (given.lead_id, given.agency_id, given.channel, given.basis) == (lead, w.a.id, "email", "express")
    assert (given.source, given.evidence, given.actor) == (
        "webinar sign-up form",
        "form-123",
        f"agency:{w.a.id}",
    )
    assert given.granted_at == now - timedelta(days=3) and given.revoked_at is None
    assert given.live and given.changed
    every = w.ca.grant_consent(lead, "implied", "a reply: happy to hear more")  # every channel, from now
    assert every.channel is None and every.expires_at is None and every.live

    assert [c.id for c in w.ca.consents(lead)] == [given.id, every.id]
    with session_scope(db) as s:
        audits = s.scalars(select(AuditLog.action).where(AuditLog.subject_id == str(lead))).all()
    assert audits.count("consent.grant") == 2

    revoked = w.ca.revoke_consent(given.id, "the person asked us to stop")
    assert revoked.id == given.id and revoked.revoked_reason == "the person asked us to stop"
    assert revoked.revoked_at is not None and not revoked.live and revoked.changed
    listed = {c.id: c for c in w.ca.consents(lead)}
    assert not listed[given.id].live and listed[every.id].live  # a revoked one stays listed, as proof

    # idempotent: the same consent, unchanged, the first revocation's reason and time kept
    again = w.ca.revoke_consent(given.id, "asked again")
    assert not again.changed
    assert (again.revoked_at, again.revoked_reason) == (revoked.revoked_at, "the person asked us to stop")
    r = httpx.post(
        f"{api.url}/v1/consents/{given.id}/revoke",
        json={"reason": "third time"},
        headers={"Authorization": f"Bearer {w.a.api_key}"},
    )
    assert r.status_code == 200 and r.json()["changed"] is False


def test_the_response_shape_and_status(api, world):
    w = world
    lead = w.alloc_a.allocated[0]
    r = httpx.post(
        f"{api.url}/v1/leads/{lead}/consents",
        json={"basis": "express", "source": "call on 2026-02-01", "channel": "sms"},
        headers={"Authorization": f"Bearer {w.a.api_key}"},
    )
    assert r.status_code == 201, r.text
    assert set(r.json()) == {
        "id",
        "lead_id",
        "agency_id",
        "channel",
        "basis",
        "source",
        "evidence",
        "granted_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
        "actor",
        "live",
        "changed",
    }


def test_an_agency_acts_for_itself_only(api, world, db):
    w = world
    mine, theirs = w.alloc_a.allocated[0], w.alloc_b.allocated[0]
    a_consent = w.ca.grant_consent(mine, "express", "form")
    b_consent = w.cb.grant_consent(theirs, "express", "form")

    refusals = [
        # another agency's lead: as if it did not exist
        (lambda: w.cb.grant_consent(mine, "express", "form"), f"lead {mine} not found"),
        (lambda: w.cb.consents(mine), f"lead {mine} not found"),
        # naming another agency: as the domain-block routes refuse it
        (
            lambda: w.cb.grant_consent(theirs, "express", "form", agency_id=w.a.id),
            f"agency {w.a.id} not found",
        ),
        (lambda: w.cb.consents(theirs, agency_id=w.a.id), f"agency {w.a.id} not found"),
        (lambda: w.ca.grant_consent(mine, "express", "form", agency_id=987_654), "agency 987654 not found"),
        # another agency's consent
        (lambda: w.cb.revoke_consent(a_consent.id, "not theirs"), f"consent {a_consent.id} not found"),
        (lambda: w.ca.revoke_consent(987_654, "no such"), "consent 987654 not found"),
        (lambda: w.ca.consents(987_654), "lead 987654 not found"),
    ]
    for call, detail in refusals:
        with pytest.raises(ApiError) as e:
            call()
        assert (e.value.status, e.value.detail) == (404, detail)
    assert [c.id for c in w.ca.consents(mine)] == [a_consent.id]  # A's stays, unrevoked
    assert w.ca.consents(mine)[0].live
    assert [c.id for c in w.cb.consents(theirs)] == [b_consent.id]
    assert _stored(db) == 2

    # naming itself is the same as naming nobody
    assert w.ca.grant_consent(mine, "implied", "reply", agency_id=w.a.id).agency_id == w.a.id


def test_the_admin_acts_for_any_agency_and_must_name_it(api, world, db):
    w = world
    lead = w.alloc_a.allocated[0]
    with pytest.raises(ApiError) as e:
        api.admin.grant_consent(lead, "express", "form")
    assert e.value.status == 422 and "agency_id" in e.value.detail
    for_a = api.admin.grant_consent(lead, "express", "signed paper form", agency_id=w.a.id)
    for_b = api.admin.grant_consent(lead, "express", "trade fair badge scan", agency_id=w.b.id)
    assert (for_a.agency_id, for_a.actor, for_b.agency_id) == (w.a.id, "admin", w.b.id)

    assert [c.id for c in api.admin.consents(lead)] == [for_a.id, for_b.id]
    assert [c.id for c in api.admin.consents(lead, agency_id=w.b.id)] == [for_b.id]
    assert [c.id for c in w.ca.consents(lead)] == [for_a.id]  # its own only
    # B holds a consent of a lead it does not own: it sees and revokes its own, nothing more
    assert [c.id for c in w.cb.consents(lead)] == [for_b.id]
    assert w.cb.revoke_consent(for_b.id, "withdrawn at the fair").revoked_at is not None
    with pytest.raises(ApiError) as e:
        w.cb.grant_consent(lead, "express", "form")
    assert e.value.status == 404
    assert api.admin.revoke_consent(for_a.id, "by the admin").actor == "admin"  # the grant's actor stays
    with pytest.raises(ApiError) as e:
        api.admin.grant_consent(987_654, "express", "form", agency_id=w.a.id)
    assert (e.value.status, e.value.detail) == (404, "lead 987654 not found")
    with pytest.raises(ApiError) as e:
        api.admin.grant_consent(lead, "express", "form", agency_id=987_654)
    assert (e.value.status, e.value.detail) == (404, "agency 987654 not found")
    assert _stored(db) == 2


BAD = [
    ({"basis": "verbal", "source": "form"}, "basis"),
    ({"basis": "express", "source": ""}, "source"),
    ({"basis": "express", "source": "   "}, "source"),
    ({"basis": "express"}, "source"),
    ({"basis": "express", "source": "form", "channel": "fax"}, "channel"),
    ({"basis": "express", "source": "form", "granted_at": "2026-03-01T10:00:00"}, "granted_at"),
    ({"basis": "express", "source": "form", "expires_at": "2027-03-01T10:00:00"}, "expires_at"),
    ({"basis": "express", "source": "form", "granted_at": "yesterday"}, "granted_at"),
    (
        {
            "basis": "express",
            "source": "form",
            "granted_at": "2026-03-01T10:00:00Z",
            "expires_at": "2026-02-01T10:00:00Z",
        },
        "expires_at",
    ),
    ({"basis": "express", "source": "form", "granted_at": "0001-01-01T00:00:00+01:00"}, "granted_at"),
    ({"basis": "express", "source": "form", "expires_at": "9999-12-31T23:59:59-05:00"}, "expires_at"),
    ({"basis": "express", "source": "form", "evidence": "x" * 2001}, "evidence"),
    ({"basis": "express", "source": "form", "surprise": 1}, "surprise"),
    ({"basis": "express", "source": "form\u0000"}, "NUL"),
]


@pytest.mark.parametrize(("body", "named"), BAD, ids=[n for _, n in BAD])
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(api, world, db, body, named):
    w = world
    lead = w.alloc_a.allocated[0]
    before = w.ca.grant_consent(lead, "implied", "earlier form")  # must stay as it was
    r = httpx.post(
        f"{api.url}/v1/leads/{lead}/consents", json=body, headers={"Authorization": f"Bearer {w.a.api_key}"}
    )
    problem = _problem(r, 422)
    assert named in problem["detail"], problem
    assert _stored(db) == 1
    assert w.ca.consents(lead) == [before]


def test_an_erased_lead_takes_no_consent(api, world, db):
    w = world
    lead = w.alloc_a.allocated[0]
    w.ca.grant_consent(lead, "express", "form")
    api.admin.erase_lead(lead)
    assert _stored(db) == 0  # erasure deleted it
    with pytest.raises(ApiError) as e:
        api.admin.grant_consent(lead, "express", "form", agency_id=w.a.id)
    assert e.value.status == 422 and "erased" in e.value.detail
    with pytest.raises(ApiError) as e:
        w.ca.grant_consent(lead, "express", "form")  # no longer its lead
    assert e.value.status == 404
    assert _stored(db) == 0


def test_revoking_needs_a_reason(api, world, db):
    w = world
    given = w.ca.grant_consent(w.alloc_a.allocated[0], "express", "form")
    auth = {"Authorization": f"Bearer {w.a.api_key}"}
    for body in ({}, {"reason": ""}, {"reason": "  "}):
        r = httpx.post(f"{api.url}/v1/consents/{given.id}/revoke", json=body, headers=auth)
        assert "reason" in _problem(r, 422)["detail"], body
    assert w.ca.consents(given.lead_id)[0].live


def test_no_token_no_consent(api, world):
    lead = world.alloc_a.allocated[0]
    _problem(httpx.get(f"{api.url}/v1/leads/{lead}/consents"), 401)
    r = httpx.post(f"{api.url}/v1/leads/{lead}/consents", json={"basis": "express", "source": "form"})
    _problem(r, 401)
    _problem(httpx.post(f"{api.url}/v1/consents/1/revoke", json={"reason": "r"}), 401)
    r = httpx.get(f"{api.url}/v1/leads/{lead}/consents", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 200 and r.json() == []


def test_the_async_client(api, world):
    w = world
    lead = w.alloc_a.allocated[0]

    async def run():
        async with AsyncLeadpoolClient(api.url, w.a.api_key) as ca:
            given = await ca.grant_consent(lead, "express", "form", channel="email")
            listed = await ca.consents(lead)
            revoked = await ca.revoke_consent(given.id, "withdrawn")
            again = await ca.revoke_consent(given.id, "withdrawn")
            return given, listed, revoked, again

    given, listed, revoked, again = asyncio.run(run())
    assert listed == [given] and revoked.revoked_reason == "withdrawn" and not again.changed


def _email_codes(db: Database, w: World, lead: int) -> list[str]:
    with session_scope(db) as s:
        d = check(s, lead_id=lead, campaign_id=w.campaign_id, channel="email", at=MONDAY_OPEN, reserve=False)
        return d.codes


def test_a_grant_lets_the_gate_allow_email_to_germany(api, db, _defaults):
    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(country="Germany")  # owned by and enrolled in w's agency
        agency = s.get(Agency, w.agency_id)
        assert agency is not None
        key = issue_agency_key(s, agency)
    assert _email_codes(db, w, lead) == ["no_consent"]
    with LeadpoolClient(api.url, key) as client:
        given = client.grant_consent(
            lead, "express", "double opt-in, 2026-02-10", granted_at=MONDAY_OPEN - timedelta(days=20)
        )
        assert _email_codes(db, w, lead) == []
        client.revoke_consent(given.id, "unsubscribed by phone")
    assert _email_codes(db, w, lead) == ["no_consent"]
