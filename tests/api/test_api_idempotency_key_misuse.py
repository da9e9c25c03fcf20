"""Reusing an idempotency key for a different check is the caller's mistake, not an outage.

Issue 5: ``sends/check`` answers 503 with ``gate_error`` "when the database cannot be reached";
the API documents 503 as "The database cannot be reached" (problems.COMMON_RESPONSES). A key
reused for another lead (or a dry-run key reused for a reserving check) is a permanent client
error: answering it 503 tells every HTTP client, proxy and retry policy to try again (it never
succeeds), counts it as a gate outage in ``leadpool_gate_decision_reasons_total{code="gate_error"}``,
and in a batch turns the reservations the other items just made into a 503 answer.
"""

from __future__ import annotations

import httpx
import pytest

from api.world import MONDAY
from leadpool.client import ApiError


def _check(api, token, **body):
    return httpx.post(
        api.url + "/v1/sends/check-batch" if "items" in body else api.url + "/v1/sends/check",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_key_reused_for_another_lead_is_a_client_error_not_a_503(api, world):
    w = world
    lead1, lead2 = w.alloc_a.allocated[:2]
    at = MONDAY.isoformat()
    first = _check(
        api,
        w.a.api_key,
        lead_id=lead1,
        campaign_id=w.camp_a.id,
        channel="linkedin",
        at=at,
        idempotency_key="order-17",
    )
    assert first.status_code == 200 and first.json()["decision"] == "allow"

    reused = _check(
        api,
        w.a.api_key,
        lead_id=lead2,
        campaign_id=w.camp_a.id,
        channel="linkedin",
        at=at,
        idempotency_key="order-17",
    )
    # the database is fine: this is the caller's mistake and retrying can never help
    assert 400 <= reused.status_code < 500, (reused.status_code, reused.text)

    # the client raises for the caller's mistake instead of handing back a fail-closed outage deny
    with pytest.raises(ApiError) as e:
        w.ca.check(lead2, w.camp_a.id, "linkedin", idempotency_key="order-17", at=MONDAY)
    assert 400 <= e.value.status < 500


def test_a_dry_run_key_reused_for_a_reserving_check_is_a_client_error_not_a_503(api, world):
    w = world
    lead = w.alloc_a.allocated[0]
    at = MONDAY.isoformat()
    dry = _check(
        api,
        w.a.api_key,
        lead_id=lead,
        campaign_id=w.camp_a.id,
        channel="linkedin",
        at=at,
        idempotency_key="dry-1",
        reserve=False,
    )
    assert dry.status_code == 200 and dry.json()["decision"] == "allow"
    again = _check(
        api,
        w.a.api_key,
        lead_id=lead,
        campaign_id=w.camp_a.id,
        channel="linkedin",
        at=at,
        idempotency_key="dry-1",
    )
    assert 400 <= again.status_code < 500, (again.status_code, again.text)


def test_one_misused_key_in_a_batch_does_not_turn_the_batch_into_a_503(api, world):
    w = world
    lead1, lead2, lead3 = w.alloc_a.allocated[:3]
    at = MONDAY.isoformat()
    first = _check(
        api,
        w.a.api_key,
        lead_id=lead1,
        campaign_id=w.camp_a.id,
        channel="linkedin",
        at=at,
        idempotency_key="k-used",
    )
    assert first.status_code == 200 and first.json()["decision"] == "allow"

    batch = _check(
        api,
        w.a.api_key,
        items=[
            # a fresh, allowed check: reserves a touch
            {
                "lead_id": lead3,
                "campaign_id": w.camp_a.id,
                "channel": "linkedin",
                "at": at,
                "idempotency_key": "k-fresh",
            },
            # the caller's mistake: a key already used for lead1
            {
                "lead_id": lead2,
                "campaign_id": w.camp_a.id,
                "channel": "linkedin",
                "at": at,
                "idempotency_key": "k-used",
            },
        ],
    )
    assert batch.status_code != 503, batch.text
    if batch.status_code == 200:
        assert batch.json()["results"][0]["decision"] == "allow"
    else:
        # refused as a whole: then nothing of it may be stored (no reservation for lead3)
        assert 400 <= batch.status_code < 500
        timeline = api.admin.lead_timeline(lead3)
        assert not [e for e in timeline.entries if e.kind == "touch"], timeline.entries


def test_the_library_raises_for_a_reused_key_and_stores_nothing(db):
    from sqlalchemy import text
    from tests.gate.factories import MONDAY_OPEN as at
    from tests.gate.factories import World

    from leadpool.db import session_scope
    from leadpool.gate import CheckRequest, GateWorker, IdempotencyKeyReused, check, check_many

    with session_scope(db) as s:
        w = World(s)
        one, two = w.lead(), w.lead()
        camp = w.campaign_id
    with session_scope(db) as s:
        assert check(s, lead_id=one, campaign_id=camp, channel="linkedin", at=at, idempotency_key="k").allowed
    with session_scope(db) as s, pytest.raises(IdempotencyKeyReused, match="already used for another check"):
        check(s, lead_id=two, campaign_id=camp, channel="linkedin", at=at, idempotency_key="k")
    with session_scope(db) as s, pytest.raises(IdempotencyKeyReused):
        check_many(
            s,
            [
                CheckRequest(two, camp, "linkedin", None, at, True, "fresh"),
                CheckRequest(two, camp, "linkedin", None, at, True, "k"),
            ],
        )
    with GateWorker(db) as gate, pytest.raises(IdempotencyKeyReused):
        gate.check(lead_id=two, campaign_id=camp, channel="linkedin", at=at, idempotency_key="k")
    with session_scope(db) as s:
        assert s.scalar(text("SELECT count(*) FROM decisions")) == 1
        assert s.scalar(text("SELECT count(*) FROM touches")) == 1
