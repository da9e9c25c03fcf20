"""Enrichment against the fake Apollo server and the real pool: never pay twice, stay in budget."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from leadpool.allocation.refill import spent_today
from leadpool.apollo.client import ApolloClient
from leadpool.apollo.enrich import enrich_people, search_and_enrich
from leadpool.apollo.errors import ChargeUncertain
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import person_to_teaser
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_people
from leadpool.models import Lead, RawPayload

from .conftest import KEY

MONTHS_6 = timedelta(days=180)


def _pool(db: Database, people: list[dict[str, Any]]) -> list[int]:
    result = import_people(db, people, endpoint="people/bulk_match")
    assert not result.rejected
    return result.lead_ids


def test_fresh_people_cost_nothing_and_stale_ones_are_enriched_again(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    pooled, stale, new = people[:8], people[8:10], people[10:15]
    _pool(db, pooled + stale)
    with session_scope(db) as s:
        s.execute(
            text("UPDATE leads SET enriched_at = now() - interval '400 days' WHERE apollo_id = ANY(:ids)"),
            {"ids": [p["id"] for p in stale]},
        )
    candidates = [person_to_teaser(p) for p in pooled + stale + new]
    result = enrich_people(db, client, candidates, max_age=MONTHS_6, credit_budget=None)

    assert result.skipped_already_fresh == 8
    assert result.requested == 7 and result.credits_consumed == 7 == fake.credits_charged
    sent = [
        d["id"] for r in fake.request_log if r.endpoint == "people/bulk_match" for d in r.params["details"]
    ]
    assert sorted(sent) == sorted(p["id"] for p in stale + new)
    assert len(result.enriched_lead_ids) == 7 and len(result.new_lead_ids) == 5
    assert not result.stopped_by_budget and result.stop_reason == "done"

    # running it again pays nothing: everyone is fresh now
    again = enrich_people(db, client, candidates, max_age=MONTHS_6, credit_budget=None)
    assert again.requested == 0 and again.credits_consumed == 0 and again.skipped_already_fresh == 15
    assert fake.count("people/bulk_match") == 1


def test_fresh_match_by_email_or_linkedin_and_unusable_email_is_re_enriched(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    a, b, c = people[20], people[21], people[22]
    _pool(db, [a, b, c])
    with session_scope(db) as s:  # c's address bounced: buying it again may find a new one
        s.execute(text("UPDATE leads SET email_bounced_at = now() WHERE apollo_id = :id"), {"id": c["id"]})
    candidates = [
        {"email": a["email"].upper()},  # same person by email, no Apollo id
        {"linkedin_url": b["linkedin_url"].replace("http://www.", "https://") + "/"},
        {"id": c["id"]},
    ]
    result = enrich_people(db, client, candidates, max_age=MONTHS_6, credit_budget=None)
    assert result.skipped_already_fresh == 2
    assert result.requested == 1 and fake.credits_charged == 1


def test_budget_stops_before_a_call_that_could_exceed_it(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    candidates = [{"id": p["id"]} for p in people[30:55]]  # 25 people
    result = enrich_people(db, client, candidates, max_age=MONTHS_6, credit_budget=15)
    # last call shrunk to fit: every person is budgeted at the 1.25 reserve, though Apollo
    # charged 1 (its price may move within a run, apollo.md 2.4), so 4 fit in the 5 left
    assert [len(r.params["details"]) for r in fake.request_log] == [10, 4]
    assert result.credits_consumed == 14 == fake.credits_charged
    assert result.stopped_by_budget and result.stop_reason == "budget"
    assert len(result.new_lead_ids) == 14

    nothing = enrich_people(db, client, [{"id": people[60]["id"]}], max_age=MONTHS_6, credit_budget=0)
    assert nothing.stopped_by_budget and nothing.requested == 0
    assert fake.count("people/bulk_match") == 2


def test_unknown_people_cost_nothing_and_leave_budget_for_others(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    unknown = [{"id": f"{i:024x}"} for i in range(10)]
    known = [{"id": p["id"]} for p in people[70:75]]
    # 5 people at the 1.25 per-record reserve (apollo.md 2.4)
    result = enrich_people(db, client, unknown + known, max_age=MONTHS_6, credit_budget=6.25)
    assert result.not_found == 10 and result.credits_consumed == 5
    assert len(result.new_lead_ids) == 5 and result.stop_reason == "done"


def test_raw_payload_is_stored_exactly_as_received(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    candidates: list[dict[str, Any]] = [{"id": p["id"]} for p in people[80:83]] + [{"id": "e" * 24}]
    enrich_people(db, client, candidates, max_age=MONTHS_6, credit_budget=None)
    sent = [r for r in fake.request_log if r.endpoint == "people/bulk_match"]
    assert len(sent) == 1
    with session_scope(db) as s:
        rows = s.scalars(select(RawPayload).where(RawPayload.endpoint == "people/bulk_match")).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.body == sent[0].response_body
        assert row.body_sha256 == hashlib.sha256(sent[0].response_body.encode()).hexdigest()
        assert float(row.credits_consumed or 0) == 3
        assert row.request == {"details": candidates}
        assert KEY not in str(row.request) and KEY not in str(row.response_headers)
        assert (row.source_name or "").endswith("/api/v1/people/bulk_match")
        leads = s.scalars(select(Lead).where(Lead.apollo_id.in_([p["id"] for p in people[80:83]]))).all()
        assert len(leads) == 3 and all(lead.enriched_at is not None for lead in leads)


def test_candidates_without_identity_are_rejected_not_sent(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    result = enrich_people(
        db,
        client,
        [{"title": "CEO"}, {"id": people[90]["id"]}, {"email": "email_not_unlocked@domain.com"}],
        max_age=MONTHS_6,
        credit_budget=None,
    )
    assert [r.index for r in result.rejected] == [0, 2]
    assert result.requested == 1


def test_erased_leads_are_never_bought_back(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    p = people[95]
    _pool(db, [p])
    with session_scope(db) as s:
        s.execute(
            text(
                "UPDATE leads SET erased_at = now(), enriched_at = now() - interval '3 years' WHERE apollo_id = :id"
            ),
            {"id": p["id"]},
        )
    result = enrich_people(db, client, [{"id": p["id"]}], max_age=MONTHS_6, credit_budget=None)
    assert result.skipped_erased == 1 and result.requested == 0 and fake.credits_charged == 0


def test_search_and_enrich_brings_new_leads_until_want(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    construction = [
        p for p in people if p["organization"] and p["organization"]["industry"] == "construction"
    ]
    assert len(construction) >= 12
    already = construction[:4]
    _pool(db, already)
    result = search_and_enrich(
        db,
        client,
        {"q_keywords": "construction"},
        want=5,
        max_pages=None,
        max_age=MONTHS_6,
        credit_budget=None,
        per_page=3,
    )
    assert len(result.new_lead_ids) == 5 and result.stop_reason == "want"
    assert result.skipped_in_pool == 4
    assert result.credits_consumed == 5 == fake.credits_charged
    enriched_ids = {
        d["id"] for r in fake.request_log if r.endpoint == "people/bulk_match" for d in r.params["details"]
    }
    assert not enriched_ids & {p["id"] for p in already}
    with session_scope(db) as s:
        pages = s.scalars(select(RawPayload).where(RawPayload.endpoint == "mixed_people/api_search")).all()
        assert len(pages) == result.pages >= 3
        searched = [r for r in fake.request_log if r.endpoint == "mixed_people/api_search"]
        assert [p.body for p in pages] == [r.response_body for r in searched]
        assert all(float(p.credits_consumed or 0) == 0 for p in pages)
        assert pages[0].apollo_person_ids == [
            row["id"] for row in result_page_rows(searched[0].response_body)
        ]


def result_page_rows(body: str) -> list[dict[str, Any]]:
    import json

    rows: list[dict[str, Any]] = json.loads(body)["people"]
    return rows


def test_search_and_enrich_stops_on_budget_pages_or_exhaustion(
    db: Database, fake: FakeApollo, client: ApolloClient
) -> None:
    by_budget = search_and_enrich(
        db,
        client,
        {"person_seniorities": ["manager", "senior"]},
        want=50,
        max_pages=None,
        max_age=MONTHS_6,
        credit_budget=5,  # 4 people at the 1.25 per-record reserve (apollo.md 2.4)
    )
    assert (
        by_budget.stopped_by_budget and by_budget.credits_consumed == 4 and by_budget.stop_reason == "budget"
    )

    by_pages = search_and_enrich(
        db,
        client,
        {"person_seniorities": ["entry"]},
        want=500,
        max_pages=1,
        max_age=MONTHS_6,
        credit_budget=None,
        per_page=2,
    )
    assert by_pages.pages == 1 and by_pages.stop_reason == "pages" and len(by_pages.new_lead_ids) == 2

    owners = search_and_enrich(
        db,
        client,
        {"person_seniorities": ["owner"]},
        want=500,
        max_pages=None,
        max_age=MONTHS_6,
        credit_budget=None,
    )
    assert owners.stop_reason == "exhausted"
    assert len(owners.new_lead_ids) == owners.searched - owners.skipped_in_pool


def test_an_outage_mid_run_keeps_what_was_bought_and_reports_its_credits(
    db: Database, fake: FakeApollo, people: list[dict[str, Any]]
) -> None:
    sleeps: list[float] = []
    client = ApolloClient(KEY, base_url=fake.base_url, max_retries=1, backoff_base=0.001, sleep=sleeps.append)
    candidates = [{"id": p["id"]} for p in people[100:115]]
    fake.fail_next(1, status=503, after=1)  # the first bulk call works, the second gets a 503
    with pytest.raises(ChargeUncertain) as err:
        enrich_people(db, client, candidates, max_age=MONTHS_6, credit_budget=None)
    # the paid call that failed is not sent again (Apollo may have charged for it): it is booked
    # at its worst case, 5 people at the price it was budgeted at (the 1.25 reserve, though the
    # first call cost 1 each: apollo.md 2.4), so the day's budget cannot be overspent
    assert fake.count("people/bulk_match") == 2
    partial = err.value.partial
    assert partial is not None and partial.stop_reason == "error"
    assert partial.credits_consumed == 16.25 and len(partial.new_lead_ids) == 10
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(RawPayload)) == 2
        assert spent_today(s, datetime.now(UTC)) == 16.25
    # a rerun after the outage pays only for the five still missing
    rerun = enrich_people(db, client, candidates, max_age=MONTHS_6, credit_budget=None)
    assert rerun.requested == 5 and rerun.skipped_already_fresh == 10
    assert fake.credits_charged == 15


def test_rate_limited_bulk_call_is_retried_without_paying_twice(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    fake.fail_next(1, status=429, retry_after="1")
    result = enrich_people(
        db, client, [{"id": p["id"]} for p in people[:4]], max_age=MONTHS_6, credit_budget=None
    )
    assert result.credits_consumed == 4 == fake.credits_charged
    assert (
        fake.count("people/bulk_match", status=429) == 1 and fake.count("people/bulk_match", status=200) == 1
    )
