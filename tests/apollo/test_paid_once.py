"""Nothing is paid for twice, and nothing paid for is lost: the enrichment edge cases.

Apollo charges again for a repeat call (apollo.md 3), so a paid call whose answer was lost is
booked at its worst case and not sent again; a person Apollo holds under a second id is bought
once; and a paid response is kept whatever the import makes of the people in it.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from leadpool.allocation.refill import TransientRetry, is_transient, spent_today
from leadpool.apollo.client import ApolloClient
from leadpool.apollo.enrich import enrich_people, search_and_enrich
from leadpool.apollo.errors import ApolloError, ChargeUncertain
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_files, import_people
from leadpool.privacy.erase import erase

KEY = "paid-once-key"
MONTHS_3 = timedelta(days=90)


class LateBulkMatch(FakeApollo):
    """Apollo answers (and charges for) the first bulk_match after the client stopped waiting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._late = threading.Event()

    def handle(self, method: str, path: str, query: Any, headers: Any, body: Any) -> Any:
        out = super().handle(method, path, query, headers, body)
        if path.endswith("people/bulk_match") and not self._late.is_set():
            self._late.set()
            time.sleep(1.0)
        return out


def _people(n: int, seed: int) -> list[dict[str, Any]]:
    return [p for p in generate_people(80, seed, duplicate_rate=0.0) if p["email"] and p["linkedin_url"]][:n]


def _client(fake: FakeApollo, **kwargs: Any) -> ApolloClient:
    return ApolloClient(KEY, base_url=fake.base_url, sleep=lambda s: None, rng=random.Random(1), **kwargs)


def _paid(db: Database) -> tuple[int, float]:
    with session_scope(db) as s:
        n, credits = s.execute(
            text(
                "SELECT count(*), coalesce(sum(credits_consumed), 0) FROM raw_payloads "
                "WHERE endpoint = 'people/bulk_match'"
            )
        ).one()
    return int(n), float(credits)


def test_a_paid_call_that_timed_out_is_booked_and_not_bought_again(db: Database) -> None:
    people = _people(2, 7)
    with LateBulkMatch(people=people, api_key=KEY) as fake:
        client = _client(fake, timeout=0.3, backoff_base=0.001)
        with pytest.raises(ChargeUncertain) as err:
            enrich_people(db, client, [{"id": p["id"]} for p in people], max_age=MONTHS_3, credit_budget=None)
        charged, calls = fake.credits_charged, fake.count("people/bulk_match")
    assert calls == 1 and charged == 2
    # booked at the worst case the call was budgeted at: no answer showed the price yet, so the
    # cautious 1.25 a record (Apollo may charge fractions above 1), not 1
    assert err.value.partial.credits_consumed == 2.5
    with session_scope(db) as s:
        assert spent_today(s, datetime.now(UTC)) == 2.5  # the day's budget knows what may have been paid
        headers, body = s.execute(text("SELECT response_headers, body FROM raw_payloads")).one()
    assert body == "" and "ReadTimeout" in headers["_leadpool"]["error"]
    # the refill job is not retried either: a retry would buy the same people again
    assert not is_transient(err.value)

    class Job:
        attempts = 0

    assert TransientRetry().get_retry_decision(exception=err.value, job=Job()) is None  # type: ignore[arg-type]


def test_a_person_apollo_holds_under_a_second_id_is_bought_once(db: Database) -> None:
    (person,) = _people(1, 11)
    twin = copy.deepcopy(person)
    twin["id"] = "f" * 24  # Apollo's duplicate record of the same person
    with FakeApollo(people=[person, twin], api_key=KEY) as fake:
        client = _client(fake)
        runs = [
            search_and_enrich(db, client, {}, want=5, max_pages=1, max_age=MONTHS_3, credit_budget=None)
            for _ in range(3)
        ]
        # and enriching by the second id within max_age: bought already
        again = enrich_people(db, client, [{"id": twin["id"]}], max_age=MONTHS_3, credit_budget=None)
        charged = fake.credits_charged
    with session_scope(db) as s:
        assert s.execute(text("SELECT count(*) FROM leads")).scalar_one() == 1
    assert charged == 2  # the first run buys both records (unknowable up front), later runs nothing
    assert [r.requested for r in runs] == [2, 0, 0] and runs[2].skipped_in_pool == 2
    assert again.requested == 0 and again.skipped_already_fresh == 1


def test_a_person_an_earlier_call_of_the_run_bought_is_not_bought_again_by_address(db: Database) -> None:
    """A run given someone by Apollo id and, further on, by the LinkedIn URL or email the first
    call's answer revealed, bought them twice: the pool was read once, before the first call.
    Each call's people are now checked against the pool just before it is sent."""
    first, *others = _people(12, seed=31)
    candidates = [{"id": p["id"]} for p in [first, *others[:9]]]
    candidates += [
        {"linkedin_url": first["linkedin_url"]},
        {"email": first["email"]},
        {"id": others[9]["id"]},
    ]
    with FakeApollo(people=[first, *others], api_key=KEY) as fake:
        result = enrich_people(db, _client(fake), candidates, max_age=MONTHS_3, credit_budget=None)
        charged = fake.credits_charged
    assert (result.requested, charged, result.skipped_already_fresh) == (11, 11, 2), result.summary()
    assert len(result.new_lead_ids) == 11


def test_a_paid_response_naming_an_erased_person_keeps_the_others(db: Database) -> None:
    gone, other = _people(2, 5)
    twin = copy.deepcopy(gone)
    twin["id"] = "e" * 24  # Apollo's second record of the person we erased
    lead_id = import_people(db, [gone], endpoint="people/match").lead_ids[0]
    with session_scope(db) as s:
        erase(s, lead_id, actor="dpo")
    with FakeApollo(people=[twin, other], api_key=KEY) as fake:
        result = search_and_enrich(
            db, _client(fake), {}, want=5, max_pages=1, max_age=MONTHS_3, credit_budget=None
        )
        charged = fake.credits_charged
    assert [r.reason for r in result.rejected] == ["erased person"]
    assert _paid(db) == (1, charged)
    with session_scope(db) as s:
        body, ids = s.execute(
            text("SELECT body, apollo_person_ids FROM raw_payloads WHERE endpoint = 'people/bulk_match'")
        ).one()
        linked = s.execute(
            text(
                "SELECT count(*) FROM lead_raw_payloads lr JOIN leads l ON l.id = lr.lead_id WHERE l.apollo_id = :a"
            ),
            {"a": other["id"]},
        ).scalar_one()
    assert other["id"] in body and gone["email"] not in body and twin["id"] not in body
    assert ids == [other["id"]] and linked == 1


def test_a_paid_response_is_kept_when_its_only_person_is_refused(db: Database) -> None:
    person = copy.deepcopy(_people(1, 3)[0])
    person["headline"] = "VP Sales\x00"  # PostgreSQL cannot store NUL in text
    with FakeApollo(people=[person], api_key=KEY) as fake:
        result = enrich_people(
            db, _client(fake), [{"id": person["id"]}], max_age=MONTHS_3, credit_budget=None
        )
        charged = fake.credits_charged
    assert len(result.rejected) == 1 and charged == 1
    assert _paid(db) == (1, 1.0)


def test_a_paid_person_with_one_oddly_typed_field_is_kept(db: Database) -> None:
    """Apollo's types are "known at least" (apollo.md): a paid answer whose person says
    ``founded_year: "2014"`` and ``seniority: 7`` rejected the whole person, who still counted as
    bought, so was never bought again: paid for and unusable for good. Now the person is stored,
    the odd values kept aside (``invalid_fields``), their columns left empty."""
    odd, other = _people(2, seed=17)
    odd = copy.deepcopy(odd)
    odd["organization"]["founded_year"] = "2014"
    odd["organization"]["estimated_num_employees"] = {"min": 10}
    odd["departments"] = "sales"
    with FakeApollo(people=[odd, other], api_key=KEY) as fake:
        c = _client(fake)
        first = enrich_people(
            db, c, [{"id": odd["id"]}, {"id": other["id"]}], max_age=MONTHS_3, credit_budget=None
        )
        again = enrich_people(db, c, [{"id": odd["id"]}], max_age=MONTHS_3, credit_budget=None)
        charged = fake.credits_charged
    assert first.rejected == [] and len(first.new_lead_ids) == 2
    assert charged == 2 and again.requested == 0
    with session_scope(db) as s:
        lead_extra, departments, company_extra, founded, employees = s.execute(
            text(
                "SELECT l.extra, l.departments, c.extra, c.founded_year, c.estimated_num_employees "
                "FROM leads l JOIN companies c ON c.id = l.company_id WHERE l.apollo_id = :a"
            ),
            {"a": odd["id"]},
        ).one()
    assert lead_extra["invalid_fields"] == {"departments": "sales"} and departments is None
    assert company_extra["invalid_fields"] == {"founded_year": "2014", "estimated_num_employees": {"min": 10}}
    # no odd value reached a typed column (a company's known count is not overwritten by nothing)
    assert founded is None and employees != {"min": 10}


class AliasApollo(FakeApollo):
    """Apollo holds the person under two ids: search lists the alias, bulk_match answers with the
    person's canonical record (another id)."""

    def __init__(self, alias: str, canonical: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.alias, self.canonical = alias, canonical

    def _bulk_match(self, params: dict[str, Any]) -> tuple[int, Any]:
        status, payload = super()._bulk_match(params)
        for i, m in enumerate(payload.get("matches") or []):
            if m is not None and m["id"] == self.alias:
                payload["matches"][i] = copy.deepcopy(m) | {"id": self.canonical}
        return status, payload


def test_a_person_answered_under_another_id_than_asked_is_not_bought_again(db: Database) -> None:
    """Only the ids in the answer were recorded, so the search's id (the alias) looked new at
    every refill and the person was bought each time."""
    (person,) = _people(1, seed=21)
    with AliasApollo(person["id"], "c" * 24, people=[person], api_key=KEY) as fake:
        c = _client(fake)
        runs = [
            search_and_enrich(db, c, {}, want=5, max_pages=1, max_age=MONTHS_3, credit_budget=None)
            for _ in range(3)
        ]
        charged = fake.credits_charged
    assert [r.requested for r in runs] == [1, 0, 0] and charged == 1
    assert [r.skipped_in_pool for r in runs] == [0, 1, 1]


def test_a_second_apollo_id_imported_from_a_file_is_not_bought_again(db: Database, tmp_path: Path) -> None:
    """An export listing the person twice, under two Apollo ids (same email and LinkedIn URL),
    makes one lead keeping the first id; a refill whose search lists the second bought them."""
    (person,) = _people(1, seed=13)
    twin = copy.deepcopy(person) | {"id": "d" * 24}
    f = tmp_path / "export.jsonl"
    f.write_bytes(orjson.dumps(person) + b"\n" + orjson.dumps(twin) + b"\n")
    import_files(db, [f], rejects_path=tmp_path / "rejects.jsonl")
    with session_scope(db) as s:
        assert s.execute(text("SELECT count(*) FROM leads")).scalar_one() == 1
    with FakeApollo(people=[twin], api_key=KEY) as fake:
        res = search_and_enrich(
            db, _client(fake), {}, want=5, max_pages=1, max_age=MONTHS_3, credit_budget=None
        )
        charged = fake.credits_charged
    assert (res.requested, res.skipped_in_pool, charged) == (0, 1, 0), res.summary()


@pytest.mark.parametrize(
    "body",
    ['{"status": "success", "credits_consumed": 2, "matches": [{"id": "x"', '{"status": "success"}'],
    ids=["cut-short", "no-matches"],
)
def test_a_paid_200_that_cannot_be_read_is_booked_and_not_sent_again(db: Database, body: str) -> None:
    """Apollo answered a paid bulk_match with 200 (it processed the call, and may have charged for
    it) but the body is cut short, or has no matches: nothing was booked, so the day's budget
    left the call out. It is now a charge of uncertain size, booked at the worst case."""
    ps = _people(2, seed=23)
    with FakeApollo(people=ps, api_key=KEY) as fake:
        fake.fail_next(1, status=200, body=body)
        with pytest.raises(ChargeUncertain, match="not sent again"):
            enrich_people(
                db, _client(fake), [{"id": p["id"]} for p in ps], max_age=MONTHS_3, credit_budget=None
            )
        assert fake.count("people/bulk_match") == 1
    assert _paid(db) == (1, 2.5)  # 2 people at the unpriced rate, 1.25
    with session_scope(db) as s:
        assert spent_today(s, datetime.now(UTC)) == 2.5


@pytest.mark.parametrize("charged", [0, 0.02], ids=["nothing", "a-fraction"])
def test_a_paid_200_carrying_an_error_is_booked_at_what_it_says_it_charged(
    db: Database, charged: float
) -> None:
    """Apollo answered a bulk_match with 200, an error and no matches, but its body says what the
    call cost (``credits_consumed``, apollo.md 2.4): it was booked at the worst case anyway, so a
    refused call ate 1.25 credits a person of the day's budget. Now the booking becomes the
    refused call's row at what Apollo says it charged (the caller's ledger too), and the run
    stops naming Apollo's error."""
    ps = _people(2, seed=29)
    body = orjson.dumps(
        {
            "status": "failed",
            "error_code": "INSUFFICIENT_CREDITS",
            "error_message": "You have run out of export credits",
            "credits_consumed": charged,
        }
    ).decode()
    with FakeApollo(people=ps, api_key=KEY) as fake:
        fake.fail_next(1, status=200, body=body)
        ledger: list[Decimal] = []
        with pytest.raises(ApolloError, match="run out of export credits") as err:
            enrich_people(
                db,
                _client(fake),
                [{"id": p["id"]} for p in ps],
                max_age=MONTHS_3,
                credit_budget=None,
                on_credits=lambda _s, change: ledger.append(change),
            )
        assert fake.count("people/bulk_match") == 1
    assert not isinstance(err.value, ChargeUncertain)
    assert err.value.partial.credits_consumed == charged and err.value.partial.requested == 2
    assert _paid(db) == (1, charged) and sum(ledger) == Decimal(str(charged))
    with session_scope(db) as s:
        assert spent_today(s, datetime.now(UTC)) == Decimal(str(charged))
        headers, request = s.execute(
            text("SELECT response_headers, request FROM raw_payloads WHERE endpoint = 'people/bulk_match'")
        ).one()
    assert "run out of export credits" in headers["_leadpool"]["error"]
    assert request == {"details": [{"id": p["id"]} for p in ps]}  # where an erasure finds them
