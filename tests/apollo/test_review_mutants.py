"""Tests written while mutation-testing Apollo enrichment: each pins a rule whose wrong version
the suite did not notice (the mutant it kills is named in its docstring)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from leadpool.apollo.client import ApolloClient
from leadpool.apollo.enrich import enrich_people
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people
from leadpool.db import Database

KEY = "review-mutants-key"
MONTHS_3 = timedelta(days=90)


def _people(n: int, seed: int) -> list[dict[str, Any]]:
    return [p for p in generate_people(80, seed, duplicate_rate=0.0) if p["email"] and p["linkedin_url"]][:n]


def _client(fake: FakeApollo) -> ApolloClient:
    return ApolloClient(KEY, base_url=fake.base_url, sleep=lambda s: None, rng=random.Random(1))


def test_the_same_person_twice_in_one_run_is_bought_once(db: Database) -> None:
    """A run given the same person twice (the same Apollo id, or the same email) sends them to
    ``bulk_match`` once: Apollo charges per record, even for a repeat (apollo.md 3). Dropping
    the in-run de-duplication (``_Enricher._seen``) survived the suite."""
    a, b = _people(2, 11)
    candidates = [{"id": a["id"]}, {"email": b["email"]}, {"id": a["id"]}, {"email": b["email"].upper()}]
    with FakeApollo(people=[a, b], api_key=KEY) as fake:
        res = enrich_people(db, _client(fake), candidates, max_age=MONTHS_3, credit_budget=None)
        charged = fake.credits_charged
    assert res.requested == 2 and charged == 2
    assert len(res.enriched_lead_ids) == 2


def test_the_price_is_learned_per_matched_record_when_some_are_not_found(db: Database) -> None:
    """Apollo charges for the records it matched (apollo.md 2.4): a call of 8 that matched 4 at
    1.5 credits each cost 6, i.e. 1.5 a record, not 0.75 per record sent. Priced per record
    sent (then floored at 1.0), the next call of a budget-10 run is sized at 4 records and the run
    spends 12. Pricing per record sent survived the suite (every budget test matched everyone)."""
    people = _people(10, 12)
    unknown = [{"id": f"0000000000000000000000{n:02d}"} for n in range(4)]
    candidates = [*({"id": p["id"]} for p in people[:4]), *unknown, *({"id": p["id"]} for p in people[4:])]
    with FakeApollo(people=people, api_key=KEY, credit_per_match=1.5) as fake:
        res = enrich_people(db, _client(fake), candidates, max_age=MONTHS_3, credit_budget=10)
        charged = fake.credits_charged
    assert charged <= 10 and res.credits_consumed <= 10, f"budget 10, spent {charged}"
    assert res.stopped_by_budget


def test_a_paid_call_answered_with_a_5xx_is_not_retried_by_the_refill_job() -> None:
    """A paid call (bulk_match) that got a 5xx may have been charged: it raises ChargeUncertain
    and the refill job must not be retried (a retry buys the same people again, apollo.md 3).
    The suite checked this only for a timeout, whose error carries no HTTP status, so dropping
    the ChargeUncertain rule from ``is_transient`` survived: a 502 would be retried as any 5xx."""
    from leadpool.allocation.refill import TransientRetry, is_transient
    from leadpool.apollo.errors import ChargeUncertain

    err = ChargeUncertain(
        "HTTP 502 to a paid call",
        endpoint="people/bulk_match",
        url="http://127.0.0.1/x",
        request={},
        http_status=502,
    )
    assert not is_transient(err)

    class Job:
        attempts = 0

    assert TransientRetry().get_retry_decision(exception=err, job=Job()) is None  # type: ignore[arg-type]
