"""Re-enrichment candidates: bounced with a new employer first, then guessed, then stale; budget cap."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from tests.allocation.factories import make_agency, make_campaign, make_leads
from tests.fake_apollo import HeldApollo, kill_worker_during_the_call, serving
from typer.testing import CliRunner

from leadpool.allocation.refill import list_refill_jobs, spent_today
from leadpool.api.app import create_app
from leadpool.api.settings import ApiSettings
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people
from leadpool.cli import app
from leadpool.config import Settings, get_settings
from leadpool.db import Database, session_scope
from leadpool.errors import LeadpoolError
from leadpool.ingestion import import_people
from leadpool.insights.reenrich import (
    REENRICH_TASK,
    queue_reenrichment,
    reenrichment_candidates,
    run_reenrich,
)
from leadpool.queue import run_worker

runner = CliRunner()
ADMIN = "reenrich-admin-token-0123456789"

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)


def test_candidates_by_reason_and_priority(db, monkeypatch):
    with session_scope(db) as s:
        fresh = make_leads(s, 2, enriched_at=NOW - timedelta(days=10))
        stale = make_leads(s, 2, enriched_at=NOW - timedelta(days=400))
        guessed = make_leads(s, 1, email_status="guessed", enriched_at=NOW - timedelta(days=40))
        # a guess looked up again recently is not bought again until the recheck window passes
        rechecked = make_leads(s, 1, email_status="guessed", enriched_at=NOW - timedelta(days=5))
        moved = make_leads(
            s,
            1,
            organization_id="org-old",
            email_bounced_at=NOW - timedelta(days=1),
            enriched_at=NOW - timedelta(days=5),
            employment_history=[
                {"organization_id": "org-new", "current": True},
                {"organization_id": "org-old", "current": False},
            ],
        )
        stayed = make_leads(
            s,
            1,
            organization_id="org-a",
            email_bounced_at=NOW - timedelta(days=1),
            enriched_at=NOW - timedelta(days=5),
            employment_history=[{"organization_id": "org-a", "current": True}],
        )
        make_leads(s, 1, email_status="guessed", unsubscribed_at=NOW)  # ruled out: never proposed
        # bounced before its last enrichment: that lookup already answered the bounce
        answered = make_leads(
            s,
            1,
            organization_id="org-old",
            email_bounced_at=NOW - timedelta(days=6),
            enriched_at=NOW - timedelta(days=5),
            employment_history=[{"organization_id": "org-new", "current": True}],
        )
    with session_scope(db) as s:
        out = reenrichment_candidates(s, at=NOW)
    assert out["lead_ids"] == moved + guessed + stale
    assert out["by_reason"] == {"bounced_new_employer": 1, "guessed": 1, "stale": 2}
    assert not set(fresh + stayed + rechecked + answered) & set(out["lead_ids"])
    # the remaining daily credit budget caps the list (each record budgeted at 1.25 credits at
    # least: 2.5 credits, 2 records)
    monkeypatch.setenv("LEADPOOL_REFILL_DAILY_CREDIT_BUDGET", "2.5")
    with session_scope(db) as s:
        out = reenrichment_candidates(s, at=NOW)
    assert out["lead_ids"] == moved + guessed and out["limit"] == 2


# --- queued through the refill path, against the fake Apollo server ---------------------------

KEY = "reenrich-test-key"


@pytest.fixture
def apollo_people() -> list[dict[str, Any]]:
    people = [p for p in generate_people(200, 17, duplicate_rate=0.0) if p.get("email") and p.get("id")]
    return people[:8]


@pytest.fixture
def fake(apollo_people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApollo]:
    with serving(apollo_people, monkeypatch, KEY) as server:
        yield server


def _pool(db: Database, people: list[dict[str, Any]]) -> list[int]:
    """The people in the pool with old data: two guessed, the rest stale (oldest first)."""
    ids = import_people(db, people, endpoint="people/bulk_match").lead_ids
    now = datetime.now(UTC)
    with session_scope(db) as s:
        for i, lead_id in enumerate(ids):
            s.execute(
                text("UPDATE leads SET enriched_at = :at, email_status = :st WHERE id = :id"),
                {
                    "at": now - timedelta(days=500 - i),
                    "st": "guessed" if i >= len(ids) - 2 else "verified",
                    "id": lead_id,
                },
            )
    return ids


def _enriched_at(db: Database, ids: list[int]) -> dict[int, datetime]:
    with session_scope(db) as s:
        rows = s.execute(text("SELECT id, enriched_at FROM leads WHERE id = ANY(:ids)"), {"ids": ids})
        return {int(r[0]): r[1] for r in rows}


def test_queue_runs_through_the_worker_within_the_daily_budget(
    db: Database,
    env: None,
    fake: FakeApollo,
    apollo_people: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = _pool(db, apollo_people)
    before = _enriched_at(db, ids)
    started = datetime.now(UTC)
    # a campaign refill already spent 3 of today's 8 credits: 5 are left for re-enrichment
    monkeypatch.setenv("LEADPOOL_REFILL_DAILY_CREDIT_BUDGET", "8")
    with session_scope(db) as s:  # the job, and the paid response it stored (the day's ledger)
        camp = make_campaign(s, make_agency(s))
        agency = s.execute(text("SELECT agency_id FROM campaigns WHERE id = :c"), {"c": camp}).scalar_one()
        s.execute(
            text(
                "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested, credits_consumed, started_at) "
                "VALUES (:c, :a, 'done', 3, 3, :t)"
            ),
            {"c": camp, "a": agency, "t": started},
        )
        s.execute(
            text(
                "INSERT INTO raw_payloads (endpoint, credits_consumed, body, body_sha256, fetched_at) "
                "VALUES ('people/bulk_match', 3, '{}', 'refill', :t)"
            ),
            {"t": started},
        )
    r = runner.invoke(app, ["insights", "reenrich", "--queue", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    # capped by what is left (each record budgeted at 1.25 credits: 5 buy 4); guessed first, then
    # the stalest
    assert out["limit"] == 4 and out["by_reason"] == {"guessed": 2, "stale": 2}
    assert out["lead_ids"] == ids[-2:] + ids[:2] and out["job_id"] is not None
    # the queued leads are not proposed again while their job waits
    with session_scope(db) as s:
        again = queue_reenrichment(s)
    assert set(again["lead_ids"]) == set(ids[2:6])
    # the second job finds the budget used up by the first (they run one at a time)
    run_worker(uri=db.uri, until_empty=True)

    with session_scope(db) as s:
        first, second = sorted((v for v in list_refill_jobs(s) if v.kind == "reenrich"), key=lambda v: v.id)
        statuses = text("SELECT status::text FROM procrastinate_jobs WHERE task_name = :t ORDER BY id")
        assert s.execute(statuses, {"t": REENRICH_TASK}).scalars().all() == [
            "succeeded",
            "succeeded",
        ]
        assert spent_today(s, datetime.now(UTC)) == Decimal(7)
    assert (first.status, first.enriched, first.credits_consumed) == ("done", 4, Decimal(4))
    assert first.campaign_id is None and first.agency_id is None
    assert second.status == "stopped_by_budget" and second.credits_consumed == 0
    # one call of 4: a record is budgeted at 1.25 credits at least (Apollo's price may be fractional)
    assert fake.credits_charged == 4 and fake.count("people/bulk_match") == 1
    after = _enriched_at(db, ids)
    assert {i for i in ids if after[i] > started} == set(out["lead_ids"])
    assert all(after[i] == before[i] for i in ids if i not in out["lead_ids"])
    # nothing left today: listing and queueing both find no room
    with session_scope(db) as s:
        assert queue_reenrichment(s)["job_id"] is None
    # the job lists show both kinds
    r = runner.invoke(app, ["jobs", "list", "--json"])
    assert r.exit_code == 0, r.output
    assert sorted(j["kind"] for j in json.loads(r.output)) == ["campaign", "reenrich", "reenrich"]
    r = runner.invoke(app, ["jobs", "list"])  # the kind stands in the campaign column
    assert r.exit_code == 0 and "reen" in r.output, r.output
    api = create_app(Settings(), db=db, api_settings=ApiSettings(admin_token=ADMIN), migrate=False)
    with TestClient(api) as c:
        r = c.get("/v1/jobs", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200, r.text
    kinds = sorted((j["kind"], j["campaign_id"] is None) for j in r.json())
    assert kinds == [("campaign", False), ("reenrich", True), ("reenrich", True)]


def test_budget_stops_a_job_midway_and_never_pays_twice(
    db: Database, fake: FakeApollo, apollo_people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _pool(db, apollo_people)
    with session_scope(db) as s:
        queued = queue_reenrichment(s)
    assert queued["lead_ids"] and len(queued["lead_ids"]) == len(ids)
    # the budget shrinks between queueing and running: the job buys what fits and stops
    monkeypatch.setenv("LEADPOOL_REFILL_DAILY_CREDIT_BUDGET", "3")
    out = run_reenrich(db, queued["refill_job_id"])
    # (each record budgeted at 1.25 credits at least: 3 credits buy 2)
    assert (out.status, out.enriched, out.credits_consumed) == ("stopped_by_budget", 2, Decimal(2))
    assert out.note is not None and "budget" in out.note
    assert fake.credits_charged == 2
    assert run_reenrich(db, queued["refill_job_id"]).note == "already finished"
    # the same leads in a new job (budget raised): the two bought today are not bought again
    monkeypatch.setenv("LEADPOOL_REFILL_DAILY_CREDIT_BUDGET", "100")
    with session_scope(db) as s:
        s.execute(
            text(
                "INSERT INTO refill_jobs (kind, status, requested, lead_ids) VALUES ('reenrich', 'queued', :n, :ids)"
            ),
            {"n": len(ids), "ids": ids},
        )
        job = s.execute(text("SELECT max(id) FROM refill_jobs")).scalar_one()
    out = run_reenrich(db, int(job))
    assert (out.status, out.enriched) == ("done", len(ids) - 2)
    assert fake.credits_charged == len(ids)
    assert out.note is not None and "2 enriched within the last day" in out.note


def test_queue_needs_an_apollo_key_and_rows_need_their_target(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADPOOL_APOLLO_API_KEY", raising=False)
    get_settings.cache_clear()
    with session_scope(db) as s, pytest.raises(LeadpoolError, match="APOLLO_API_KEY"):
        queue_reenrichment(s)
    # the database refuses a re-enrichment row without its leads, and a campaign row without a campaign
    for sql in (
        "INSERT INTO refill_jobs (kind, status, requested) VALUES ('reenrich', 'queued', 1)",
        "INSERT INTO refill_jobs (kind, status, requested, lead_ids) VALUES ('campaign', 'queued', 1, '{1}')",
    ):
        with pytest.raises(IntegrityError), session_scope(db) as s:
            s.execute(text(sql))


def test_a_reenrichment_killed_during_a_paid_call_keeps_it_on_its_job(
    db: Database, apollo_people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its credits were added when a try ended: a worker killed (SIGKILL) while Apollo held the
    answer it had charged for left the job's report without them."""
    with serving(apollo_people, monkeypatch, KEY, fake_class=HeldApollo) as held:
        assert isinstance(held, HeldApollo)
        _pool(db, apollo_people)
        with session_scope(db) as s:
            job = queue_reenrichment(s)["refill_job_id"]
        kill_worker_during_the_call(held, "leadpool.insights.reenrich:run_reenrich", job)
    assert held.credits_charged > 0
    with session_scope(db) as s:
        booked = s.execute(
            text("SELECT credits_consumed FROM raw_payloads WHERE endpoint = 'people/bulk_match'")
        ).scalar_one()
        on_job = s.execute(
            text("SELECT credits_consumed FROM refill_jobs WHERE id = :j"), {"j": job}
        ).scalar_one()
        day = spent_today(s, datetime.now(UTC))
    assert booked >= held.credits_charged  # the worst case: no answer showed the price
    assert on_job == booked == day
