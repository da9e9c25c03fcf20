"""The pool refills itself while Apollo still has matching people: every refill searches from
page 1 again, so pages whose people the pool already holds must not use up the job's pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.allocation.factories import make_agency, make_campaign
from tests.fake_apollo import serving

from leadpool.allocation.allocate import allocate
from leadpool.allocation.refill import run_refill
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_people

KEY = "refill-reach-key"


@pytest.fixture(scope="module")
def construction() -> list[dict[str, Any]]:
    ps = [
        p
        for p in generate_people(1400, 7, duplicate_rate=0.0)
        if p["email_status"] == "verified"
        and p.get("email")
        and (p.get("organization") or {}).get("industry") == "construction"
    ]
    assert len(ps) >= 130
    return ps[:130]


@pytest.fixture
def fake(
    construction: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, db: Database
) -> Iterator[FakeApollo]:
    with serving(construction, monkeypatch, KEY, LEADPOOL_REFILL_MAX_PAGES="1") as server:
        yield server


def _short_campaign(db: Database, construction: list[dict[str, Any]]) -> int:
    """Agency A holds everyone on the segment's first search page (100 people); B asks for more."""
    import_people(db, construction[:100], endpoint="people/match")
    with session_scope(db) as s:
        a = make_campaign(s, make_agency(s), icp={"industries": ["construction"]}, daily_quota=500)
        b = make_campaign(s, make_agency(s), icp={"industries": ["construction"]}, daily_quota=500)
    with session_scope(db) as s:
        assert len(allocate(s, a, 100, refill_shortfall=False).lead_ids) >= 90
    with session_scope(db) as s:
        short = allocate(s, b, 10)
    assert short.shortfall > 0 and short.refill_job_id is not None
    return short.refill_job_id


def test_a_refill_reaches_past_the_pages_the_pool_already_holds(
    db: Database, fake: FakeApollo, construction: list[dict[str, Any]]
) -> None:
    """Before, the job read page 1 (all in the pool), used up its one page and ended "Apollo had
    no more matching people" while page 2 held 30 people nobody had: a segment could never grow
    past refill_max_pages x 100 people."""
    out = run_refill(db, _short_campaign(db, construction))
    assert (out.status, out.enriched, out.allocated) == ("done", 10, 9)
    assert fake.count("people/bulk_match") == 1 and fake.count("mixed_people/api_search") == 2
    # one person bought did not pass the exact ICP: the note no longer says Apollo ran out
    assert out.note is not None and "not all matched the campaign" in out.note


def test_a_refill_out_of_pages_says_so_not_that_apollo_ran_out(
    db: Database, fake: FakeApollo, construction: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPOOL_REFILL_MAX_KNOWN_PAGES", "0")
    out = run_refill(db, _short_campaign(db, construction))
    assert out.enriched == 0 and fake.count("people/bulk_match") == 0
    assert out.note is not None and "LEADPOOL_REFILL_MAX_KNOWN_PAGES" in out.note
    assert "Apollo may have more" in out.note and "no more matching" not in out.note
