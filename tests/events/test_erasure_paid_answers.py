"""An erased person Apollo answers with again (under a second Apollo id it holds her by, or in a
document imported later) is never committed to ``raw_payloads`` with her record: she is taken out
in the transaction that stores the answer, so a worker killed right after it leaves nothing of
hers. And the second id is remembered (a keyed hash among the erasure's suppressions): the next
search skips her row and buys nothing, the stored search pages lose her row, and a file carrying
only that id is refused."""

from __future__ import annotations

import copy
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.events.test_erasure_person_traces import ERIN, scan

import leadpool.apollo.enrich as enrich_mod
import leadpool.privacy.payloads as payloads_mod
from leadpool.apollo.client import ApolloClient
from leadpool.apollo.enrich import enrich_people, search_and_enrich
from leadpool.apollo.fake import FakeApollo
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_files, import_people
from leadpool.privacy import erase

KEY = "erasure-paid-answers-key"


class WorkerKilled(BaseException):
    """Stands for SIGKILL/OOM at this point of the job: nothing after it runs."""


def _erased_erin(db: Database) -> None:
    [erin] = import_people(db, [ERIN], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        erase(s, erin, actor="dpo")
    assert not scan(db, ["erinyes", "zabrowski"])


def _erased_erin_held_twice(db: Database) -> dict:
    [erin] = import_people(db, [ERIN], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        erase(s, erin, actor="dpo")
    second = copy.deepcopy(ERIN)
    second["id"] = "apollo-erin-second-id"
    return second


def _refill(db: Database, fake: FakeApollo):
    client = ApolloClient(KEY, base_url=fake.base_url, sleep=lambda s: None, rng=random.Random(1))
    return search_and_enrich(
        db,
        client,
        {"person_titles": ["CFO"]},
        want=5,
        max_pages=1,
        max_age=timedelta(days=180),
        credit_budget=None,
    )


def test_a_paid_answer_naming_an_erased_person_under_another_id_never_holds_her_committed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _erased_erin(db)
    # Apollo holds her under a second id too (a search listed her so): asked by it, it answers with her
    second = copy.deepcopy(ERIN)
    second["id"] = "apollo-erin-second-id"
    with FakeApollo(people=[second], api_key=KEY) as fake:
        client = ApolloClient(KEY, base_url=fake.base_url, sleep=lambda s: None, rng=random.Random(1))

        def killed(*args: Any, **kwargs: Any) -> Any:
            raise WorkerKilled  # the worker dies once the answer is stored, before the import runs

        monkeypatch.setattr(enrich_mod, "import_people", killed)
        with pytest.raises(WorkerKilled):
            enrich_people(
                db, client, [{"id": "apollo-erin-second-id"}], max_age=timedelta(days=1), credit_budget=None
            )
    found = scan(db, ["erinyes", "zabrowski"])
    assert not found, found


def test_an_imported_document_naming_an_erased_person_never_holds_her_committed(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _erased_erin(db)
    olaf = {"id": "apollo-olaf", "email": "olaf.other@othercorp.com", "first_name": "Olaf"}
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"people": [ERIN, olaf]}))

    def killed(*args: Any, **kwargs: Any) -> None:
        raise WorkerKilled  # the import process dies right after the batch committed

    monkeypatch.setattr(payloads_mod, "redact_people_rows", killed)
    with pytest.raises(WorkerKilled):
        import_files(db, [page])
    found = scan(db, ["erinyes", "zabrowski"])
    assert not found, found


def test_control_without_a_kill_both_are_taken_out(db: Database, tmp_path: Path) -> None:
    """Nothing killed: both are taken out as well."""
    _erased_erin(db)
    second = copy.deepcopy(ERIN)
    second["id"] = "apollo-erin-second-id"
    with FakeApollo(people=[second], api_key=KEY) as fake:
        client = ApolloClient(KEY, base_url=fake.base_url, sleep=lambda s: None, rng=random.Random(1))
        enrich_people(
            db, client, [{"id": "apollo-erin-second-id"}], max_age=timedelta(days=1), credit_budget=None
        )
    olaf = {"id": "apollo-olaf", "email": "olaf.other@othercorp.com", "first_name": "Olaf"}
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"people": [ERIN, olaf]}))
    import_files(db, [page])
    assert not scan(db, ["erinyes", "zabrowski"])


def test_the_search_page_keeps_no_teaser_row_of_an_erased_person_under_a_second_id(db: Database) -> None:
    second = _erased_erin_held_twice(db)
    with FakeApollo(people=[second], api_key=KEY) as fake:
        result = _refill(db, fake)
    assert result.new_lead_ids == [] and result.skipped_erased + len(result.rejected) >= 1  # refused, ok
    found = scan(db, ["erinyes"])
    assert not found, found


def test_an_erased_person_under_a_second_id_is_not_bought_again_by_the_next_refill(db: Database) -> None:
    second = _erased_erin_held_twice(db)
    with FakeApollo(people=[second], api_key=KEY) as fake:
        first = _refill(db, fake)
        again = _refill(db, fake)
    assert first.requested == 1  # the first time nobody could know
    assert again.requested == 0 and again.credits_consumed == 0, (
        f"the erased person was bought again: requested={again.requested}, credits={again.credits_consumed}"
    )


def test_a_file_carrying_only_her_second_id_is_refused(db: Database, tmp_path: Path) -> None:
    second = _erased_erin_held_twice(db)
    with FakeApollo(people=[second], api_key=KEY) as fake:
        _refill(db, fake)  # the paid answer shows who the second id is
    only_the_id = {"id": "apollo-erin-second-id", "first_name": "Erinyes", "title": "CFO"}
    page = tmp_path / "export.json"
    page.write_text(json.dumps({"people": [only_the_id]}))
    result = import_files(db, [page])
    assert [r.reason for r in result.rejected] == ["erased person"]
    assert not scan(db, ["erinyes"])
