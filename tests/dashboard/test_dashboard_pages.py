"""Dashboard over plain HTTP: sign-in, the token cookie, tenancy, and every page rendering."""

from __future__ import annotations

import html

import httpx
import pytest

from api.conftest import ADMIN_TOKEN
from dashboard.scenes import busy_world


@pytest.fixture
def world(api):
    w = busy_world(api.admin, api.url)
    yield w
    w.close()


def _browser(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=False)


def test_pages_need_sign_in_by_the_form_and_the_token_moves_to_an_httponly_cookie(api, world):
    with _browser(api.url) as b:
        r = b.get("/agencies")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/agencies"
        # a token in a link signs nobody in (login CSRF; it would be logged in the URL too)
        r = b.get(f"/campaigns?token={ADMIN_TOKEN}&x=1")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/campaigns"
        assert "set-cookie" not in r.headers
        r = b.post("/login", data={"token": ADMIN_TOKEN, "next": "/campaigns?x=1"})
        assert r.status_code == 303 and r.headers["location"] == "/campaigns?x=1"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("samesite", "SameSite")
        r = b.get("/campaigns")
        assert r.status_code == 200 and "A construction" in r.text and "B construction" in r.text
        assert ADMIN_TOKEN not in r.text


def test_login_form_and_wrong_token(api, world):
    with _browser(api.url) as b:
        r = b.post("/login", data={"token": "nope", "next": "/jobs"})
        assert r.status_code == 401 and "not valid" in r.text
        r = b.post("/login", data={"token": world.a.api_key, "next": "https://evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert b.get("/").status_code == 200
        r = b.post("/logout")
        assert r.status_code == 303
        b.cookies.clear()
        assert b.get("/").status_code == 303


def test_every_page_renders_for_the_admin(api, world):
    lead = world.alloc_a.allocated[0]
    with _browser(api.url) as b:
        b.post("/login", data={"token": ADMIN_TOKEN})
        overview = b.get("/").text
        for text in (
            "leads in the pool",
            "Leads by industry",
            "Suppressions by kind",
            "Decisions per day",
            "<svg",
        ):
            assert text in overview
        agencies = b.get("/agencies").text
        assert "Agency A" in agencies and "Agency B" in agencies and "bounce rate" in agencies
        campaign = b.get(f"/campaigns/{world.camp_a.id}").text
        assert "email_statuses" in campaign and f"/leads/{lead}" in campaign
        page = html.unescape(b.get(f"/leads/{lead}").text)
        for text in (
            "Timeline",
            "decision",
            "reply",
            "Stored fields",
            "Raw Apollo payloads",
            "employment_history",
        ):
            assert text in page
        # a large payload (the 60-person import) shows this person's object, with its size
        assert "bytes; this person's object from it" in page
        assert b.get("/jobs").status_code == 200


def test_an_agency_sees_only_its_own(api, world):
    a_lead, b_lead = world.alloc_a.allocated[0], world.alloc_b.allocated[0]
    with _browser(api.url) as b:
        b.post("/login", data={"token": world.a.api_key})
        overview = b.get("/").text
        assert "leads you own" in overview and "leads in the pool" not in overview
        agencies = b.get("/agencies").text
        assert "Agency A" in agencies and "Agency B" not in agencies
        campaigns = b.get("/campaigns").text
        assert "A construction" in campaigns and "B construction" not in campaigns
        for path in (f"/campaigns/{world.camp_b.id}", f"/leads/{b_lead}"):
            r = b.get(path)
            assert r.status_code == 404 and "not found" in r.text
        page = html.unescape(b.get(f"/leads/{a_lead}").text)
        assert "Timeline" in page and '"people"' not in page  # only this person's object
        assert "bytes; this person's object" not in page  # and no hint of the whole payload
        assert "campaign " + str(world.camp_b.id) not in page


def test_a_campaign_page_shows_a_lead_its_agency_no_longer_holds_by_id_only(api, world):
    released = world.alloc_a.allocated[0]
    email = api.admin.get_lead(released).fields["email"]
    r = httpx.post(
        f"{api.url}/v1/agencies/{world.a.id}/cancel", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert r.status_code == 200, r.text
    with _browser(api.url) as b:
        b.post("/login", data={"token": world.a.api_key})
        page = html.unescape(b.get(f"/campaigns/{world.camp_a.id}").text)
        assert f"#{released}" in page and "(no longer held)" in page
        assert email not in page and f"/leads/{released}" not in page
    with _browser(api.url) as b:
        b.post("/login", data={"token": ADMIN_TOKEN})
        assert email in html.unescape(b.get(f"/campaigns/{world.camp_a.id}").text)


def test_sign_in_and_out_only_from_this_site(api, world):
    with _browser(api.url) as b:
        evil = {"Origin": "https://evil.example"}
        r = b.post("/login", data={"token": ADMIN_TOKEN}, headers=evil)
        assert r.status_code == 403 and "set-cookie" not in r.headers
        r = b.post("/login", data={"token": ADMIN_TOKEN}, headers={"Referer": "https://evil.example/x"})
        assert r.status_code == 403
        ok = b.post("/login", data={"token": ADMIN_TOKEN}, headers={"Origin": api.url})
        assert ok.status_code == 303 and "leadpool_session=" in ok.headers["set-cookie"]
        assert b.post("/logout", headers=evil).status_code == 403
        assert b.get("/").status_code == 200  # still signed in
        assert b.post("/logout", headers={"Origin": api.url}).status_code == 303


def test_guessing_tokens_is_throttled(api, world):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with _browser(api.url) as b:
        unused = b.post("/v1/agencies", json={"name": "Never signed in"}, headers=admin).json()["api_key"]
        # a key that signed in from this address before the guessing began
        known = {"Authorization": f"Bearer {world.b.api_key}"}
        assert b.get("/v1/leads/999999", headers=known).status_code == 404
        codes = [b.post("/login", data={"token": f"guess-{i}"}).status_code for i in range(25)]
        assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
        r = b.post("/login", data={"token": unused})  # a right token not used from here waits too
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        api_call = b.get("/v1/agencies", headers={"Authorization": f"Bearer {unused}"})
        assert api_call.status_code == 429 and "retry-after" in api_call.headers
        assert b.get("/v1/agencies", headers={"Authorization": "Bearer guess-api"}).status_code == 429
        # ...but keys already used from here are not locked out by a neighbour's guessing
        assert b.get("/v1/leads/999999", headers=known).status_code == 404
        assert b.post("/login", data={"token": world.b.api_key}).status_code == 303
        # except a short chosen admin token (these tests' has 27 characters): passing, it would tell
        # a guesser behind the same address that it had guessed right
        assert b.get("/v1/agencies", headers=admin).status_code == 429


def test_the_session_cookie_holds_no_token_and_ends_when_the_key_is_rotated(api, world):
    """The cookie held the raw API key for 12 hours: a leaked cookie was a leaked API key, and a
    rotated key left the old sessions signed in until then."""
    with _browser(api.url) as b:
        r = b.post("/login", data={"token": world.a.api_key})
        assert r.status_code == 303
        value = b.cookies["leadpool_session"]
        assert world.a.api_key not in value and world.a.api_key not in r.headers["set-cookie"]
        assert b.get("/").status_code == 200
        # the cookie is not a bearer token for the API
        assert (
            httpx.get(f"{api.url}/v1/campaigns", headers={"Authorization": f"Bearer {value}"}).status_code
            == 401
        )
        # a cookie edited to name another agency, or the admin, is refused
        encoded, _, signature = value.partition(".")
        for forged in (f"{encoded}x.{signature}", f"{encoded}.{'0' * len(signature)}", "garbage", ""):
            b.cookies.set("leadpool_session", forged)
            assert b.get("/").status_code == 303, forged
        b.cookies.set("leadpool_session", value)
        assert b.get("/").status_code == 200
        api.admin.rotate_agency_key(world.a.id)
        assert b.get("/").status_code == 303  # signed out by the rotation


def test_the_old_token_cookie_is_deleted_when_the_browser_shows_it(api, world):
    """Earlier releases kept the API key itself in `leadpool_token`: it signs nobody in, and the
    first answer to a browser still holding it deletes it."""
    with _browser(api.url) as b:
        b.cookies.set("leadpool_token", ADMIN_TOKEN)
        r = b.get("/agencies")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert 'leadpool_token=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]


def test_the_overview_shows_the_paused_senders_each_may_see(api, world, db):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from api.world import MONDAY
    from leadpool.db import session_scope
    from leadpool.models import SenderPause

    now = datetime.now(UTC)
    # three of agency A's sends from li-0 refused by policy
    with session_scope(db) as s:
        sends = s.execute(
            text(
                "SELECT lead_id, provider_message_id FROM touches WHERE agency_id = :a AND sender = 'li-0' "
                "AND state = 'sent' ORDER BY id LIMIT 3"
            ),
            {"a": world.a.id},
        ).all()
    assert len(sends) == 3
    for i, (lead, mid) in enumerate(sends):
        effects = world.ca.record_event(
            {
                "type": "sender_block",
                "lead_id": lead,
                "channel": "linkedin",
                "provider_message_id": mid,
                "occurred_at": (now - timedelta(minutes=5 - i)).isoformat(),
                "source": "engine-a",
                "provider_event_id": f"block-{i}",
            }
        ).effects
    assert "sender:paused_block_guard" in effects
    with session_scope(db) as s:
        s.add(
            SenderPause(
                sender="email:x@elsewhere.example",
                reason="sender_bounce_guard",
                paused_at=MONDAY,
                detail={"sends": 60, "hard_bounces": 2},
            )
        )
        s.add(
            SenderPause(
                sender="email:y@elsewhere.example",
                reason="sender_complaint_guard",
                paused_at=MONDAY,
                detail={"sends": 300, "complaints": 2},
            )
        )
    with _browser(api.url) as b:
        b.post("/login", data={"token": world.a.api_key})
        page = b.get("/").text
    assert "Paused senders" in page and "linkedin:li-" in page and "blocks 3" in page
    assert "elsewhere.example" not in page  # not caused by a send of theirs
    with _browser(api.url) as b:
        b.post("/login", data={"token": world.b.api_key})
        assert "Paused senders" not in b.get("/").text  # B sent from li-0 too, but A's sends were refused
    with _browser(api.url) as b:
        b.post("/login", data={"token": ADMIN_TOKEN})
        page = b.get("/").text
    assert "email:x@elsewhere.example" in page and "until resumed" in page and "hard bounces 2" in page
    row = page[page.index("email:y@elsewhere.example") :].split("</tr>")[0]
    assert "spam complaints" in row and "complaints 2" in row and "policy blocks" not in row


def test_dashboard_pages_are_neither_kept_in_caches_nor_framed_by_other_sites(api, world):
    """Every page showed people's data with no Cache-Control: after signing out on a shared machine
    the Back button (or a proxy's cache) still showed the last lead's page. Nor did a page forbid
    framing, sniffing or scripts, as the unsubscribe page does."""
    lead = world.alloc_a.allocated[0]
    with _browser(api.url) as b:
        pages = [b.get("/login")]
        b.post("/login", data={"token": world.a.api_key})
        for path in (
            "/",
            f"/leads/{lead}",
            f"/campaigns/{world.camp_a.id}",
            "/insights",
            f"/leads/{lead + 10**6}",
        ):
            pages.append(b.get(path))
        assert [r.status_code for r in pages] == [200, 200, 200, 200, 200, 404]
        for r in pages:
            where = r.request.url.path
            assert "no-store" in r.headers.get("cache-control", ""), where
            assert r.headers.get("x-frame-options") == "DENY", where
            assert r.headers.get("x-content-type-options") == "nosniff", where
            csp = r.headers.get("content-security-policy", "")
            assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, where
            # a sign-in's Origin must still name this site (no-referrer would make it "null")
            assert r.headers.get("referrer-policy") == "same-origin", where
        assert b.post("/logout", headers={"Origin": api.url}).status_code == 303
