"""Privacy between agencies: thresholds, pooled thin cells, and no difference that isolates one agency.

Checked on the functions and through ``GET /v1/insights`` with agency keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from insights.factrows import add_facts, agencies_with_keys
from leadpool.api.app import create_app
from leadpool.api.settings import ApiSettings
from leadpool.config import Settings
from leadpool.db import session_scope
from leadpool.insights import privacy
from leadpool.insights.privacy import MIN_AGENCIES, MIN_LEADS, OTHER

ADMIN = "insights-admin-token-0123456789"
QUERIES = [
    ["industry"],
    ["country"],
    ["seniority"],
    ["industry", "country"],
    ["country", "industry"],
    ["industry", "seniority"],
    ["industry", "country", "seniority"],
]


def _two_agencies(s) -> dict[int, str]:
    keys = agencies_with_keys(s, 2)
    add_facts(s, 400, replies=30, positives=8, bounces=12, agency_id=1, industry="software")
    add_facts(s, 300, replies=10, positives=2, agency_id=2, industry="software")
    add_facts(s, 200, replies=15, agency_id=2, industry="retail", country="germany")
    add_facts(s, 3, replies=2, agency_id=2, industry="thin")
    return keys


def _four_agencies(s) -> dict[int, str]:
    keys = agencies_with_keys(s, 4)
    for a in (1, 2, 3):
        add_facts(s, 120, replies=9, agency_id=a, leads=40, industry="software", country="united states")
        add_facts(s, 60, replies=3, agency_id=a, industry="software", country="germany")
        add_facts(s, 5, replies=1, agency_id=a, industry="thin", country="united states")
    for a in (1, 2, 3, 4):
        add_facts(
            s, 30, replies=2, agency_id=a, industry="retail", country="united states", seniority="owner"
        )
    # a segment only agency 4 works, big enough in leads but with one agency
    add_facts(s, 90, replies=20, positives=9, agency_id=4, industry="niche", country="france")
    # agency 4 alone in a corner of a safe industry: (software, france)
    add_facts(s, 70, replies=14, agency_id=4, industry="software", country="france")
    return keys


def _facts_in(s, dims: list[str], key: tuple[Any, ...]) -> tuple[int, int]:
    where = " AND ".join(f"{d}::text = :v{i}" for i, d in enumerate(dims)) or "true"
    params = {f"v{i}": str(v) for i, v in enumerate(key)}
    row = s.execute(
        text(f"SELECT count(DISTINCT lead_id), count(DISTINCT agency_id) FROM insight_facts WHERE {where}"),
        params,
    ).one()
    return int(row[0]), int(row[1])


def _uncovered(
    s, dims: list[str], parent_dims: list[str], parent_key: tuple[Any, ...], published: list[tuple[Any, ...]]
):
    """Leads and agencies of the parent's facts outside the published cells (checked independently)."""
    where = " AND ".join(f"{d}::text = :p{i}" for i, d in enumerate(parent_dims)) or "true"
    params: dict[str, Any] = {f"p{i}": str(v) for i, v in enumerate(parent_key)}
    outs = []
    for j, cell in enumerate(published):
        outs.append("NOT (" + " AND ".join(f"{d}::text = :c{j}_{i}" for i, d in enumerate(dims)) + ")")
        params.update({f"c{j}_{i}": str(v) for i, v in enumerate(cell)})
    sql = f"SELECT count(DISTINCT lead_id), count(DISTINCT agency_id), count(*) FROM insight_facts WHERE {where}"
    if outs:
        sql += " AND " + " AND ".join(outs)
    leads, agencies, n = s.execute(text(sql), params).one()
    return int(leads), int(agencies), int(n)


def _assert_platform_safe(s, dims: list[str]) -> list[tuple[Any, ...]]:
    cells = privacy.platform_cells(s, dims)
    published = [c.key for c in cells if c.level == len(dims) and OTHER not in c.key]
    for c in cells:
        assert c.counts["leads"] >= MIN_LEADS and c.counts["agencies"] >= MIN_AGENCIES, (
            dims,
            c.key,
            c.counts,
        )
        if c.level == len(dims) and OTHER not in c.key:
            # the counts are the real ones of that cell
            assert (c.counts["leads"], c.counts["agencies"]) == _facts_in(s, dims, c.key)
    if not published:
        return published
    # every parent (drop one dimension, or everything): what published cells leave uncovered is
    # empty or itself passes the thresholds, so no subtraction isolates a thin group
    for r in range(len(dims)):
        for keep in combinations(range(len(dims)), r):
            parent_dims = [dims[i] for i in keep]
            for pkey in {tuple(k[i] for i in keep) for k in published}:
                inside = [k for k in published if tuple(k[i] for i in keep) == pkey]
                leads, agencies, n = _uncovered(s, dims, parent_dims, pkey, inside)
                assert n == 0 or (leads >= MIN_LEADS and agencies >= MIN_AGENCIES), (dims, parent_dims, pkey)
    return published


def test_two_agencies_see_no_platform_figures(db):
    with session_scope(db) as s:
        _two_agencies(s)
    with session_scope(db) as s:
        for dims in [*QUERIES, []]:
            assert privacy.platform_cells(s, dims) == []
        own = privacy.agency_view(s, 1, ["industry"])["own"]
        whole = next(c for c in own if c.level == 0)
        assert whole.counts["sends"] == 400 and whole.counts["agencies"] == 1


def test_thresholds_and_differences_with_four_agencies(db):
    with session_scope(db) as s:
        _four_agencies(s)
    with session_scope(db) as s:
        seen = {}
        for dims in QUERIES:
            seen[tuple(dims)] = _assert_platform_safe(s, dims)
        # the single-agency segments are never published on their own
        assert ("niche",) not in seen[("industry",)]
        assert ("software", "france") not in seen[("industry", "country")]
        assert ("thin",) not in seen[("industry",)]
        # and safe ones are
        assert ("software",) in seen[("industry",)] and ("retail",) in seen[("industry",)]
        # (software, united states) and (software, germany) would leave (software, france), agency
        # 4 alone, as software minus the two: so one of them is withdrawn too
        sw = [k for k in seen[("industry", "country")] if k[0] == "software"]
        assert len(sw) <= 1


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    app = create_app(Settings(), db=db, api_settings=ApiSettings(admin_token=ADMIN), migrate=False)
    with TestClient(app) as c:
        yield c


def _cells(obj: Any) -> Iterator[dict[str, Any]]:
    if isinstance(obj, dict):
        if "agencies" in obj and "leads" in obj and "sends" in obj:
            yield obj
        for v in obj.values():
            yield from _cells(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _cells(v)


@pytest.mark.parametrize("world", ["two", "four"])
def test_api_agency_sees_own_in_full_and_only_safe_platform_cells(db, client, world):
    with session_scope(db) as s:
        keys = _two_agencies(s) if world == "two" else _four_agencies(s)
        own_sends = {
            a: int(
                s.execute(
                    text("SELECT count(*) FROM insight_facts WHERE agency_id = :a"), {"a": a}
                ).scalar_one()
            )
            for a in keys
        }
    for agency, key in keys.items():
        for dims in (["industry"], ["industry", "country"], ["country", "industry", "seniority"]):
            r = client.get(
                "/v1/insights", params={"dims": ",".join(dims)}, headers={"Authorization": f"Bearer {key}"}
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["scope"] == "agency" and "all" not in body and "status" not in body
            for cell in _cells(body["platform"]):
                assert cell["leads"] >= MIN_LEADS and cell["agencies"] >= MIN_AGENCIES
            if world == "two":
                assert list(_cells(body["platform"])) == []
            else:
                assert len(list(_cells(body["platform"]))) > 3
            for cell in _cells(body["own"]):
                assert cell["agencies"] <= 1  # only the caller's own facts
            whole = next(c for c in body["own"]["segments"] if c["segment"] == {})
            assert whole["sends"] == own_sends[agency]
    admin = client.get(
        "/v1/insights", params={"dims": "industry"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert admin.status_code == 200
    assert admin.json()["scope"] == "admin"
    whole = next(c for c in admin.json()["all"]["segments"] if c["segment"] == {})
    assert whole["sends"] == sum(own_sends.values())


def test_api_refuses_bad_dimensions_and_anonymous_callers(db, client):
    r = client.get(
        "/v1/insights", params={"dims": "industry,colour"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 422 and "colour" in r.text
    r = client.get(
        "/v1/insights",
        params={"dims": "industry,country,seniority,channel"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 422
    assert client.get("/v1/insights").status_code == 401


def test_a_cell_whose_email_sends_are_one_agencys_is_not_published(db) -> None:
    from leadpool.db import session_scope
    from leadpool.insights import privacy

    with session_scope(db) as s:
        for a in (1, 2, 3):
            add_facts(s, 100, replies=5, bounces=3, agency_id=a, industry="software")
            add_facts(s, 90, replies=4, bounces=2, agency_id=a, industry="construction")
            add_facts(s, 60, replies=3, bounces=1, agency_id=a, industry="retail")
        # logistics: agency 1 emails 60 leads (12 bounce); agencies 2 and 3 reach one lead each on
        # LinkedIn: 62 leads and 3 agencies, but the bounce rate would be agency 1's own
        add_facts(s, 60, bounces=12, replies=3, agency_id=1, industry="logistics")
        add_facts(s, 1, agency_id=2, industry="logistics", channel="linkedin")
        add_facts(s, 1, agency_id=3, industry="logistics", channel="linkedin")
    with session_scope(db) as s:
        cells = privacy.platform_cells(s, ["industry"])
    keys = [c.key for c in cells]
    assert ("software",) in keys and ("construction",) in keys and ("logistics",) not in keys
    # nor can it be had as what the published cells leave over: retail is withdrawn and pooled with it
    assert ("retail",) not in keys
    other = next(c for c in cells if c.key == (privacy.OTHER,))
    assert other.counts["email_agencies"] == 3 and other.counts["email_leads"] == 60 * 3 + 60
