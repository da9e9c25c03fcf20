"""The gate and events over HTTP, driven through the client as a sending engine would."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from api.world import MONDAY
from leadpool.client import ApiError, AsyncLeadpoolClient


def test_check_reserve_confirm_then_caps_deny(api, world):
    w = world
    lead = w.alloc_a.allocated[0]
    d = w.ca.check(lead, w.camp_a.id, "linkedin", sender="li-1", idempotency_key="k1", at=MONDAY)
    assert d.decision == "allow" and d.reasons == [] and d.touch_id
    again = w.ca.check(lead, w.camp_a.id, "linkedin", sender="li-1", idempotency_key="k1", at=MONDAY)
    assert again.touch_id == d.touch_id and again.replayed

    sent = w.ca.confirm_sent(d.touch_id, "msg-1", at=MONDAY + timedelta(minutes=1))
    assert sent.state == "sent" and sent.provider_message_id == "msg-1" and sent.lead_id == lead

    second = w.ca.check(lead, w.camp_a.id, "linkedin", sender="li-1", at=MONDAY + timedelta(hours=1))
    assert second.decision == "deny"
    assert "lead_daily_cap" in [r.code for r in second.reasons]
    assert all(r.message for r in second.reasons)

    with pytest.raises(ApiError) as e:
        w.ca.cancel_touch(d.touch_id)
    assert e.value.status == 409


def test_batch_check_and_metrics(api, world):
    w = world
    items = [
        {"lead_id": lead, "campaign_id": w.camp_a.id, "channel": "linkedin", "at": MONDAY}
        for lead in w.alloc_a.allocated
    ]
    decisions = w.ca.check_batch(items)
    assert len(decisions) == len(items)
    allowed = [d for d in decisions if d.decision == "allow"]
    assert allowed, decisions
    for d in allowed:
        assert w.ca.cancel_touch(d.touch_id, at=MONDAY).state == "cancelled"
    text = api.admin.metrics()
    assert 'leadpool_gate_decisions_total{decision="allow"}' in text
    assert "leadpool_allocated_leads_total" in text and "leadpool_imported_records_total" in text


def test_batch_confirm_confirms_each_item_or_says_why_not(api, world):
    w = world
    items = [
        {"lead_id": lead, "campaign_id": w.camp_a.id, "channel": "linkedin", "at": MONDAY}
        for lead in w.alloc_a.allocated[:2]
    ]
    a, b = (d.touch_id for d in w.ca.check_batch(items))
    # a third, cancelled, on the next day (the leads may share a company: 2 touches a day)
    c = w.ca.check(w.alloc_a.allocated[2], w.camp_a.id, "linkedin", at=MONDAY + timedelta(days=1)).touch_id
    assert a and b and c
    w.ca.cancel_touch(c, at=MONDAY)
    other = w.cb.check(w.alloc_b.allocated[0], w.camp_b.id, "linkedin", at=MONDAY)  # agency B's touch
    assert other.touch_id
    sent_at = MONDAY + timedelta(minutes=2)
    results = w.ca.confirm_sent_batch(
        [(a, "m-a"), (b, "m-b"), (c, "m-c"), (other.touch_id, "m-x"), (a, "m-a")], at=sent_at
    )
    assert [r.touch_id for r in results] == [a, b, c, other.touch_id, a]
    assert [r.touch.state if r.touch else r.error.status for r in results] == [
        "sent",
        "sent",
        409,
        404,
        "sent",
    ]
    assert "cancelled" in results[2].error.detail  # the one that could not be sent says why
    assert results[4].touch.provider_message_id == "m-a"  # the same id again: idempotent
    # nothing about agency B's touch leaked, and it is still reserved
    assert "not found" in results[3].error.detail.lower()
    assert w.cb.confirm_sent(other.touch_id, "m-b2", at=sent_at).state == "sent"
    # a different message id for an already confirmed touch is that item's conflict only
    again = w.ca.confirm_sent_batch([(b, "m-other"), (a, "m-a")], at=sent_at)
    assert again[0].error.status == 409 and again[1].touch.state == "sent"


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "items"),
        ([{"touch_id": 0, "provider_message_id": "m"}], "items.0.touch_id"),
        ([{"touch_id": "abc", "provider_message_id": "m"}], "items.0.touch_id"),
        ([{"touch_id": "TOUCH", "provider_message_id": "   "}], "items.0.provider_message_id"),
        ([{"touch_id": "TOUCH"}], "items.0.provider_message_id"),
        ([{"touch_id": "TOUCH", "provider_message_id": "m", "extra": 1}], "items.0.extra"),
        ([{"touch_id": "TOUCH", "provider_message_id": "m"}] * 1001, "items"),
    ],
)
def test_batch_confirm_refuses_malformed_input_naming_the_field_and_changes_nothing(api, world, items, field):
    w = world
    touch = w.ca.check(w.alloc_a.allocated[0], w.camp_a.id, "linkedin", at=MONDAY).touch_id
    assert touch
    body = {"items": [{k: (touch if v == "TOUCH" else v) for k, v in i.items()} for i in items]}
    r = httpx.post(
        api.url + "/v1/touches/sent-batch", json=body, headers={"Authorization": f"Bearer {w.a.api_key}"}
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert field in {e["field"] for e in problem["errors"]} and field in problem["detail"]
    # nothing was confirmed: the reservation is still there, and can still be confirmed
    assert w.ca.confirm_sent(touch, "m-ok", at=MONDAY + timedelta(minutes=1)).state == "sent"


def test_an_unsubscribe_event_stops_every_agency(api, world):
    w = world
    lead = w.alloc_a.allocated[1]
    detail = w.ca.get_lead(lead)
    assert detail.fields["email"]
    result = w.ca.record_event(
        {
            "type": "unsubscribe",
            "lead_id": lead,
            "channel": "email",
            "occurred_at": MONDAY,
            "source": "engine-a",
            "provider_event_id": "evt-1",
        }
    )
    assert result.duplicate is False and result.lead_id == lead and result.type == "unsubscribe"
    repeat = w.ca.record_event(
        {
            "type": "unsubscribe",
            "lead_id": lead,
            "occurred_at": MONDAY,
            "source": "engine-a",
            "provider_event_id": "evt-1",
        }
    )
    assert repeat.duplicate is True and repeat.event_id == result.event_id
    d = w.ca.check(lead, w.camp_a.id, "linkedin", at=MONDAY + timedelta(minutes=5))
    assert d.decision == "deny" and "unsubscribed" in [r.code for r in d.reasons]
    assert 'leadpool_events_total{type="unsubscribe",via="api"}' in api.admin.metrics()


def test_an_address_event_from_an_agency_does_not_reveal_another_agencys_lead(api, world):
    w = world
    other = api.admin.get_lead(w.alloc_a.allocated[2]).fields["email"]
    result = w.cb.record_event(
        {
            "type": "complaint",
            "email": other,
            "occurred_at": MONDAY,
            "source": "engine-b",
            "provider_event_id": "c-1",
        }
    )
    assert result.lead_id is None and result.effects == []
    # ...yet the complaint protects the person for everyone
    d = w.ca.check(w.alloc_a.allocated[2], w.camp_a.id, "linkedin", at=MONDAY)
    assert d.decision == "deny" and "complained" in [r.code for r in d.reasons]


def test_an_agency_reporting_a_reply_by_address_cannot_stop_another_agencys_lead(api, world):
    w = world
    lead = w.alloc_a.allocated[4]
    email = api.admin.get_lead(lead).fields["email"]
    reply = {
        "type": "reply",
        "category": "not_interested",
        "email": email,
        "occurred_at": MONDAY,
        "source": "engine",
        "provider_event_id": "r-1",
    }
    result = w.cb.record_event(reply)
    assert result.lead_id is None and result.effects == [] and not result.duplicate
    d = w.ca.check(lead, w.camp_a.id, "linkedin", at=MONDAY + timedelta(hours=1), reserve=False)
    assert not {"replied", "cooling", "not_enrolled"} & {r.code for r in d.reasons}, d.reasons
    # A's own report of the same id is its own event (B cannot pre-empt it, nor read it back)
    own = w.ca.record_event({**reply, "category": "interested"})
    assert not own.duplicate and "lead:replied" in own.effects
    again = w.cb.record_event(reply)
    assert again.duplicate and again.category == "not_interested"  # B's own, not A's
    # an opt-out by address still protects the person for everyone
    w.cb.record_event({**reply, "category": "unsubscribe", "provider_event_id": "r-2"})
    d = w.ca.check(lead, w.camp_a.id, "linkedin", at=MONDAY + timedelta(hours=2), reserve=False)
    assert "unsubscribed" in {r.code for r in d.reasons}


def test_an_agency_cannot_convert_another_agencys_lead_by_address(api, world):
    w = world
    lead = w.alloc_a.allocated[3]
    other = api.admin.get_lead(lead).fields["email"]
    event = {
        "type": "converted",
        "email": other,
        "occurred_at": MONDAY,
        "source": "crm-b",
        "provider_event_id": "x-1",
    }
    with pytest.raises(ApiError) as e:
        w.cb.record_event(event)
    assert e.value.status == 422 and "give lead_id" in e.value.detail
    assert api.admin.get_lead(lead).fields["converted_at"] is None
    # its own lead, named by id, converts
    own = w.cb.record_event(
        {**event, "lead_id": w.alloc_b.allocated[0], "email": None, "provider_event_id": "x-2"}
    )
    assert "lead:converted" in own.effects


def test_async_client(api, world):
    w = world

    async def run():
        async with AsyncLeadpoolClient(api.url, w.a.api_key) as client:
            campaigns = await client.list_campaigns()
            decision = await client.check(w.alloc_a.allocated[3], w.camp_a.id, "linkedin", at=MONDAY)
            return campaigns, decision

    campaigns, decision = asyncio.run(run())
    assert [c.id for c in campaigns] == [w.camp_a.id]
    assert decision.decision in ("allow", "deny")
