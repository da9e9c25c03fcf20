"""The lead page shows the newest entries of a long timeline and links to the older ones: following
the links shows every entry once, newest first, redacted for an agency on every page."""

from __future__ import annotations

import html
import re

import httpx

from api.conftest import ADMIN_TOKEN
from api.timeline_world import B_SECRET, B_SENDER, busy_lead, expected_sources
from leadpool.api.auth import Principal
from leadpool.api.timelineview import timeline_page
from leadpool.dashboard.pages import LEAD_PAGE_TIMELINE
from leadpool.db import session_scope
from leadpool.timeline import lead_timeline

_KIND = re.compile(r'<span class="badge[^"]*">([^<]+)</span>')
_OLDER = re.compile(r'href="(/leads/\d+\?before=[^"#]+)#timeline">Older entries')


def _walk(url: str, token: str, lead_id: int) -> tuple[list[list[str]], list[str]]:
    """The kinds on every page from the newest on, and each page's HTML."""
    kinds: list[list[str]] = []
    pages: list[str] = []
    with httpx.Client(base_url=url) as b:
        assert b.post("/login", data={"token": token, "next": "/"}).status_code == 303
        path: str | None = f"/leads/{lead_id}"
        while path is not None:
            r = b.get(html.unescape(path))
            assert r.status_code == 200, r.text[:300]
            section = r.text.split('id="timeline"', 1)[1].split("<h2>Stored fields", 1)[0]
            kinds.append(_KIND.findall(section))
            pages.append(r.text)
            older = _OLDER.search(section)
            path = older.group(1) if older else None
            assert len(kinds) < 100
    return kinds, pages


def test_the_lead_page_shows_the_newest_and_links_to_older(api, db):
    a, b = api.admin.create_agency("Page A"), api.admin.create_agency("Page B")
    busy = busy_lead(db, a.id, b.id)
    total = len(expected_sources(db, busy))
    with session_scope(db) as s:
        newest_first = [e.kind for e in lead_timeline(s, busy.lead_id, newest_first=True)]
    assert total > 3 * LEAD_PAGE_TIMELINE

    kinds, pages = _walk(api.url, ADMIN_TOKEN, busy.lead_id)
    assert all(len(k) == LEAD_PAGE_TIMELINE for k in kinds[:-1]) and kinds[-1]
    assert [k for page in kinds for k in page] == newest_first  # each entry once, newest first
    assert "Older entries" not in pages[-1] and "Back to the newest" in pages[-1]
    assert "Back to the newest" not in pages[0]

    # agency A: its own rows only, on every page
    with session_scope(db) as s:
        mine = timeline_page(s, busy.lead_id, Principal("agency", a.id), limit=5000, newest_first=True)
    assert mine.next_cursor is None
    kinds, pages = _walk(api.url, a.api_key, busy.lead_id)
    assert [k for page in kinds for k in page] == [e["kind"] for e in mine.entries]
    assert len(kinds) > 1
    for page in pages:
        assert B_SECRET not in page and B_SENDER not in page and "audit." not in page

    # a hand-edited link starts again from the newest
    with httpx.Client(base_url=api.url) as browser:
        browser.post("/login", data={"token": ADMIN_TOKEN, "next": "/"})
        r = browser.get(f"/leads/{busy.lead_id}", params={"before": "not-a-cursor"})
        assert r.status_code == 200 and len(_KIND.findall(r.text)) == LEAD_PAGE_TIMELINE
