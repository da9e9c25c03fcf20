"""Review of one-click unsubscribe (3917ea6) and the sender guards (9df259f) over HTTP: what
another tenant, or a default deployment, can do with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.world import MONDAY
from leadpool.db import session_scope
from leadpool.models import SenderPause

BOX_A = "box-1@agency-a.test"  # agency A's mailbox: in the From header of every mail A sends


def test_another_agency_cannot_pause_a_mailbox_by_reporting_blocks_against_it(api, world):
    """POST /v1/events lets any agency report a sender_block naming any sender (the event names an
    address the pool does not hold, so no tenancy check applies). Since 9df259f three of them pause
    that mailbox for every agency for 24 hours; a competitor who received one cold email from A can
    keep A's mailbox paused indefinitely, three requests a day."""
    w = world
    now = datetime.now(UTC)
    for i in range(3):
        r = httpx.post(
            f"{api.url}/v1/events",
            headers={"Authorization": f"Bearer {w.b.api_key}"},
            json={
                "type": "sender_block",
                "email": f"nobody{i}@b-side-mail.com",
                "sender": BOX_A,
                "occurred_at": (now - timedelta(minutes=10 - i)).isoformat(),
                "source": "api",
                "provider_event_id": f"forged-block-{i}",
                "detail": {"smtp_status": "5.7.1"},
            },
        )
        assert r.status_code == 200, r.text
    lead = w.alloc_a.allocated[0]
    d = w.ca.check(lead, w.camp_a.id, "email", sender=BOX_A, reserve=False)
    assert "sender_paused" not in [r.code for r in d.reasons]


def test_an_agency_cannot_see_or_resume_a_pause_by_once_naming_the_sender_in_a_check(api, world, db):
    """_used_by counts any touch of the agency with that sender, in any state: a reservation B
    made (and cancelled) naming A's account is enough for B to list A's pause (reason, counts,
    cause_event_id) and to end it, so A's account sends on into its bounces."""
    w = world
    mine = w.ca.check(w.alloc_a.allocated[0], w.camp_a.id, "linkedin", sender="li-A1", at=MONDAY)
    assert mine.decision == "allow"
    # A's account since A named it first: B's check naming it reserves nothing (sender_not_owned)
    d = w.cb.check(w.alloc_b.allocated[0], w.camp_b.id, "linkedin", sender="li-A1", at=MONDAY)
    assert d.decision == "deny" and d.touch_id is None
    with session_scope(db) as s:  # A's account paused by its own bounces
        s.add(
            SenderPause(
                sender="linkedin:li-A1",
                reason="sender_bounce_guard",
                paused_at=MONDAY,
                until=None,
                detail={"sends": 60, "hard_bounces": 2},
            )
        )
    assert w.cb.paused_senders() == []
    assert not w.cb.resume_sender("linkedin", "li-A1").resumed


def test_unsubscribe_links_are_https_whatever_address_the_check_came_in_on(api, world):
    """LEADPOOL_PUBLIC_URL unset (the default), the link is built from the check request's own
    base URL: a sending engine calling the service on its internal address (http://leadpool:8000)
    puts an http:// link to an unreachable host in every List-Unsubscribe header. RFC 8058 3.1:
    List-Unsubscribe MUST contain one HTTPS URI; Gmail/Yahoo then ignore one-click."""
    w = world
    for lead in w.alloc_a.allocated:
        d = w.ca.check(lead, w.camp_a.id, "email", sender=BOX_A, at=MONDAY)
        if d.decision == "allow":
            break
    else:
        pytest.fail("no allowed email")
    assert d.unsubscribe_url is None or d.unsubscribe_url.startswith("https://"), d.unsubscribe_url
