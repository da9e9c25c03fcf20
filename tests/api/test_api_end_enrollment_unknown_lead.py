"""POST /v1/campaigns/{id}/leads/{lead_id}/end: an unknown lead is 404, not ``ended: false``; an
agency gets the same 404 for a lead it neither holds nor has enrolled (nothing leaks about other
agencies' leads); a real lead without an active enrollment stays the idempotent ``ended: false``."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.api.conftest import Api
from tests.gate import factories as f

from leadpool.allocation.campaigns import end_enrollment
from leadpool.client import LeadpoolClient
from leadpool.client.calls import ApiError
from leadpool.db import Database, session_scope
from leadpool.errors import NotFound


def test_the_service_refuses_an_unknown_lead_and_keeps_ended_false_for_a_real_one(db: Database) -> None:
    with session_scope(db) as s:
        camp = f.campaign(s, f.agency(s))
        lead_id = f.lead(s)
    with session_scope(db) as s, pytest.raises(NotFound, match=f"lead {lead_id + 1000} not found"):
        end_enrollment(s, camp, lead_id + 1000)
    with session_scope(db) as s:
        assert end_enrollment(s, camp, lead_id).ended is False


def test_an_unknown_lead_is_404_for_the_admin_and_for_agencies(api: Api, db: Database) -> None:
    a = api.admin.create_agency("End A")
    b = api.admin.create_agency("End B")
    with session_scope(db) as s:
        camp_a = f.campaign(s, a.id)
        camp_b = f.campaign(s, b.id)
        mine = f.lead(s)
        f.own(s, mine, a.id)
        f.enroll(s, mine, camp_a, a.id)
        idle = f.lead(s)
        f.own(s, idle, a.id)
        theirs = f.lead(s)
        f.own(s, theirs, b.id)
        f.enroll(s, theirs, camp_b, b.id)
    missing = theirs + 1000
    with pytest.raises(ApiError) as e:
        api.admin.end_enrollment(camp_a, missing)
    assert e.value.status == 404 and f"lead {missing} not found" in str(e.value)
    with LeadpoolClient(api.url, a.api_key) as ca:
        answers = []
        for lead_id in (missing, theirs):  # unknown, and another agency's: the same answer
            with pytest.raises(ApiError) as e:
                ca.end_enrollment(camp_a, lead_id)
            answers.append((e.value.status, str(e.value).replace(str(lead_id), "N")))
        assert answers[0] == answers[1] and answers[0][0] == 404, answers
        # a lead the agency holds without an active enrollment: idempotent, nothing ended
        assert ca.end_enrollment(camp_a, idle).ended is False
        assert ca.end_enrollment(camp_a, mine).ended is True
        assert ca.end_enrollment(camp_a, mine).ended is False
        # the lead then leaves the agency (released): a retry is still the idempotent answer
        with session_scope(db) as s:
            s.execute(text("DELETE FROM ownerships WHERE lead_id = :l"), {"l": mine})
        assert ca.end_enrollment(camp_a, mine).ended is False
    # the admin ending a real lead with no enrollment in that campaign: ended false, not 404
    assert api.admin.end_enrollment(camp_a, theirs).ended is False
