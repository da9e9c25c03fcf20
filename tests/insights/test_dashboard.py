"""The dashboard's insights page, as the admin and as an agency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from leadpool.api.app import create_app
from leadpool.api.auth import hash_key
from leadpool.api.settings import ApiSettings
from leadpool.config import Settings
from leadpool.db import session_scope
from leadpool.insights import facts, history

ADMIN = "insights-admin-token-0123456789"


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    app = create_app(Settings(), db=db, api_settings=ApiSettings(admin_token=ADMIN), migrate=False)
    with TestClient(app) as c:
        yield c


def _login(client: TestClient, token: str) -> None:
    r = client.post("/login", data={"token": token, "next": "/insights"}, follow_redirects=False)
    assert r.status_code == 303


def test_insights_page_for_admin_and_agency(db, client):
    with session_scope(db) as s:
        history.generate_history(s, seed=8, leads=600, start=datetime(2026, 1, 5, tzinfo=UTC), days=30)
        facts.refresh_facts(s)
        s.execute(
            text(
                "INSERT INTO agencies (id, name, status, api_key_hash) VALUES (77, 'Seventy-seven', 'active', :h)"
            ),
            {"h": hash_key("lpa_dash_key")},
        )
    assert client.get("/insights", follow_redirects=False).status_code == 303  # sign in first
    _login(client, ADMIN)
    page = client.get("/insights")
    assert page.status_code == 200
    html = page.text
    assert "Platform: bounce rate by email_status" in html and "Platform: reply rate by local hour" in html
    assert "<circle" in html and "guessed" in html
    assert "Your agency" not in html
    client.post("/logout")
    _login(client, "lpa_dash_key")
    html = client.get("/insights").text
    assert "Your agency: bounce rate by email_status" in html
    assert "Platform (privacy-safe): reply rate by local hour" in html
    # the agency has no outcomes of its own, and 600 simulated leads over four agencies leave
    # few cells that pass the thresholds: nothing thin is drawn
    assert "Platform: bounce" not in html
