"""One-click unsubscribe (RFC 8058): the link an allowed email carries, and what using it does."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from api.conftest import ADMIN_TOKEN
from api.world import MONDAY, build_world
from leadpool.api.app import create_app
from leadpool.api.server import serve_in_thread
from leadpool.api.settings import ApiSettings
from leadpool.client import LeadpoolClient
from leadpool.config import Settings
from leadpool.models import Event, Lead
from leadpool.privacy import unsubscribe as one_click

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def world(api, live):
    # links are handed out only under the configured public address: here, the test server's own
    state = live.server.config.app.state
    before = state.api_settings
    state.api_settings = before.model_copy(update={"public_url": api.url})
    w = build_world(api.admin, api.url)
    yield w
    w.close()
    state.api_settings = before


def _email_allow(w, at=MONDAY):
    """The first of agency A's leads the gate lets it email at ``at`` (some are out of hours)."""
    for lead in w.alloc_a.allocated:
        d = w.ca.check(lead, w.camp_a.id, "email", sender="box-1@agency-a.test", at=at)
        if d.decision == "allow":
            return lead, d
    pytest.fail("no lead of agency A may be emailed on the test's Monday")


def _lead(db, lead_id) -> Lead:
    with db.sessionmaker() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        s.expunge(lead)
        return lead


def _one_click_events(db) -> list[Event]:
    with db.sessionmaker() as s:
        return list(s.scalars(select(Event).where(Event.source == one_click.SOURCE)))


def test_an_allowed_email_carries_a_link_that_unsubscribes_with_one_post(api, world, db):
    w = world
    lead, d = _email_allow(w)
    assert d.unsubscribe_url and d.unsubscribe_url.startswith(f"{api.url}/unsubscribe/{d.touch_id}.")

    # a scanner or a link preview fetches the link: that must stop no one
    page = httpx.get(d.unsubscribe_url)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert _lead(db, lead).unsubscribed_at is None and _one_click_events(db) == []

    # what Gmail sends: no cookie, no credential, the RFC 8058 body
    done = httpx.post(d.unsubscribe_url, data=ONE_CLICK)
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert _lead(db, lead).unsubscribed_at is not None
    (event,) = _one_click_events(db)
    assert (event.type, event.lead_id, event.campaign_id) == ("unsubscribe", lead, w.camp_a.id)

    # every channel, every agency: the lead's next check on linkedin is denied
    later = w.ca.check(lead, w.camp_a.id, "linkedin", at=MONDAY + timedelta(days=1))
    assert later.decision == "deny" and "unsubscribed" in [r.code for r in later.reasons]

    # the provider retries, the person clicks again: one event
    again = httpx.post(d.unsubscribe_url, files={"List-Unsubscribe": (None, "One-Click")})  # multipart
    assert again.status_code == 200
    assert len(_one_click_events(db)) == 1


def test_only_allowed_emails_carry_a_link_and_a_replay_carries_the_same(api, world):
    w = world
    lead, _ = _email_allow(w)
    denied = w.ca.check(lead, w.camp_a.id, "email", at=MONDAY + timedelta(minutes=5))  # its daily cap
    assert denied.decision == "deny" and denied.unsubscribe_url is None
    keyed = w.ca.check(lead, w.camp_a.id, "linkedin", idempotency_key="k-li", at=MONDAY + timedelta(days=2))
    assert keyed.decision == "allow" and keyed.unsubscribe_url is None  # linkedin: no header to carry it

    other = [x for x in w.alloc_a.allocated if x != lead]
    items = [
        {
            "lead_id": x,
            "campaign_id": w.camp_a.id,
            "channel": "email",
            "at": MONDAY,
            "idempotency_key": f"b{x}",
        }
        for x in other
    ]
    first = w.ca.check_batch(items)
    second = w.ca.check_batch(items)
    for a, b in zip(first, second, strict=True):
        assert (a.unsubscribe_url is not None) == (a.decision == "allow")
        assert b.replayed and b.unsubscribe_url == a.unsubscribe_url


def test_a_link_not_made_here_is_refused_and_changes_nothing(api, world, db):
    lead, d = _email_allow(world)
    token = d.unsubscribe_url.rsplit("/", 1)[1]
    touch, mac = token.split(".")
    forged = [
        f"{touch}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # one character changed
        f"{int(touch) + 1}.{mac}",  # another touch, this touch's hash
        f"{touch}.{mac[:10]}",  # cut short
        f"0{touch}.{mac}",
        "1.AAAAAAAAAAAAAAAAAAAAAA",
        f"{2**63}.{mac}",
    ]
    for bad in forged:
        r = httpx.post(f"{api.url}/unsubscribe/{bad}", data=ONE_CLICK)
        assert r.status_code == 404, bad
        assert httpx.get(f"{api.url}/unsubscribe/{bad}").status_code == 404
    assert _lead(db, lead).unsubscribed_at is None and _one_click_events(db) == []


def test_the_link_of_an_erased_person_still_answers_and_keeps_nothing(api, world, db):
    lead, d = _email_allow(world)
    api.admin.erase_lead(lead)
    r = httpx.post(d.unsubscribe_url, data=ONE_CLICK)
    assert r.status_code == 200
    assert _one_click_events(db) == []


def test_links_use_the_public_address_when_one_is_set(db, tmp_path):
    api_settings = ApiSettings(admin_token=ADMIN_TOKEN, public_url="https://lp.example.com/outreach/")
    app = create_app(Settings(home=tmp_path), db=db, api_settings=api_settings)
    with serve_in_thread(app) as server, LeadpoolClient(server.url, ADMIN_TOKEN) as admin:
        w = build_world(admin, server.url)
        try:
            _, d = _email_allow(w)
        finally:
            w.close()
    assert d.unsubscribe_url.startswith(f"https://lp.example.com/outreach/unsubscribe/{d.touch_id}.")


def test_no_link_is_handed_out_without_a_public_address(api):
    w = build_world(api.admin, api.url)  # the shared server has no LEADPOOL_PUBLIC_URL
    try:
        _, d = _email_allow(w)
    finally:
        w.close()
    assert d.unsubscribe_url is None


@pytest.mark.parametrize("good", ["https://lp.example.com", "http://localhost:8000", "http://127.0.0.1:9/x"])
def test_a_public_address_is_https_or_a_local_one(good):
    assert ApiSettings(public_url=good).public_url == good


@pytest.mark.parametrize(
    "bad",
    [
        "lp.example.com",
        "ftp://lp.example.com",
        "https://lp.example.com/?a=1",
        "https://",
        "http://lp.example.com",
    ],
)
def test_a_public_address_that_is_not_one_is_refused(bad):
    with pytest.raises(ValueError, match="public_url"):
        ApiSettings(public_url=bad)


def test_tokens_name_their_touch_only_with_this_platforms_key():
    key, other = b"k" * 32, b"o" * 32
    token = one_click.token_for(42, key)
    assert one_click.touch_of(token, key) == 42
    assert one_click.touch_of(token, other) is None
    assert one_click.token_for(43, key).split(".")[1] != token.split(".")[1]
