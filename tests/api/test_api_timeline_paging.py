"""Lead and company timelines are paged: a bounded page per request, read from the database with
a bounded number of rows, and the pages together hold every entry exactly once, in order, with the
agency's redaction applied to every page."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from api.conftest import ADMIN_TOKEN
from api.timeline_world import (
    B_SECRET,
    B_SENDER,
    Busy,
    busy_lead,
    expected_company_sources,
    expected_sources,
)
from leadpool.api.routes.companies import _for_agency
from leadpool.api.timelineview import _as_json, _redacted, _visible
from leadpool.db import Database, session_scope
from leadpool.timeline import company_timeline, lead_timeline


@pytest.fixture
def busy(api, db: Database) -> Busy:
    a = api.admin.create_agency("Busy A")
    b = api.admin.create_agency("Busy B")
    world = busy_lead(db, a.id, b.id)
    world.keys = {"a": a.api_key, "b": b.api_key}  # type: ignore[attr-defined]
    return world


def _pages(url: str, path: str, token: str, **params: Any) -> list[dict[str, Any]]:
    """Every page, following next_cursor."""
    pages = []
    cursor = None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        while True:
            r = http.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            page = r.json()
            pages.append(page)
            cursor = page["next_cursor"]
            if cursor is None:
                return pages
            assert len(pages) < 1000


def _same(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["kind"], e["source"], json.dumps(e["detail"], sort_keys=True)) for e in entries]


def test_lead_timeline_pages_hold_every_entry_once_in_order_both_ways(api, db, busy):
    expected = expected_sources(db, busy)
    assert len(expected) > 1300
    with session_scope(db) as s:  # the unpaged call still returns everything, in the same order
        assert [e.source for e in lead_timeline(s, busy.lead_id)] == expected
    path = f"/v1/leads/{busy.lead_id}/timeline"
    for order, want in (("asc", expected), ("desc", expected[::-1])):
        pages = _pages(api.url, path, ADMIN_TOKEN, limit=97, order=order)
        assert all(len(p["entries"]) == 97 for p in pages[:-1]) and 0 < len(pages[-1]["entries"]) <= 97
        got = [e["source"] for p in pages for e in p["entries"]]
        assert got == want
        assert len(set(got)) == len(got)
    # a cursor continues after that very entry, even among many at the same instant
    first = httpx.get(
        api.url + path, params={"limit": 10}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()
    assert len({e["at"] for e in first["entries"]}) == 1  # all ten at one instant
    assert [e["source"] for e in first["entries"]] == expected[:10]


def test_lead_timeline_default_and_bounds(api, db, busy):
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    path = f"{api.url}/v1/leads/{busy.lead_id}/timeline"
    r = httpx.get(path, headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert len(body["entries"]) == 500 and body["next_cursor"]
    assert [e["source"] for e in body["entries"]] == expected_sources(db, busy)[:500]
    for params in ({"limit": 0}, {"limit": 5001}, {"order": "sideways"}, {"cursor": "t1.bm90LWEtY3Vyc29y"}):
        r = httpx.get(path, params=params, headers=auth)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert httpx.get(path, params={"limit": 5000}, headers=auth).status_code == 200


def test_a_page_reads_a_bounded_number_of_rows(api, db, busy):
    """Each source is read with ORDER BY ... LIMIT: no statement returns more than a page (+1)."""
    counts: list[int] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if cursor.description is not None:
            counts.append(cursor.rowcount)

    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    event.listen(db.engine, "after_cursor_execute", on_execute)
    try:
        first = httpx.get(f"{api.url}/v1/leads/{busy.lead_id}/timeline", params={"limit": 40}, headers=auth)
        later = httpx.get(
            f"{api.url}/v1/leads/{busy.lead_id}/timeline",
            params={"limit": 40, "cursor": first.json()["next_cursor"], "order": "asc"},
            headers=auth,
        )
        company = httpx.get(
            f"{api.url}/v1/companies/{busy.company_id}/timeline", params={"limit": 40}, headers=auth
        )
    finally:
        event.remove(db.engine, "after_cursor_execute", on_execute)
    assert first.status_code == later.status_code == company.status_code == 200
    assert len(first.json()["entries"]) == len(later.json()["entries"]) == 40
    assert counts and max(counts) <= 41, sorted(counts)[-5:]


def test_every_page_is_redacted_for_the_agency(api, db, busy):
    keys = busy.keys  # type: ignore[attr-defined]
    with session_scope(db) as s:  # what the agency saw of the whole timeline before paging
        campaigns = set(
            s.scalars(text("SELECT id FROM campaigns WHERE agency_id = :a"), {"a": busy.agency_a})
        )
        assert campaigns == {busy.campaign_a}
        whole = [
            _as_json(_redacted(e, busy.agency_a))
            for e in lead_timeline(s, busy.lead_id)
            if _visible(e, busy.agency_a, campaigns, busy.lead_id)
        ]
    expected = _same(whole)
    assert 500 < len(expected) < len(expected_sources(db, busy))
    for order, want in (("asc", expected), ("desc", expected[::-1])):
        pages = _pages(api.url, f"/v1/leads/{busy.lead_id}/timeline", keys["a"], limit=50, order=order)
        assert all(len(p["entries"]) == 50 for p in pages[:-1])
        assert [x for p in pages for x in _same(p["entries"])] == want
        for p in pages:
            text_ = json.dumps(p)
            assert B_SECRET not in text_ and B_SENDER not in text_
            for e in p["entries"]:
                assert not e["kind"].startswith("audit.")
                assert e["detail"].get("agency_id") in (None, busy.agency_a)
                assert e["detail"].get("campaign_id") in (None, busy.campaign_a)
    # agency B does not hold the lead at all
    r = httpx.get(
        f"{api.url}/v1/leads/{busy.lead_id}/timeline", headers={"Authorization": f"Bearer {keys['b']}"}
    )
    assert r.status_code == 404


def test_company_timeline_pages_for_the_admin_and_the_agency(api, db, busy):
    keys = busy.keys  # type: ignore[attr-defined]
    path = f"/v1/companies/{busy.company_id}/timeline"
    with session_scope(db) as s:
        whole = company_timeline(s, busy.company_id)
        campaigns = set(
            s.scalars(text("SELECT id FROM campaigns WHERE agency_id = :a"), {"a": busy.agency_a})
        )
        seen = [e for e in _for_agency(s, whole, busy.agency_a, campaigns) if e is not None]
    admin_expected = expected_company_sources(db, busy)
    assert [e.source for e in whole] == admin_expected  # unpaged: everything, as before
    assert len(admin_expected) > 900 and len(set(admin_expected)) == len(admin_expected)
    for order, want in (("asc", admin_expected), ("desc", admin_expected[::-1])):
        pages = _pages(api.url, path, ADMIN_TOKEN, limit=123, order=order)
        assert [e["source"] for p in pages for e in p["entries"]] == want

    agency_expected = [(e.kind, e.source, e.detail.get("lead_id")) for e in seen]
    pages = _pages(api.url, path, keys["a"], limit=61)
    got = [(e["kind"], e["source"], e["detail"].get("lead_id")) for p in pages for e in p["entries"]]
    assert got == agency_expected
    for p in pages:
        for e in p["entries"]:
            # the colleague is agency B's: never named; B's touches never shown
            assert e["detail"].get("lead_id") in (None, busy.lead_id)
            if e["kind"] == "touch":
                assert e["detail"]["agency_id"] == busy.agency_a


def test_the_client_reads_a_page_or_follows_the_cursors(api, db, busy):
    expected = expected_sources(db, busy)
    with db.engine.begin() as c:  # more than one page of the largest size
        c.execute(
            text(
                "INSERT INTO decisions (at, lead_id, campaign_id, agency_id, channel, allowed, reasons) "
                "SELECT timestamptz '2025-04-01 00:00:00+00' + g * interval '1 second', :l, :c, :a, "
                "'email', true, '[]'::jsonb FROM generate_series(1, 5200) g"
            ),
            {"l": busy.lead_id, "c": busy.campaign_a, "a": busy.agency_a},
        )
    whole = api.admin.lead_timeline(busy.lead_id)  # no limit: every page, as before paging
    assert len(whole.entries) == len(expected) + 5200 and whole.next_cursor is None
    assert [e.source for e in whole.entries[: len(expected)]] == expected
    page = api.admin.lead_timeline(busy.lead_id, limit=3, order="desc")
    assert len(page.entries) == 3 and page.next_cursor
    nxt = api.admin.lead_timeline(busy.lead_id, limit=3, order="desc", cursor=page.next_cursor)
    assert [e.source for e in page.entries + nxt.entries] == [e.source for e in whole.entries[::-1][:6]]
    company = api.admin.company_timeline(busy.company_id)
    with session_scope(db) as s:
        assert [e.source for e in company.entries] == [e.source for e in company_timeline(s, busy.company_id)]
