"""Events an agency reports, and what they may do to another agency's sends.

An agency may report events about any address (an opt-out, a bounce protects the person), but an
unchecked report must not act on another agency's campaigns, mailboxes or message ids:
- two soft bounces it reports about an address do not turn a competitor's own soft bounce of
  that address into a hard one in the competitor's campaign and mailbox guards (they paused both,
  and the mailbox pause named the reporter's event, so its owner could neither see nor lift it);
- an event naming only a message id is looked up among the reporter's own sends (another's was
  answered 200 instead of 404, and the event landed on that send);
- a touch cannot be confirmed with a message id another agency's send already holds (events
  naming only that id would land on it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.conftest import ADMIN_TOKEN
from api.world import BROAD_ICP, MONDAY
from leadpool.events.settings import get_event_settings

ADMIN = ADMIN_TOKEN


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sent_email_touch(
    url: str, key: str, campaign_id: int, leads: list[int], sender: str, pmid: str
) -> tuple[int, int]:
    """(lead id, touch id) of the first of ``leads`` an email check allows, confirmed sent as ``pmid``."""
    with httpx.Client(base_url=url, headers=bearer(key)) as c:
        for hour in range(24 * 5):
            at = MONDAY + timedelta(hours=hour)
            for lead in leads:
                r = c.post(
                    "/v1/sends/check",
                    json={
                        "lead_id": lead,
                        "campaign_id": campaign_id,
                        "channel": "email",
                        "sender": sender,
                        "at": at.isoformat(),
                    },
                )
                assert r.status_code == 200, r.text
                d: dict[str, Any] = r.json()
                if d["decision"] == "allow":
                    s = c.post(
                        f"/v1/touches/{d['touch_id']}/sent",
                        json={"provider_message_id": pmid, "at": (at + timedelta(minutes=1)).isoformat()},
                    )
                    assert s.status_code == 200, s.text
                    return lead, d["touch_id"]
    raise AssertionError("no email check was allowed")


def soft_bounce(c: httpx.Client, key: str, n: int, *, prefix: str = "soft", **body: Any) -> list[str]:
    """Report the nth soft bounce (4.2.2, mailbox full) as ``key``'s agency; its effects."""
    r = c.post(
        "/v1/events",
        headers=bearer(key),
        json={
            "type": "soft_bounce",
            "occurred_at": f"2026-03-05T1{n}:00:00Z",
            "source": "api",
            "provider_event_id": f"{prefix}-{n}",
            "detail": {"smtp_status": "4.2.2"},
            **body,
        },
    )
    assert r.status_code == 200, r.text
    return list(r.json()["effects"])


@pytest.fixture
def small_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # a guard that judges from the first send (the default waits for 50 sends: same logic)
    monkeypatch.setenv("LEADPOOL_EVENTS_BOUNCE_GUARD_MIN_SENDS", "1")
    get_event_settings.cache_clear()
    yield
    monkeypatch.delenv("LEADPOOL_EVENTS_BOUNCE_GUARD_MIN_SENDS")
    get_event_settings.cache_clear()


def _b_fakes_soft_bounces_of_as_lead(api, w):
    lead, _ = sent_email_touch(
        api.url, w.a.api_key, w.camp_a.id, w.alloc_a.allocated, "sdr@agency-a.example", "a-msg-1"
    )
    with httpx.Client(base_url=api.url) as c:
        email = c.get(f"/v1/leads/{lead}", headers=bearer(ADMIN)).json()["fields"]["email"]
        r = c.post(
            "/v1/events",
            headers=bearer(w.a.api_key),
            json={
                "type": "soft_bounce",
                "provider_message_id": "a-msg-1",
                "occurred_at": "2026-03-05T10:00:00Z",
                "source": "sendgrid-a",
                "provider_event_id": "sg-1",
                "detail": {"smtp_status": "4.2.2"},
            },
        )
        assert r.status_code == 200, r.text
        assert c.get("/v1/senders/paused", headers=bearer(ADMIN)).json() == []
        for n in (1, 2):
            r = c.post(
                "/v1/events",
                headers=bearer(w.b.api_key),
                json={
                    "type": "soft_bounce",
                    "email": email,
                    "occurred_at": f"2026-03-05T1{n}:00:00Z",
                    "source": "api",
                    "provider_event_id": f"b-fake-{n}",
                    "detail": {"smtp_status": "4.2.2"},
                },
            )
            assert r.status_code == 200, r.text


def test_another_agencys_soft_bounce_reports_do_not_pause_my_mailbox(api, world, small_guard):
    """Worse: the pause of A's mailbox names B's event as its cause, so A (which sees and resumes
    only pauses its own sends caused) neither sees it nor can resume it."""
    _b_fakes_soft_bounces_of_as_lead(api, world)
    with httpx.Client(base_url=api.url) as c:
        everyone = c.get("/v1/senders/paused", headers=bearer(ADMIN)).json()
        mine = c.get("/v1/senders/paused", headers=bearer(world.a.api_key)).json()
        resumed = c.post(
            "/v1/senders/resume",
            headers=bearer(world.a.api_key),
            json={"channel": "email", "sender": "sdr@agency-a.example"},
        ).json()
    assert everyone == [], (everyone, mine, resumed)


def test_another_agencys_soft_bounce_reports_do_not_pause_my_campaign(api, world, small_guard):
    _b_fakes_soft_bounces_of_as_lead(api, world)
    with httpx.Client(base_url=api.url) as c:
        camp = c.get(f"/v1/campaigns/{world.camp_a.id}", headers=bearer(world.a.api_key)).json()
    assert (camp["status"], camp.get("paused_reason")) == ("active", None), camp


def test_event_by_another_agencys_message_id_is_answered_as_if_absent(api, world):
    w = world
    sent_email_touch(
        api.url, w.a.api_key, w.camp_a.id, w.alloc_a.allocated, "sdr@agency-a.example", "a-secret-msg-1"
    )
    with httpx.Client(base_url=api.url, headers=bearer(w.b.api_key)) as c:

        def report(pmid: str, n: int) -> httpx.Response:
            return c.post(
                "/v1/events",
                json={
                    "type": "opened",
                    "provider_message_id": pmid,
                    "occurred_at": "2026-03-03T10:00:00Z",
                    "source": "api",
                    "provider_event_id": f"probe-{n}",
                },
            )

        absent = report("no-such-message", 1)
        theirs = report("a-secret-msg-1", 2)
    # as everywhere else in the API, another agency's object must be answered like an absent one
    assert (theirs.status_code, absent.status_code) == (404, 404), (
        theirs.status_code,
        theirs.text,
        absent.text,
    )


def _sent(c: httpx.Client, lead: int, campaign: int, sender: str, pmid: str) -> httpx.Response:
    d = c.post(
        "/v1/sends/check",
        json={
            "lead_id": lead,
            "campaign_id": campaign,
            "channel": "linkedin",
            "sender": sender,
            "at": MONDAY.isoformat(),
        },
    ).json()
    assert d["decision"] == "allow", d
    return c.post(
        f"/v1/touches/{d['touch_id']}/sent",
        json={"provider_message_id": pmid, "at": (MONDAY + timedelta(minutes=1)).isoformat()},
    )


def test_another_agency_cannot_capture_my_message_ids(api, world):
    w = world
    lb, la = w.alloc_b.allocated[0], w.alloc_a.allocated[0]
    with (
        httpx.Client(base_url=api.url, headers=bearer(w.b.api_key)) as cb,
        httpx.Client(base_url=api.url, headers=bearer(w.a.api_key)) as ca,
    ):
        assert _sent(cb, lb, w.camp_b.id, "li-b-seat", "msg-7731").status_code == 200
        squat = _sent(ca, la, w.camp_a.id, "li-a-seat", "<msg-7731>")  # A reuses B's message id
        r = cb.post(
            "/v1/events",
            json={
                "type": "unsubscribe",
                "provider_message_id": "msg-7731",
                "occurred_at": (MONDAY + timedelta(hours=2)).isoformat(),
                "source": "smartlead-b",
                "provider_event_id": "b-unsub-1",
            },
        )
        assert r.status_code == 200, r.text
        admin = bearer(ADMIN)
        a_lead = ca.get(f"/v1/leads/{la}", headers=admin).json()["fields"]["unsubscribed_at"]
        b_lead = ca.get(f"/v1/leads/{lb}", headers=admin).json()["fields"]["unsubscribed_at"]
    assert squat.status_code == 409, squat.text
    assert "another agency's send" in squat.json()["detail"]
    assert (r.json()["lead_id"], b_lead is not None, a_lead) == (lb, True, None), r.json()


def test_the_soft_bounce_threshold_tells_an_agency_nothing_of_other_agencies_reports(api, world):
    """Three soft bounces of an address in 30 days count as a hard bounce, whoever reported them.
    An agency told ``soft_bounce:threshold`` after its one report learned that others had
    reported that address bouncing; naming its own lead beside any address, it could ask so of
    every address. Its own reports reaching the threshold are still its news."""
    w = world
    lead, _ = sent_email_touch(
        api.url, w.a.api_key, w.camp_a.id, w.alloc_a.allocated, "sdr@agency-a.example", "a-msg-1"
    )
    with httpx.Client(base_url=api.url) as c:
        probed = "someone.else@probe.example"
        soft_bounce(c, w.b.api_key, 1, email=probed)
        soft_bounce(c, w.b.api_key, 2, email=probed)
        # A names its own lead beside the probed address: the threshold is reached (B's two and
        # A's one), the address suppressed for everyone, and A told nothing of B's reports
        effects = soft_bounce(c, w.a.api_key, 3, lead_id=lead, email=probed)
        assert "soft_bounce:counted" in effects and "soft_bounce:threshold" not in effects, effects
        everything = c.get(f"/v1/leads/{lead}", headers=bearer(ADMIN)).json()
        assert everything["id"] == lead
        # A's own three reports about its own lead's address reach it: that it is told
        email = everything["fields"]["email"]
        mine = [soft_bounce(c, w.a.api_key, n, lead_id=lead, email=email) for n in (4, 5, 6)]
        assert "soft_bounce:threshold" in mine[-1] and "lead:email_bounced" in mine[-1], mine


def test_naming_its_own_lead_beside_a_competitors_address_does_not_pause_the_competitor(
    api, world, small_guard
):
    """Two soft bounces an agency reports about an address may suppress it, but turn another
    agency's soft bounce of it into a hard one in that agency's guards only when the report is
    vouched for. Naming its own lead beside the competitor's address vouched for nothing (the
    address is not its lead's), yet paused the competitor's campaign."""
    w = world
    camp = w.cb.create_campaign("B email", ["email"], BROAD_ICP, daily_quota=10)
    w.cb.activate_campaign(camp.id)
    b_leads = w.cb.allocate(camp.id, 3).allocated
    b_lead, _ = sent_email_touch(api.url, w.b.api_key, camp.id, b_leads, "sdr@agency-b.example", "b-msg-1")
    a_lead, _ = sent_email_touch(
        api.url, w.a.api_key, w.camp_a.id, w.alloc_a.allocated, "sdr@agency-a.example", "a-msg-1"
    )
    with httpx.Client(base_url=api.url) as c:
        email = c.get(f"/v1/leads/{b_lead}", headers=bearer(ADMIN)).json()["fields"]["email"]

        soft_bounce(c, w.b.api_key, 1, provider_message_id="b-msg-1")  # B's own send soft-bounced once
        soft_bounce(c, w.a.api_key, 2, lead_id=a_lead, email=email)
        soft_bounce(c, w.a.api_key, 3, lead_id=a_lead, email=email)
        mine = c.get(f"/v1/campaigns/{camp.id}", headers=bearer(w.b.api_key)).json()
    assert (mine["status"], mine.get("paused_reason")) == ("active", None), mine


def test_its_own_leads_previous_address_is_vouched_for(api, world, db, small_guard):
    """A send went to the address the lead had before re-enrichment gave it another (kept in
    previous_emails); the provider's bounces name that old address. They are the agency's own
    lead's, so its soft bounces turn hard in its own guard at the threshold as any others do."""
    from sqlalchemy import text

    from leadpool.db import session_scope

    w = world
    camp = w.cb.create_campaign("B email", ["email"], BROAD_ICP, daily_quota=10)
    w.cb.activate_campaign(camp.id)
    b_lead, _ = sent_email_touch(
        api.url, w.b.api_key, camp.id, w.cb.allocate(camp.id, 3).allocated, "sdr@agency-b.example", "b-msg-1"
    )
    with session_scope(db) as s:
        old = s.execute(
            text(
                "UPDATE leads SET previous_emails = ARRAY[email], email = 'new.' || email "
                "WHERE id = :l RETURNING previous_emails[1]"
            ),
            {"l": b_lead},
        ).scalar_one()
    with httpx.Client(base_url=api.url, headers=bearer(w.b.api_key)) as c:
        for n in (1, 2, 3):
            body: dict[str, Any] = {"provider_message_id": "b-msg-1"} if n == 1 else {"lead_id": b_lead}
            soft_bounce(c, w.b.api_key, n, prefix="old-soft", email=old, **body)
        mine = c.get(f"/v1/campaigns/{camp.id}").json()
    assert (mine["status"], mine.get("paused_reason")) == ("paused", "campaign_bounce_guard"), mine
