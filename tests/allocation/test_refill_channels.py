"""A campaign that sends on LinkedIn (or SMS, phone) takes pool leads whatever their email status
(the statuses rule the email route only), so its refill must not ask Apollo only for people with
a verified email: it would never buy the people the campaign takes, and end short."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from tests.allocation.factories import make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.allocate import allocate
from leadpool.db import Database, session_scope


@pytest.fixture
def refill_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_REFILL_ENABLED", "true")
    monkeypatch.setenv("LEADPOOL_APOLLO_API_KEY", "not-used-no-worker-runs")


def test_a_linkedin_campaign_refill_does_not_filter_on_email_status(db: Database, refill_on: None) -> None:
    with session_scope(db) as s:
        company = make_company(s)
        # a person with a LinkedIn profile and no usable email: this campaign's kind of lead
        (lead,) = make_leads(
            s,
            1,
            company_id=company,
            email=None,
            email_status="unavailable",
            linkedin_url="https://www.linkedin.com/in/no-email-person",
        )
        campaign = make_campaign(s, make_agency(s), channels="linkedin", daily_quota=10)
    with session_scope(db) as s:
        res = allocate(s, campaign, 5)
    assert res.lead_ids == [lead]  # the pool side takes people without a verified email
    assert res.shortfall == 4 and res.refill_job_id is not None
    with db.engine.connect() as c:
        params = c.execute(
            text("SELECT search_params FROM refill_jobs WHERE id = :i"), {"i": res.refill_job_id}
        ).scalar_one()
    params = params if isinstance(params, dict) else json.loads(params)
    assert "contact_email_status" not in params, f"a LinkedIn-only refill searches {params}"
