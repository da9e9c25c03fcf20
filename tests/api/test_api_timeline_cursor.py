"""A timeline's ``next_cursor`` tells an agency nothing about entries hidden from it: a full page
continues after the last entry shown, and every cursor is sealed (encrypted and authenticated with
a key derived from the platform secret key), so one that resumes past hidden entries does not show
where they are, and one the service did not issue is refused."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN

from api.conftest import ADMIN_TOKEN
from api.world import MONDAY
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import check, confirm_sent
from leadpool.timeline import _RANK, SCAN_BUDGET, Position, TimelineEntry, visible_page


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _position(entry: dict[str, Any]) -> Position:
    table, _, row_id = entry["source"].partition(":")
    return Position(datetime.fromisoformat(entry["at"]), _RANK[table], int(row_id))


def _readable(p: Position) -> list[bytes]:
    """Forms a position could take in a plain cursor: the old ``micros.rank.id`` text, the instant."""
    delta = p.at - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return [f"{micros}.{p.rank}.{p.row_id}".encode(), str(micros).encode()]


def _reveals(cursor: str, p: Position) -> bool:
    """Whether base64-decoding the cursor (after its prefix) shows the position in plain text."""
    body = cursor.partition(".")[2]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return False
    return any(form in raw for form in _readable(p)) or p.row_id.to_bytes(8, "big") in raw


def test_a_lead_timeline_cursor_continues_after_the_last_entry_shown_and_hides_the_rest(api, world):
    """B's check of A's lead (a decision of agency B) is hidden from A: A's full page ends before
    it, and its cursor is the last entry A was shown, sealed; the next page goes on after it."""
    w = world
    lead = w.alloc_a.allocated[0]
    # A checks its lead, then B probes it, then A checks again (dry runs: no caps involved)
    w.ca.check(lead, w.camp_a.id, "linkedin", at=MONDAY, reserve=False)
    w.cb.check(lead, w.camp_b.id, "linkedin", at=MONDAY + timedelta(hours=1), reserve=False)
    w.ca.check(lead, w.camp_a.id, "linkedin", at=MONDAY + timedelta(hours=2), reserve=False)

    path = f"{api.url}/v1/leads/{lead}/timeline"
    full = httpx.get(path, params={"limit": 5000}, headers=_auth(ADMIN_TOKEN)).json()["entries"]
    hidden = [e for e in full if e["kind"] == "decision" and e["detail"]["agency_id"] == w.b.id]
    assert len(hidden) == 1
    secret = _position(hidden[0])

    visible = httpx.get(path, params={"limit": 5000}, headers=_auth(w.a.api_key)).json()["entries"]
    assert all(_position(e) != secret for e in visible)  # the entry itself is hidden
    before = [e for e in visible if _position(e) < secret]
    assert before and len(before) < len(visible)
    page = httpx.get(path, params={"limit": len(before)}, headers=_auth(w.a.api_key)).json()
    assert page["entries"] == before
    cursor = page["next_cursor"]
    assert cursor and cursor.startswith("t2.") and len(cursor) <= 100
    assert not _reveals(cursor, secret) and not _reveals(cursor, _position(before[-1]))
    # sealed with the platform secret: the service reads back the last entry shown, not B's check
    mine = f"lead:{lead}:asc:agency:{w.a.id}"  # bound to the timeline, order and caller
    assert Position.from_cursor(cursor, context=mine) == _position(before[-1])

    rest = httpx.get(path, params={"limit": 5000, "cursor": cursor}, headers=_auth(w.a.api_key))
    assert rest.status_code == 200, rest.text
    assert rest.json()["entries"] == visible[len(before) :] and rest.json()["next_cursor"] is None
    # newest first the same way
    desc = httpx.get(path, params={"limit": 1, "order": "desc"}, headers=_auth(w.a.api_key)).json()
    assert desc["entries"] == visible[-1:]
    newest = f"lead:{lead}:desc:agency:{w.a.id}"
    assert Position.from_cursor(desc["next_cursor"], context=newest) == _position(visible[-1])
    older = httpx.get(
        path,
        params={"limit": 5000, "order": "desc", "cursor": desc["next_cursor"]},
        headers=_auth(w.a.api_key),
    ).json()
    assert older["entries"] == visible[-2::-1]


def test_a_company_timeline_cursor_does_not_point_at_another_agencys_touch(api, db: Database):
    a = api.admin.create_agency("Cursor A")
    b = api.admin.create_agency("Cursor B")
    with session_scope(db) as s:
        company = f.company(s)
        ca, cb = f.campaign(s, a.id), f.campaign(s, b.id)
        for n, (agency, campaign) in enumerate(((a.id, ca), (b.id, cb), (a.id, ca))):
            lid = f.lead(s, company_id=company)
            f.own(s, lid, agency)
            f.enroll(s, lid, campaign, agency)
            at = MONDAY_OPEN + timedelta(days=n)
            d = check(s, lead_id=lid, campaign_id=campaign, channel="linkedin", at=at)
            assert d.touch_id is not None, d.reasons
            confirm_sent(s, d.touch_id, f"m-{d.touch_id}", at=at)
    path = f"{api.url}/v1/companies/{company}/timeline"
    full = httpx.get(path, params={"limit": 5000}, headers=_auth(ADMIN_TOKEN)).json()["entries"]
    touches = [e for e in full if e["kind"] == "touch"]
    assert [e["detail"]["agency_id"] for e in touches] == [a.id, b.id, a.id]
    secret = _position(touches[1])

    mine = httpx.get(path, params={"limit": 5000}, headers=_auth(a.api_key)).json()["entries"]
    assert [e["detail"]["agency_id"] for e in mine if e["kind"] == "touch"] == [a.id, a.id]
    page = httpx.get(path, params={"limit": 1}, headers=_auth(a.api_key)).json()
    assert page["entries"] == mine[:1] and _position(mine[0]) < secret
    cursor = page["next_cursor"]
    assert cursor and not _reveals(cursor, secret) and not _reveals(cursor, _position(mine[0]))
    assert Position.from_cursor(cursor, context=f"company:{company}:asc:agency:{a.id}") == _position(mine[0])
    rest = httpx.get(path, params={"limit": 5000, "cursor": cursor}, headers=_auth(a.api_key)).json()
    assert rest["entries"] == mine[1:] and rest["next_cursor"] is None


def test_a_tampered_or_foreign_cursor_is_refused_by_the_api(api, world):
    w = world
    lead = w.alloc_a.allocated[0]
    path = f"{api.url}/v1/leads/{lead}/timeline"
    cursor = httpx.get(path, params={"limit": 1}, headers=_auth(ADMIN_TOKEN)).json()["next_cursor"]
    assert cursor
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    old = "t1." + base64.urlsafe_b64encode(b"1772463600000000.0.1").decode().rstrip("=")
    context = f"lead:{lead}:asc:admin"
    foreign = Position.from_cursor(cursor, context=context).cursor(
        b"another platform's secret key", context=context
    )
    for bad in (flipped, cursor[:-4], old, foreign):
        r = httpx.get(path, params={"cursor": bad}, headers=_auth(ADMIN_TOKEN))
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert "is not a timeline cursor" in r.json()["detail"], r.json()


# units: the cursor itself, and where a page resumes

KEY = b"a platform secret key for cursors"
AT = datetime(2026, 3, 2, 15, 0, 0, 123456, tzinfo=UTC)


def test_a_cursor_round_trips_and_is_sealed() -> None:
    for p in (
        Position(AT, 2, 12345),
        Position(datetime(1, 1, 1, tzinfo=UTC), 6, 2**63 - 1),
        Position(AT, 0, 0),
    ):
        c = p.cursor(KEY)
        assert Position.from_cursor(c, KEY) == p
        assert c.startswith("t2.") and len(c) <= 100
        assert c[3:].replace("-", "").replace("_", "").isalnum()  # URL-safe as it is
        assert not _reveals(c, p)
    # a fresh nonce each time: two cursors of one position differ
    assert Position(AT, 2, 1).cursor(KEY) != Position(AT, 2, 1).cursor(KEY)


def test_a_tampered_cursor_is_refused() -> None:
    c = Position(AT, 2, 12345).cursor(KEY)
    body = c[3:]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tampered = [
        "t2." + body[:i] + alphabet[(alphabet.index(ch) + 1) % 64] + body[i + 1 :]
        for i, ch in enumerate(body)
    ]
    old = "t1." + base64.urlsafe_b64encode(b"1772463600123456.2.12345").decode().rstrip("=")
    others = [
        c[:-1],  # truncated
        c[:-4],
        c + "A",
        c + "AAAA",  # longer
        "t1." + body,  # another version's prefix
        "t3." + body,
        old,  # an unsealed cursor from before the upgrade
        "t2." + body[:20] + "+" + body[21:],  # not URL-safe base64
        "t2." + body[:20] + "=" + body[21:],
        "t2.",
        "",
        "not a cursor",
    ]
    for bad in [*tampered, *others]:
        with pytest.raises(InvalidInput, match="is not a timeline cursor"):
            Position.from_cursor(bad, KEY)
    with pytest.raises(InvalidInput, match="is not a timeline cursor"):  # sealed under another secret
        Position.from_cursor(c, b"another platform secret key")


def _entries(n: int) -> list[TimelineEntry]:
    return [
        TimelineEntry(AT + timedelta(seconds=i), "decision", {"i": i}, f"decisions:{i + 1}") for i in range(n)
    ]


def _fetch(all_entries: list[TimelineEntry]):
    def fetch(limit: int | None, after: Position | None, newest_first: bool) -> list[TimelineEntry]:
        assert not newest_first
        beyond = [e for e in all_entries if after is None or e.position > after]
        return beyond if limit is None else beyond[:limit]

    return fetch


def test_a_full_page_resumes_after_the_last_entry_shown() -> None:
    entries = _entries(30)
    shown_ids = {1, 2, 3, 20, 25}  # rows 4..19 hidden between the third and the fourth shown

    def view(batch):
        return [e if int(e.source.split(":")[1]) in shown_ids else None for e in batch]

    page, after = visible_page(_fetch(entries), limit=3, after=None, newest_first=False, view=view)
    assert [e.source for e in page] == ["decisions:1", "decisions:2", "decisions:3"]
    assert after == entries[2].position  # not row 19, the hidden row read last
    page, after = visible_page(_fetch(entries), limit=3, after=after, newest_first=False, view=view)
    assert [e.source for e in page] == ["decisions:20", "decisions:25"] and after is None


def test_a_page_cut_by_the_scan_budget_resumes_past_hidden_rows_behind_a_sealed_cursor() -> None:
    entries = _entries(40)

    def view(batch):
        return [e if int(e.source.split(":")[1]) in (1, 40) else None for e in batch]

    page, after = visible_page(
        _fetch(entries), limit=5, after=None, newest_first=False, view=view, scan_budget=10
    )
    assert [e.source for e in page] == ["decisions:1"]
    assert after is not None and after == entries[9].position  # a hidden row: past what was scanned
    cursor = after.cursor(KEY)
    assert not _reveals(cursor, after)
    assert Position.from_cursor(cursor, KEY) == after
    page, after = visible_page(
        _fetch(entries), limit=5, after=after, newest_first=False, view=view, scan_budget=100
    )
    assert [e.source for e in page] == ["decisions:40"] and after is None


def test_a_cursor_is_refused_on_another_timeline_order_or_caller(api, world, db):
    """Agency A's lead L carries many checks of agency B (B held it before): A's first page is cut
    short by the scan budget and its cursor is the position of B's last check read, sealed. A
    cannot decrypt it, but the service accepts it on ANY timeline: replayed on A's own lead M,
    whose checks A placed an hour apart, the page starts at the first of A's checks after B's
    hidden check, which tells A when B checked its lead (to the hour, or closer with denser
    probes). So a cursor is bound to the timeline, the order and the caller it was issued for."""
    w = world
    lead_l, lead_m = w.alloc_a.allocated[0], w.alloc_a.allocated[1]
    hidden_at = MONDAY + timedelta(minutes=150)  # B's checks: 2h30 after Monday 15:00
    with session_scope(db) as s:
        s.execute(
            text(
                "INSERT INTO decisions (at, lead_id, campaign_id, agency_id, channel, sender, allowed, reasons) "
                "SELECT CAST(:at AS timestamptz) + make_interval(secs => g / 1000000.0), :l, :c, :a, "
                "'linkedin', NULL, false, '[]'::jsonb FROM generate_series(1, :n) AS g"
            ),
            {"at": hidden_at, "l": lead_l, "c": w.camp_b.id, "a": w.b.id, "n": SCAN_BUDGET + 10},
        )
    for h in range(6):  # A's own probes on its other lead, an hour apart
        w.ca.check(lead_m, w.camp_a.id, "linkedin", at=MONDAY + timedelta(hours=h), reserve=False)

    auth = {"Authorization": f"Bearer {w.a.api_key}"}
    first = httpx.get(f"{api.url}/v1/leads/{lead_l}/timeline", params={"limit": 5}, headers=auth).json()
    assert first["entries"] == [] and first["next_cursor"]  # cut short: a cursor past B's checks

    probe = httpx.get(
        f"{api.url}/v1/leads/{lead_m}/timeline",
        params={"limit": 1, "cursor": first["next_cursor"]},
        headers=auth,
    )
    if probe.status_code == 200 and probe.json()["entries"]:
        shown = probe.json()["entries"][0]["at"]
        pytest.fail(
            f"a cursor of lead {lead_l}'s timeline was accepted on lead {lead_m}'s: its first entry "
            f"({shown}) is A's first probe after B's hidden checks at {hidden_at.isoformat()}"
        )
    assert probe.status_code == 422, probe.text
    for params, headers in (
        ({"limit": 1, "cursor": first["next_cursor"], "order": "desc"}, auth),  # another order
        ({"limit": 1, "cursor": first["next_cursor"]}, {"Authorization": f"Bearer {ADMIN_TOKEN}"}),
    ):
        other = httpx.get(f"{api.url}/v1/leads/{lead_l}/timeline", params=params, headers=headers)
        assert other.status_code == 422 and "not a timeline cursor" in other.text, other.text
    again = httpx.get(
        f"{api.url}/v1/leads/{lead_l}/timeline",
        params={"limit": 5, "cursor": first["next_cursor"]},
        headers=auth,
    )
    assert again.status_code == 200  # its own timeline, order and caller: it goes on
