"""LEADPOOL_API_STATEMENT_TIMEOUT_SECONDS: a request stuck behind a lock held elsewhere is cancelled
by the server and answered 503 (a gate check: deny gate_error), instead of holding its connection
and its client for as long as the lock's holder likes; nothing of it is stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from api.world import MONDAY, World, build_world
from leadpool.api.app import create_app
from leadpool.api.server import LiveServer, serve_in_thread
from leadpool.api.settings import ApiSettings
from leadpool.apollo.generate import generate_people
from leadpool.client import LeadpoolClient
from leadpool.config import get_settings
from leadpool.db import Database
from leadpool.ingestion.lock import IMPORT_LOCK_KEY

ADMIN = "statement-timeout-admin-token-0"


@pytest.fixture
def own_app(db: Database) -> Iterator[LiveServer]:
    """An app that opens the configured (test) database itself, as ``leadpool serve`` does."""
    app = create_app(api_settings=ApiSettings(admin_token=ADMIN, api_statement_timeout_seconds=1))
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def world(own_app: LiveServer) -> Iterator[World]:
    admin = LeadpoolClient(own_app.url, ADMIN)
    w = build_world(admin, own_app.url)
    yield w
    w.close()
    admin.close()


def _holding(db: Database, table: str) -> Iterator[None]:
    with db.engine.connect() as conn:
        conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        yield
        conn.rollback()


def test_a_request_waiting_on_a_lock_is_cancelled_and_answered_503(db, own_app, world):
    url = f"{own_app.url}/v1/campaigns/{world.camp_a.id}/pause"
    headers = {"Authorization": f"Bearer {world.a.api_key}"}
    lock = _holding(db, "campaigns")
    next(lock)
    try:
        started = time.monotonic()
        r = httpx.post(url, headers=headers, timeout=30)
        waited = time.monotonic() - started
    finally:
        next(lock, None)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    body = r.json()
    assert body["type"] == "urn:leadpool:problem:statement-timeout"
    assert "LEADPOOL_API_STATEMENT_TIMEOUT_SECONDS" in body["detail"]
    assert waited < 25  # cancelled by the server, not by the client giving up
    with db.engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM campaigns WHERE id = :id"), {"id": world.camp_a.id})
        assert status.scalar_one() == "active"
    # the connection went back to the pool in working order: the same request now succeeds
    assert world.ca.pause_campaign(world.camp_a.id).status == "paused"


def test_a_gate_check_waiting_on_a_lock_fails_closed(db, own_app, world):
    lead = world.alloc_a.allocated[0]
    lock = _holding(db, "touches")
    next(lock)
    try:
        r = httpx.post(
            f"{own_app.url}/v1/sends/check",
            headers={"Authorization": f"Bearer {world.a.api_key}"},
            json={
                "lead_id": lead,
                "campaign_id": world.camp_a.id,
                "channel": "linkedin",
                "at": MONDAY.isoformat(),
            },
            timeout=30,
        )
    finally:
        next(lock, None)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    body = r.json()
    assert body["decision"] == "deny" and [x["code"] for x in body["reasons"]] == ["gate_error"]
    with db.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM touches WHERE lead_id = :l"), {"l": lead}).scalar_one()
            == 0
        )
    # once the lock is gone the same check is decided
    d = world.ca.check(lead, world.camp_a.id, "linkedin", at=MONDAY)
    assert d.decision == "allow", d


def test_a_lost_lock_wait_is_answered_busy_not_unreachable(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that loses a lock wait (here the operator's ``lock_timeout`` in the database URL;
    a deadlock's victim alike) is 503 with Retry-After and a problem type saying the database is
    busy: it was reached (not ``database-unavailable``), and the answer names no value."""
    sep = "&" if "?" in db.uri else "?"
    monkeypatch.setenv("LEADPOOL_DATABASE_URL", f"{db.uri}{sep}options=-c%20lock_timeout%3D300")
    get_settings.cache_clear()
    app = create_app(api_settings=ApiSettings(admin_token=ADMIN))
    with serve_in_thread(app) as server:
        lock = _holding(db, "agencies")
        next(lock)
        try:
            r = httpx.get(
                f"{server.url}/v1/agencies", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
            )
        finally:
            next(lock, None)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        body = r.json()
        assert body["type"] == "urn:leadpool:problem:database-busy", body
        assert "busy (lock timeout)" in body["detail"] and "cannot be reached" not in body["detail"], body
        # the lock gone, the same request is served
        assert (
            httpx.get(f"{server.url}/v1/agencies", headers={"Authorization": f"Bearer {ADMIN}"}).status_code
            == 200
        )


def test_the_limit_is_a_setting_checked_at_start():
    with pytest.raises(ValueError, match="api_statement_timeout_seconds"):
        ApiSettings(admin_token=ADMIN, api_statement_timeout_seconds=-1)


def test_an_import_waiting_past_the_timeout_on_the_import_lock_is_a_503(
    db: Database, own_app: LiveServer
) -> None:
    """The importer runs on a psycopg connection of its own: its statement cancelled while it
    waited for the import lock (an erasure or another import holds it) was psycopg's own error,
    which no database handler knew: 500 Internal error, no Retry-After."""
    body = json.dumps({"people": list(generate_people(2, 11, duplicate_rate=0.0))})
    with db.engine.connect() as holder:
        # an erasure (or another import batch) holds the import lock for longer than the timeout
        holder.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": IMPORT_LOCK_KEY})
        r = httpx.post(
            f"{own_app.url}/v1/leads/import",
            content=body,
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
            timeout=30,
        )
        holder.rollback()
    assert r.status_code == 503 and "Retry-After" in r.headers, (r.status_code, r.text[:300])
