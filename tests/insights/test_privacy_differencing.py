"""Differencing across answers: what an agency can compute from published platform cells.

- A published 1-D cell of one answer minus the published 3-D cells of another (its grandparent,
  which a drop-one-dimension check never looked at) must not isolate one agency.
- A cell's figures minus the viewer's own (shown in full beside it) must not leave a handful of
  other agencies' leads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from insights.factrows import add_facts, agencies_with_keys
from leadpool.api.app import create_app
from leadpool.api.settings import ApiSettings
from leadpool.config import Settings
from leadpool.db import session_scope
from leadpool.insights.privacy import MIN_AGENCIES, MIN_LEADS, MIN_OTHER_LEADS, OTHER

ADMIN = "differencing-admin-token-0123456789"


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    app = create_app(Settings(), db=db, api_settings=ApiSettings(admin_token=ADMIN), migrate=False)
    with TestClient(app) as c:
        yield c


def _world(s) -> dict[int, str]:
    keys = agencies_with_keys(s, 6)
    # a busy corner of construction: agencies 1-3, 20 leads each
    for a in (1, 2, 3):
        add_facts(
            s, 20, replies=2, agency_id=a, industry="construction", country="united states", seniority="vp"
        )
    # the victim: agency 6 alone, 10 leads, 7 of which replied (its secret)
    add_facts(
        s,
        10,
        replies=7,
        positives=5,
        agency_id=6,
        industry="construction",
        country="germany",
        seniority="ceo",
    )
    # retail: one thin corner per agency 1-5 (nothing to publish there, but the whole stays safe)
    for a, (country, sen) in zip(
        (1, 2, 3, 4, 5),
        [
            ("france", "owner"),
            ("spain", "director"),
            ("italy", "manager"),
            ("canada", "owner"),
            ("mexico", "director"),
        ],
        strict=True,
    ):
        add_facts(s, 12, replies=1, agency_id=a, industry="retail", country=country, seniority=sen)
    return keys


def _platform_segments(client: TestClient, key: str, dims: str) -> list[dict]:
    r = client.get("/v1/insights", params={"dims": dims}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()["platform"]["segments"]


def test_one_d_cell_minus_three_d_cell_does_not_isolate_one_agency(db, client):
    with session_scope(db) as s:
        keys = _world(s)
    attacker = keys[1]
    one_d = _platform_segments(client, attacker, "industry")
    three_d = _platform_segments(client, attacker, "industry,country,seniority")
    parent = next((c for c in one_d if c["segment"] == {"industry": "construction"}), None)
    children = [
        c
        for c in three_d
        if c["segment"].get("industry") == "construction" and OTHER not in c["segment"].values()
    ]
    assert parent is not None, "the 1-D answer publishes construction"
    if not children:
        return  # nothing of construction published in 3-D: nothing to subtract
    # what subtracting the published 3-D cells from the published 1-D cell leaves
    rest_sends = parent["sends"] - sum(c["sends"] for c in children)
    rest_replies = parent["rates"]["reply"]["x"] - sum(c["rates"]["reply"]["x"] for c in children)
    with session_scope(db) as s:
        leads, agencies = s.execute(
            text(
                "SELECT count(DISTINCT lead_id), count(DISTINCT agency_id) FROM insight_facts "
                "WHERE industry = 'construction' AND NOT (country = 'united states' AND seniority = 'vp')"
            )
        ).one()
    # the difference is agency 6's 10 sends and 7 replies: one agency, 10 leads
    assert rest_sends == 0 or (leads >= MIN_LEADS and agencies >= MIN_AGENCIES), (
        f"agency 1 learns that the rest of construction is {rest_sends} sends with {rest_replies} "
        f"replies from {leads} leads of {agencies} agency"
    )


def test_own_figures_subtracted_from_a_platform_cell_do_not_leave_two_leads(db, client):
    with session_scope(db) as s:
        keys = agencies_with_keys(s, 3)
        add_facts(s, 48, replies=3, agency_id=1, industry="construction")
        add_facts(s, 1, replies=1, positives=1, agency_id=2, industry="construction")
        add_facts(s, 1, replies=1, positives=1, agency_id=3, industry="construction")
    r = client.get(
        "/v1/insights", params={"dims": "industry"}, headers={"Authorization": f"Bearer {keys[1]}"}
    )
    assert r.status_code == 200
    body = r.json()
    own = next(c for c in body["own"]["segments"] if c["segment"] == {"industry": "construction"})
    for cell in body["platform"]["segments"]:
        if cell["segment"].get("industry") != "construction":
            continue
        others_leads = cell["leads"] - own["leads"]
        others_positive = cell["rates"]["positive"]["x"] - own["rates"]["positive"]["x"]
        assert others_leads >= MIN_OTHER_LEADS, (
            f"agency 1 learns the other agencies' {others_leads} construction leads had "
            f"{others_positive} positive replies"
        )
