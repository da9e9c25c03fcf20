"""``GET /v1/campaigns/{id}/suggestions``: best local send hour and weekday for the campaign's
segment; an agency's platform figures come only from privacy-safe cells; tenancy 404s."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.allocation.factories import make_campaign
from typer.testing import CliRunner

from insights.factrows import add_facts
from leadpool.api.app import create_app
from leadpool.api.auth import hash_key
from leadpool.api.settings import ApiSettings
from leadpool.cli import app
from leadpool.config import Settings
from leadpool.db import session_scope
from leadpool.insights.suggest import campaign_segment

ADMIN = "suggest-admin-token-0123456789"
runner = CliRunner()


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    app = create_app(Settings(), db=db, api_settings=ApiSettings(admin_token=ADMIN), migrate=False)
    with TestClient(app) as c:
        yield c


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_campaign_segment_from_icp():
    assert campaign_segment({"industries": ["Construction ", "software"]}) == (
        "industry",
        ["construction", "software"],
    )
    assert campaign_segment({"industries": [], "seniorities": ["VP"]}) == ("seniority", ["vp"])
    assert campaign_segment({"countries": ["france"]}) == (None, [])


def test_suggestions_per_campaign_segment_under_privacy_and_tenancy(db, client):
    with session_scope(db) as s:
        for i in (1, 2):
            s.execute(
                text("INSERT INTO agencies (id, name, status, api_key_hash) VALUES (:i, :n, 'active', :h)"),
                {"i": i, "n": f"agency {i}", "h": hash_key(f"lpa_suggest_{i}")},
            )
        mine = make_campaign(s, 1, icp={"industries": ["Construction"]})
        theirs = make_campaign(s, 2, icp={"seniorities": ["vp"]})
        for a in (101, 102, 103):  # three agencies: safe cells
            add_facts(s, 55, replies=3, agency_id=a, industry="construction", local_hour=9)
            add_facts(s, 60, replies=9, agency_id=a, industry="construction", local_hour=14, local_weekday=4)
            add_facts(s, 60, replies=30, agency_id=a, industry="software", local_hour=16, local_weekday=5)
        for a in (1, 102, 103):
            add_facts(s, 60, replies=6, agency_id=a, industry="construction", local_hour=11)
        # agency 1 alone sent on Wednesdays too (its own view shows them in full)
        add_facts(s, 20, replies=6, agency_id=1, industry="construction", local_hour=11, local_weekday=3)
        # one agency alone, thin and spectacular: never visible to another agency
        add_facts(s, 10, replies=10, agency_id=104, industry="construction", local_hour=7, local_weekday=6)

    r = client.get(f"/v1/campaigns/{mine}/suggestions", headers=_auth("lpa_suggest_1"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["segment"] == {"dimension": "industry", "values": ["construction"]} and "all" not in out
    assert out["own"]["best_hour"]["local_hour"] == 11 and out["own"]["best_weekday"]["local_weekday"] == 3
    assert out["own"]["best_hour"]["rate"]["n"] == 80  # its own sends only
    platform = out["platform"]
    assert platform["best_hour"]["local_hour"] == 14
    # Wednesday (agency 1 alone) and Saturday (agency 104 alone) are thin; hiding them alone would
    # let their sum be read off construction minus the published days, so Thursday is withheld too
    assert platform["best_weekday"]["local_weekday"] == 2
    assert [x["local_weekday"] for x in platform["by_segment"]["best_weekday"]] == [2]
    assert [x["industry"] for x in platform["by_segment"]["best_hour"]] == ["construction"]  # ICP only
    shown = {(x["local_hour"], x["rate"]["n"]) for x in platform["by_segment"]["best_hour"]}
    assert shown == {(14, 180)}
    assert "7" not in str([x.get("local_hour") for x in platform["by_segment"]["best_hour"]])

    # the admin's view counts every fact of the segment
    r = client.get(f"/v1/campaigns/{mine}/suggestions", headers=_auth(ADMIN))
    assert r.status_code == 200 and set(r.json()) >= {"all", "segment"} and "platform" not in r.json()
    assert r.json()["all"]["by_segment"]["best_hour"][0]["industry"] == "construction"

    # agency 2 has no facts of its own; its seniority segment gets the safe platform view
    r = client.get(f"/v1/campaigns/{theirs}/suggestions", headers=_auth("lpa_suggest_2"))
    assert r.status_code == 200, r.text
    assert r.json()["segment"] == {"dimension": "seniority", "values": ["vp"]}
    assert r.json()["own"]["best_hour"] is None and r.json()["platform"]["best_hour"]["local_hour"] == 16

    # another agency's campaign answers exactly like one that does not exist
    other = client.get(f"/v1/campaigns/{mine}/suggestions", headers=_auth("lpa_suggest_2"))
    missing = client.get("/v1/campaigns/999999/suggestions", headers=_auth("lpa_suggest_2"))
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"].replace(str(mine), "X") == missing.json()["detail"].replace("999999", "X")


def test_cli_suggest(db, env):
    with session_scope(db) as s:
        s.execute(text("INSERT INTO agencies (id, name, status) VALUES (7, 'agency 7', 'active')"))
        camp = make_campaign(s, 7, icp={"industries": ["software"]})
        add_facts(s, 40, replies=2, agency_id=7, industry="software", local_hour=8)
        add_facts(s, 40, replies=12, agency_id=7, industry="software", local_hour=15, local_weekday=5)
    r = runner.invoke(app, ["insights", "suggest", str(camp), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["all"]["best_hour"]["local_hour"] == 15 and out["all"]["best_weekday"]["local_weekday"] == 5
    r = runner.invoke(app, ["insights", "suggest", str(camp)])
    assert r.exit_code == 0 and "software" in r.output and "15" in r.output
    r = runner.invoke(app, ["insights", "suggest", "999999"])
    assert r.exit_code != 0 and "campaign 999999 not found" in r.output


def test_no_reply_yet_suggests_no_time(db, env):
    """With sends and no reply, the "best" hour and weekday were the first keys (Sunday 0:00,
    outside every send window)."""
    with session_scope(db) as s:
        s.execute(text("INSERT INTO agencies (id, name, status) VALUES (8, 'agency 8', 'active')"))
        camp = make_campaign(s, 8, icp={"industries": ["software"]})
        add_facts(s, 40, replies=0, agency_id=8, industry="software", local_hour=8)
        add_facts(s, 40, replies=0, agency_id=8, industry="software", local_hour=15, local_weekday=5)
    r = runner.invoke(app, ["insights", "suggest", str(camp), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)["all"]
    assert out["best_hour"] is None and out["best_weekday"] is None
    assert out["by_segment"]["best_hour"] == [] and out["by_segment"]["best_weekday"] == []
