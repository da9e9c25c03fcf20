"""Gate policy overrides over HTTP: an agency reads and sets its own campaigns' (not another's,
not its agency level's, not a raised daily cap); the admin sets any level; a bad override is a
422 problem naming the field, with nothing changed."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from api.conftest import ADMIN_TOKEN
from leadpool.client import ApiError
from leadpool.db import session_scope
from leadpool.models import AuditLog

WIDER = {"allowed_email_statuses": ["verified", "extrapolated"]}


def test_an_agency_sets_its_own_campaigns_override_and_nothing_else(api, world, db) -> None:
    view = world.ca.set_campaign_policy(world.camp_a.id, WIDER)
    assert view.level == "campaign" and view.overrides == WIDER
    assert view.effective["allowed_email_statuses"] == ["verified", "extrapolated"]
    assert world.ca.campaign_policy(world.camp_a.id).overrides == WIDER
    for call, status in (
        (lambda: world.cb.set_campaign_policy(world.camp_a.id, WIDER), 404),  # not its campaign
        (lambda: world.cb.campaign_policy(world.camp_a.id), 404),
        (lambda: world.ca.set_agency_policy(world.a.id, {"agency_daily_cap": 1}), 403),
        (lambda: world.ca.agency_policy(world.a.id), 403),
        (lambda: world.ca.set_campaign_policy(world.camp_a.id, {"agency_daily_cap": 9999}), 422),
    ):
        with pytest.raises(ApiError) as refused:
            call()
        assert refused.value.status == status, refused.value
    assert world.ca.campaign_policy(world.camp_a.id).overrides == WIDER  # the refusals changed nothing

    # the admin sets the agency's level; the campaign's view shows both and the merge
    api.admin.set_agency_policy(world.a.id, {"agency_daily_cap": 9999, "lead_weekly_cap": 2})
    both = world.ca.campaign_policy(world.camp_a.id)
    assert both.agency_overrides == {"agency_daily_cap": 9999, "lead_weekly_cap": 2}
    assert both.effective["lead_weekly_cap"] == 2 and both.effective["agency_daily_cap"] == 9999
    assert api.admin.set_campaign_policy(world.camp_a.id, None).overrides is None
    with session_scope(db) as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action.like("%.policy")).order_by(AuditLog.id)).all()
        assert [(r.action, r.actor) for r in rows] == [
            ("campaign.policy", f"agency:{world.a.id}"),
            ("agency.policy", "admin"),
            ("campaign.policy", "admin"),
        ]


def test_a_bad_override_is_a_problem_naming_the_field(api, world) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    url = f"{api.url}/v1/campaigns/{world.camp_a.id}/policy"
    for body, named in (
        ({"overrides": {"lead_daily_cap": 7}}, "lead_daily_cap"),
        ({"overrides": {"windows": {"sms": {"start": "05:00", "end": "23:00"}}}}, "windows.sms"),
        ({"overrides": ["verified"]}, "overrides"),
        ({}, "overrides"),
    ):
        r = httpx.put(url, json=body, headers=headers, timeout=30)
        assert r.status_code == 422 and named in r.text, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert api.admin.campaign_policy(world.camp_a.id).overrides is None
