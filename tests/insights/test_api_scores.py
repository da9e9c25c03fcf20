"""``GET /v1/insights/leads/{id}/scores``: a lead's scores with the model version, under tenancy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.allocation.factories import make_company, make_leads
from typer.testing import CliRunner

from insights.factrows import add_facts
from leadpool.api.app import create_app
from leadpool.api.auth import hash_key
from leadpool.api.settings import ApiSettings
from leadpool.cli import app
from leadpool.config import Settings
from leadpool.db import session_scope
from leadpool.insights import score

ADMIN = "insights-admin-token-0123456789"


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    app = create_app(Settings(), db=db, api_settings=ApiSettings(admin_token=ADMIN), migrate=False)
    with TestClient(app) as c:
        yield c


def test_lead_scores_for_owner_and_admin_only(db, client):
    with session_scope(db) as s:
        for a in (101, 102, 103):
            add_facts(s, 100, replies=10, positives=5, agency_id=a, industry="construction")
        co = make_company(s)
        (lead,) = make_leads(s, 1, company_id=co)
        for i in (1, 2):
            s.execute(
                text("INSERT INTO agencies (id, name, status, api_key_hash) VALUES (:i, :n, 'active', :h)"),
                {"i": i, "n": f"agency {i}", "h": hash_key(f"lpa_scores_{i}")},
            )
        s.execute(text("INSERT INTO ownerships (lead_id, agency_id) VALUES (:l, 1)"), {"l": lead})
        version = score.score_leads(s).model_version
    r = client.get(f"/v1/insights/leads/{lead}/scores", headers={"Authorization": "Bearer lpa_scores_1"})
    assert r.status_code == 200, r.text
    (email,) = r.json()
    assert email["channel"] == "email" and email["model_version"] == version and 0 < email["score"] < 1
    r = client.get(f"/v1/insights/leads/{lead}/scores", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200 and r.json() == [email]
    # another agency: the same 404 as a lead that does not exist
    other = client.get(f"/v1/insights/leads/{lead}/scores", headers={"Authorization": "Bearer lpa_scores_2"})
    missing = client.get("/v1/insights/leads/999999/scores", headers={"Authorization": "Bearer lpa_scores_2"})
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"].replace(str(lead), "X") == missing.json()["detail"].replace("999999", "X")


def test_score_is_shown_with_the_lead(db, client, env):
    with session_scope(db) as s:
        for a in (101, 102, 103):
            add_facts(s, 100, replies=10, positives=5, agency_id=a, industry="construction")
        co = make_company(s)
        (lead,) = make_leads(s, 1, company_id=co)
        version = score.score_leads(s).model_version
    r = client.get(f"/v1/leads/{lead}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200, r.text
    (shown,) = r.json()["scores"]
    assert shown["channel"] == "email" and shown["model_version"] == version and 0 < shown["score"] < 1
    client.post("/login", data={"token": ADMIN})
    page = client.get(f"/leads/{lead}", follow_redirects=True)
    assert page.status_code == 200 and "expected positive-reply probability" in page.text
    res = CliRunner().invoke(app, ["leads", "show", str(lead), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["scores"][0]["model_version"] == version
