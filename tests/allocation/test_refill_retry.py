"""Review: the refill job's allocate-first retry (commit 9b06328)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.allocation.factories import make_agency, make_campaign, make_company, make_leads

# the refill tests' fake Apollo (construction people, no HTTP retries) and its key
from tests.allocation.test_refill import KEY, construction_people, fake  # noqa: F401

from leadpool.allocation.allocate import allocate
from leadpool.allocation.refill import list_refill_jobs, run_refill
from leadpool.apollo.client import ApolloClient
from leadpool.apollo.errors import RateLimited
from leadpool.apollo.fake import FakeApollo
from leadpool.db import Database, session_scope


def test_a_retried_refill_counts_what_its_earlier_try_already_allocated(
    db: Database,
    fake: FakeApollo,  # noqa: F811
) -> None:
    """run_refill's new first step allocates ``requested`` (the job's whole shortfall) on every
    try, ignoring what earlier tries of the same job already allocated. A try that allocated 3
    pool leads and then hit a 429 is retried: the retry again asks for all 10, buys 10 new
    people instead of 7, and the job ends with 13 leads allocated for a shortfall of 10
    (refill.py ~226: ``allocate(..., int(requested), ...)``; fix: ask for requested minus the
    job's ``allocated`` so far)."""
    with session_scope(db) as s:
        camp = make_campaign(s, make_agency(s), icp={"industries": ["construction"]}, daily_quota=100)
    with session_scope(db) as s:
        res = allocate(s, camp, 10)
    assert res.refill_job_id is not None and res.shortfall == 10
    with session_scope(db) as s:
        # meanwhile an import brings 3 matching people into the pool
        make_leads(s, 3, company_id=make_company(s))
    fake.fail_next(1, status=429)  # the first try's search is rate limited
    with ApolloClient(KEY, base_url=fake.base_url, max_retries=0) as client, pytest.raises(RateLimited):
        run_refill(db, res.refill_job_id, client=client)
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
        owned = s.execute(text("SELECT count(*) FROM ownerships")).scalar_one()
    assert view.status == "queued" and view.allocated == 3 and owned == 3
    with ApolloClient(KEY, base_url=fake.base_url, max_retries=0) as client:  # the queue's retry
        out = run_refill(db, res.refill_job_id, attempts=1, client=client)
    with session_scope(db) as s:
        (view,) = list_refill_jobs(s)
        owned = s.execute(text("SELECT count(*) FROM ownerships")).scalar_one()
    assert out.status == "done"
    assert owned == 10 and view.allocated == 10, f"{owned} leads allocated for a shortfall of 10"
    assert fake.credits_charged <= 7, f"bought {fake.credits_charged} people when 7 were still short"
