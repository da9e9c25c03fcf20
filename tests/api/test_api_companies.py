"""GET /v1/companies/{id}/timeline: the admin sees everything, an agency its own touches plus the
company's replies and pauses (without naming people it does not own), 404 for an unknown company."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from tests.api.conftest import ADMIN_TOKEN, Api
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN

from leadpool.client import LeadpoolClient
from leadpool.client.calls import ApiError
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate import check, confirm_sent

T0 = MONDAY_OPEN


def test_company_timeline_per_caller(api: Api, db: Database) -> None:
    a = api.admin.create_agency("Timeline A")
    b = api.admin.create_agency("Timeline B")
    with session_scope(db) as s:
        company = f.company(s)
        ca, cb = f.campaign(s, a.id), f.campaign(s, b.id)
        people = {}
        for name, agency, campaign in (("anna", a.id, ca), ("bob", b.id, cb)):
            lid = f.lead(s, company_id=company)
            f.own(s, lid, agency)
            f.enroll(s, lid, campaign, agency)
            people[name] = lid
            d = check(s, lead_id=lid, campaign_id=campaign, channel="linkedin", at=T0)
            assert d.touch_id is not None, d.reasons
            confirm_sent(s, d.touch_id, f"m-{d.touch_id}", at=T0)
        record_event(
            s,
            EventIn(
                type="reply",
                lead_id=people["bob"],
                occurred_at=T0 + timedelta(days=1),
                source="test",
                provider_event_id="bob-no",
                category="not_interested",
            ),
            at=T0 + timedelta(days=1),
        )
    admin = api.admin.company_timeline(company)
    assert [e.kind for e in admin.entries] == ["touch", "touch", "event.reply", "company.paused"]
    assert admin.entries[3].detail["lead_id"] == people["bob"]
    assert "paused until" in admin.entries[3].summary
    with LeadpoolClient(api.url, a.api_key) as ca_client:
        mine = ca_client.company_timeline(company)
        with pytest.raises(ApiError) as e:
            ca_client.company_timeline(987654)
        assert e.value.status == 404
    assert [e.kind for e in mine.entries] == ["touch", "event.reply", "company.paused"]
    assert mine.entries[0].detail["lead_id"] == people["anna"] and mine.entries[0].detail["agency_id"] == a.id
    # agency A does not own bob: the reply and the pause count for it, his id is not shown
    assert mine.entries[1].detail["lead_id"] is None and mine.entries[2].detail["lead_id"] is None
    r = httpx.get(
        f"{api.url}/v1/companies/987654/timeline", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_end_enrollment_rests_the_lead(api: Api, db: Database) -> None:
    a = api.admin.create_agency("Rest A")
    b = api.admin.create_agency("Rest B")
    with session_scope(db) as s:
        camp = f.campaign(s, a.id)
        lid = f.lead(s)
        f.own(s, lid, a.id)
        f.enroll(s, lid, camp, a.id)
    with LeadpoolClient(api.url, a.api_key) as ca, LeadpoolClient(api.url, b.api_key) as cb:
        with pytest.raises(ApiError) as e:
            cb.end_enrollment(camp, lid)  # not B's campaign
        assert e.value.status == 404
        with pytest.raises(ApiError) as e:
            ca.end_enrollment(camp, lid, reason="replied")
        assert e.value.status == 422
        done = ca.end_enrollment(camp, lid)
        assert done.ended and done.rest_until is not None
        again = ca.end_enrollment(camp, lid, reason="removed")
        assert not again.ended and again.rest_until is None
        kinds = [x.kind for x in ca.lead_timeline(lid).entries]
        assert "rest.started" in kinds and "enrollment.unenrolled" in kinds
    with session_scope(db) as s:
        d = check(
            s, lead_id=lid, campaign_id=camp, channel="linkedin", at=done.rest_until - timedelta(days=1)
        )
        assert "rest_period" in d.codes


def test_an_agency_does_not_see_whom_another_agency_converted_at_a_company(api: Api, db: Database) -> None:
    a = api.admin.create_agency("Converts A")
    b = api.admin.create_agency("Converts B")
    with session_scope(db) as s:
        company = f.company(s)
        campaign = f.campaign(s, a.id)
        lead = f.lead(s, company_id=company)
        f.own(s, lead, a.id)
        f.enroll(s, lead, campaign, a.id)
    with LeadpoolClient(api.url, a.api_key) as ca_client, LeadpoolClient(api.url, b.api_key) as cb_client:
        ca_client.record_event(
            {
                "type": "converted",
                "lead_id": lead,
                "source": "crm",
                "provider_event_id": "deal-42",
                "occurred_at": T0,
            }
        )
        assert [e.kind for e in ca_client.company_timeline(company).entries] == ["event.converted"]
        assert cb_client.company_timeline(company).entries == []
    assert [e.kind for e in api.admin.company_timeline(company).entries] == ["event.converted"]


def test_another_agencys_report_about_my_person_shows_without_its_source(api: Api, db: Database) -> None:
    a = api.admin.create_agency("Reports A")
    b = api.admin.create_agency("Reports B")
    with session_scope(db) as s:
        company = f.company(s)
        lead = f.lead(s, company_id=company, email="anna@reports.example")
        f.own(s, lead, a.id)
    with LeadpoolClient(api.url, b.api_key) as cb_client, LeadpoolClient(api.url, a.api_key) as ca_client:
        cb_client.record_event(
            {
                "type": "unsubscribe",
                "email": "anna@reports.example",
                "source": "b-secret-esp",
                "provider_event_id": "u-1",
                "occurred_at": T0,
            }
        )
        (entry,) = [e for e in ca_client.company_timeline(company).entries if e.kind == "event.unsubscribe"]
    assert entry.detail["lead_id"] == lead  # A's own person
    assert entry.detail["source"] == "another agency" and entry.detail.get("reported_by_agency_id") is None
