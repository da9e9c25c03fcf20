"""Apollo client limits and refill retries: per_page/page bounds, Retry-After carried to the job-level
retry, a retried refill buying only the rest of its shortfall, and fractional credits within budget.
Only the fake Apollo server on 127.0.0.1 is used (tests/apollo/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.allocation.factories import make_agency, make_campaign

# the refill tests' fake Apollo (construction people, no HTTP retries) and its key
from tests.allocation.test_refill import KEY, construction_people, fake  # noqa: F401

from leadpool.allocation.allocate import allocate
from leadpool.allocation.refill import TransientRetry, list_refill_jobs, retry_delay, run_refill
from leadpool.apollo.client import ApolloClient
from leadpool.apollo.errors import ApolloRequestError, RateLimited
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people
from leadpool.db import Database, session_scope


def test_per_page_over_100_is_refused_or_pages_through_everything() -> None:
    """apollo.md 2.1: per_page <= 100. A caller asking for 200 per page must either be refused
    clearly or still get every result; the client computed total_pages from the per_page it asked
    for (200) while Apollo serves 100, so it stopped half-way and silently dropped people."""
    people = list(generate_people(300, 3, duplicate_rate=0.0))
    with FakeApollo(people, api_key=KEY) as server, ApolloClient(KEY, base_url=server.base_url) as client:
        try:
            pages = list(client.iter_search_people({}, per_page=200))
        except (ApolloRequestError, ValueError):
            return  # refused clearly: fine
        seen = {p["id"] for page in pages for p in page.people}
    assert len(seen) == len({p["id"] for p in people}), f"got {len(seen)} of {len(people)} people"


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda c: list(c.iter_search_people({}, per_page=200)), "per_page"),
        (lambda c: c.search_people({}, per_page=0), "per_page"),
        (lambda c: c.search_people({}, page=501), "page"),
        (lambda c: list(c.iter_search_people({}, start_page=0)), "page"),
        (lambda c: c.legacy_search_people({}, per_page=101), "per_page"),
    ],
)
def test_paging_outside_apollos_limits_is_refused_before_sending(call: Any, named: str) -> None:
    """apollo.md 2.1/2.2: page 1..500, per_page 1..100; refused with the parameter named."""
    with FakeApollo([], api_key=KEY) as server, ApolloClient(KEY, base_url=server.base_url) as client:
        with pytest.raises(ApolloRequestError, match=rf"\b{named} must be 1\.\.") as info:
            call(client)
        assert server.request_log == []
    assert info.value.http_status is None


def test_paging_follows_the_pagination_apollo_reports() -> None:
    """Legacy search states its paging in ``pagination``: the page is read from it (a guard for
    the shared page parsing; the fake's api_search answers with top-level total_entries only)."""
    people = list(generate_people(150, 4, duplicate_rate=0.0))
    with FakeApollo(people, api_key=KEY) as server, ApolloClient(KEY, base_url=server.base_url) as client:
        page = client.legacy_search_people({}, per_page=100)
    assert page.per_page == 100 and page.total_entries == len(people) and page.total_pages == 2


def test_job_level_retry_honours_retry_after(fake: FakeApollo) -> None:  # noqa: F811
    """A 429 asking to come back in 600 s: the client gives up (no quick retries left) with
    RateLimited, and the queue's retry strategy claims to wait "at least what a Retry-After header
    asked for" (refill.retry_delay). The error never carries the header, so the job is retried on
    the plain backoff (0 s here) and burns its attempts against a closed window."""
    fake.fail_next(1, status=429, retry_after="600")
    with (
        ApolloClient(KEY, base_url=fake.base_url, max_retries=0) as client,
        pytest.raises(RateLimited) as info,
    ):
        client.search_people({"q_keywords": "construction"})

    class Job:
        attempts = 0

    assert TransientRetry().get_retry_decision(exception=info.value, job=Job()) is not None  # type: ignore[arg-type]
    assert retry_delay(info.value, 0) >= 600


def test_rate_limit_windows_are_carried_past_max_wait() -> None:
    """No Retry-After, but the hourly budget is spent: the job-level retry waits for the next
    hourly window, not the client's in-call cap (max_wait)."""
    clock = [7200.0 + 600.0]  # ten minutes into an hour
    people = list(generate_people(20, 5, duplicate_rate=0.0))
    with FakeApollo(people, api_key=KEY, hourly_limit=1, clock=lambda: clock[0]) as server:
        client = ApolloClient(
            KEY,
            base_url=server.base_url,
            max_retries=0,
            max_wait=5,
            clock=lambda: clock[0],
            sleep=lambda _s: None,
        )
        with client:
            client.search_people({})  # spends the hour
            with pytest.raises(RateLimited) as info:
                client.search_people({})
    assert info.value.retry_after is not None and 3000 <= info.value.retry_after <= 3001
    assert retry_delay(info.value, 0) >= 3000


def test_refill_retry_does_not_buy_more_than_the_shortfall(db: Database, fake: FakeApollo) -> None:  # noqa: F811
    """Issue 3 item 7: the shortfall becomes an enrichment job. A job that bought 10 new people,
    then hit a 429 and was retried, must only look for the rest of the shortfall: the retry starts
    over with the full ``requested`` and buys that many *more* new people."""
    with session_scope(db) as s:
        camp = make_campaign(s, make_agency(s), icp={"industries": ["construction"]}, daily_quota=15)
    with session_scope(db) as s:
        res = allocate(s, camp, 15)
    assert res.refill_job_id is not None and res.shortfall == 15
    # the search page and the first bulk_match (10 people, paid) go through; the second is a 429
    fake.fail_next(1, status=429, after=2)
    with ApolloClient(KEY, base_url=fake.base_url, max_retries=0) as client, pytest.raises(RateLimited):
        run_refill(db, res.refill_job_id, client=client)
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
    assert view.status == "queued" and fake.credits_charged == 10
    with ApolloClient(KEY, base_url=fake.base_url, max_retries=0) as client:  # the queue's retry
        out = run_refill(db, res.refill_job_id, attempts=1, client=client)
    assert out.status == "done" and out.allocated == 15
    assert fake.credits_charged <= 15, f"bought {fake.credits_charged} people for a shortfall of 15"


def test_credit_budget_holds_with_documented_fractional_credits(db: Database) -> None:
    """apollo.md 2.4/3: bulk_match's ``credits_consumed`` "may be fractional e.g. 1.01" per record
    (and a record can cost more than one credit). enrich_people promises never to start a call
    whose worst-case cost would take the run past ``credit_budget``, but prices every record at
    exactly 1.0 (and never learns from the credits Apollo reports), so a budget of 10 buys 10.1."""
    from datetime import timedelta

    from leadpool.apollo.enrich import enrich_people

    people = [p for p in generate_people(200, 5, duplicate_rate=0.0) if p.get("email")][:10]
    with FakeApollo(people, api_key=KEY, credit_per_match=1.01) as server:
        with ApolloClient(KEY, base_url=server.base_url, max_retries=0) as client:
            result = enrich_people(
                db, client, [{"id": p["id"]} for p in people], max_age=timedelta(days=90), credit_budget=10
            )
        charged = server.credits_charged
    assert result.credits_consumed <= 10 and charged <= 10, f"budget 10, spent {charged}"


def test_later_calls_are_priced_at_the_highest_cost_seen(db: Database) -> None:
    """A record costing 1.5: after the first response, calls are sized at that price (the
    unpriced first-call guess alone would let the second call take the run to 21 of 20)."""
    from datetime import timedelta

    from leadpool.apollo.enrich import enrich_people

    people = [p for p in generate_people(200, 6, duplicate_rate=0.0) if p.get("email")][:25]
    with FakeApollo(people, api_key=KEY, credit_per_match=1.5) as server:
        with ApolloClient(KEY, base_url=server.base_url, max_retries=0) as client:
            result = enrich_people(
                db, client, [{"id": p["id"]} for p in people], max_age=timedelta(days=90), credit_budget=20
            )
        sizes = [len(r.params["details"]) for r in server.request_log]
        charged = server.credits_charged
    assert sizes == [10, 3] and charged == result.credits_consumed == 19.5
    assert result.stopped_by_budget and result.stop_reason == "budget"


class _PriceRises(FakeApollo):
    """The first bulk_match is charged 1 credit per record, later ones 1.01 (apollo.md 2.4:
    ``credits_consumed`` "may be fractional e.g. 1.01")."""

    def _bulk_match(self, params: dict[str, Any]) -> tuple[int, Any]:
        out = super()._bulk_match(params)
        self.credit_per_match = 1.01
        return out


def test_a_fractional_price_after_the_first_answer_stays_within_the_budget(db: Database) -> None:
    """apollo.md 2.4: the per-record price may be fractional, and it may move within a run (1.0
    for the first call, 1.01 after). A price of 1.0 seen must not lower the per-record reserve the
    next calls are sized at below the cautious unpriced 1.25: sized at 1.0, 10 more records at
    1.01 took a budget of 20 to 20.1."""
    from datetime import timedelta

    from leadpool.apollo.enrich import enrich_people

    people = [p for p in generate_people(200, 41, duplicate_rate=0.0) if p.get("email")][:30]
    with _PriceRises(people, api_key=KEY) as server:
        with ApolloClient(KEY, base_url=server.base_url, max_retries=0) as client:
            result = enrich_people(
                db, client, [{"id": p["id"]} for p in people], max_age=timedelta(days=90), credit_budget=20
            )
        sizes = [len(r.params["details"]) for r in server.request_log]
        charged = server.credits_charged
    assert result.stopped_by_budget and result.stop_reason == "budget"
    assert charged == pytest.approx(result.credits_consumed) and charged <= 20, f"budget 20, spent {charged}"
    assert sizes == [10, 8, 1]  # 10 x 1.25 fit in 20; then 8 x 1.25 in the 10 left; then 1 in 1.92
