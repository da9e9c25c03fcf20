"""allocate() under an idempotency key: a retry gets the first answer and nothing more, over the
service, the API and the CLI, under real concurrency; old keys go with the gate's old denials."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads
from typer.testing import CliRunner

from api import conftest as api_conftest
from api.conftest import Api
from api.world import World, build_world
from leadpool.allocation.allocate import AllocationResult, allocate
from leadpool.allocation.campaigns import pause_campaign
from leadpool.cli import app as cli
from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.errors import Conflict, InvalidInput
from leadpool.gate.retention import AUDIT_ACTION_KEYS, prune_denials

runner = CliRunner()
# the live server of the API tests, and its client, for the tests over the API
live, api = api_conftest.live, api_conftest.api
# every table a call writes to: ownership, enrollment, their history (the timeline), the audit
# log, refill bookkeeping and the queue
WRITTEN = ("ownerships", "enrollments", "lead_history", "audit_log", "refill_jobs", "procrastinate_jobs")


def _counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as c:
        return {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in WRITTEN}


def _campaign_with_leads(db: Database, leads: int) -> int:
    """An active campaign of a new agency, and ``leads`` free pool leads it matches."""
    with session_scope(db) as s:
        make_leads(s, leads, company_id=make_company(s))
        return make_campaign(s, make_agency(s))


def _answer(r: AllocationResult) -> tuple[object, ...]:
    return (
        r.lead_ids,
        r.reused,
        r.taken_from_pool,
        r.shortfall,
        r.granted,
        r.requested,
        r.refill_job_id,
        r.job_id,
        r.refill_unavailable,
    )


@pytest.fixture
def refill_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A shortfall queues a refill job (no worker runs it)."""
    monkeypatch.setenv("LEADPOOL_APOLLO_API_KEY", "not-used-no-worker-runs")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_retry_gets_the_first_answer_and_nothing_more(db: Database, refill_on: None) -> None:
    with session_scope(db) as s:
        co = make_company(s)
        make_leads(s, 3, company_id=co)
        camp = make_campaign(s, make_agency(s))
    with session_scope(db) as s:
        first = allocate(s, camp, 5, at=NOW, idempotency_key="order-1")
    assert len(first.lead_ids) == 3 and first.shortfall == 2 and first.job_id is not None
    assert not first.replayed
    with session_scope(db) as s:
        make_leads(s, 10, company_id=co)  # what a naive second run would now take
    before = _counts(db)
    with session_scope(db) as s:
        again = allocate(s, camp, 5, at=NOW, idempotency_key="order-1")
    assert again.replayed and _answer(again) == _answer(first)
    assert _counts(db) == before  # no lead, history, audit row, refill job or queued job more
    with session_scope(db) as s:  # the pool was there all along: a new key gets it
        assert len(allocate(s, camp, 5, at=NOW, idempotency_key="order-2").lead_ids) == 5


def test_a_replay_answers_whatever_the_campaign_became(db: Database) -> None:
    camp = _campaign_with_leads(db, 4)
    with session_scope(db) as s:
        first = allocate(s, camp, 2, at=NOW, idempotency_key="k")
        pause_campaign(s, camp)
    with session_scope(db) as s:
        again = allocate(s, camp, 2, at=NOW, idempotency_key="k")
    assert again.replayed and _answer(again) == _answer(first)
    with session_scope(db) as s, pytest.raises(Conflict, match="is paused"):
        allocate(s, camp, 2, at=NOW, idempotency_key="new")  # a new key is a new request


def test_the_same_key_with_another_count_is_a_conflict_naming_the_first_request(db: Database) -> None:
    camp = _campaign_with_leads(db, 10)
    with session_scope(db) as s:
        allocate(s, camp, 3, at=NOW, idempotency_key="batch-7")
    before = _counts(db)
    with session_scope(db) as s, pytest.raises(Conflict) as e:
        allocate(s, camp, 4, at=NOW, idempotency_key="batch-7")
    assert "'batch-7'" in e.value.message and f"campaign {camp}" in e.value.message
    assert "first used by the request of" in e.value.message and "for 3 lead(s)" in e.value.message
    assert "asks for 4" in e.value.message
    assert _counts(db) == before


def test_keys_are_per_campaign(db: Database) -> None:
    with session_scope(db) as s:
        make_leads(s, 10, company_id=make_company(s))
        agency = make_agency(s)
        one, two = make_campaign(s, agency), make_campaign(s, make_agency(s))
        three = make_campaign(s, agency)
    with session_scope(db) as s:
        a = allocate(s, one, 3, at=NOW, idempotency_key="same")
        b = allocate(s, two, 3, at=NOW, idempotency_key="same")
        c = allocate(s, three, 4, at=NOW, idempotency_key="same")  # another count: no conflict
    assert not (a.replayed or b.replayed or c.replayed)
    assert len(set(a.lead_ids + b.lead_ids + c.lead_ids)) == 10


@pytest.mark.parametrize(
    ("key", "message"),
    [("", "is empty"), ("   ", "is empty"), ("k" * 201, "at most 200"), ("a\x00b", "NUL"), (7, "a string")],
)
def test_a_bad_key_is_refused_naming_it(db: Database, key: object, message: str) -> None:
    with session_scope(db) as s:
        camp = make_campaign(s, make_agency(s))
    with session_scope(db) as s, pytest.raises(InvalidInput, match=f"idempotency_key: .*{message}"):
        allocate(s, camp, 1, at=NOW, idempotency_key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [None, "k-1"])
def test_a_count_past_the_largest_quota_is_refused_naming_it(db: Database, key: str | None) -> None:
    """No quota grants more than 1,000,000 leads a day, so a count past that is refused as input,
    with or without a key (under a key it once reached the key's row and came back as the
    database refusing "integer out of range", naming nothing)."""
    camp = _campaign_with_leads(db, 3)
    before = _counts(db)
    with session_scope(db) as s, pytest.raises(InvalidInput, match=r"count: .* 0 to 1,000,000 .*3000000000"):
        allocate(s, camp, 3_000_000_000, at=NOW, idempotency_key=key)
    assert _counts(db) == before


def _backend_pid(s: Session) -> int:
    return int(s.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _wait_until_blocked(db: Database, pid: int, rival: Future[object]) -> None:
    """Until the backend ``pid`` waits for a lock (fails if the rival finished instead)."""
    deadline = time.monotonic() + 20
    with db.engine.connect() as c:
        while time.monotonic() < deadline:
            assert not rival.done(), f"the second call did not wait: {rival.result()}"
            waiting = c.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar()
            if waiting == "Lock":
                return
            time.sleep(0.02)
    pytest.fail("the second call never waited for the first")


def _race(db: Database, camp: int, *, first_commits: bool) -> tuple[AllocationResult, AllocationResult]:
    """The first call allocates under a key and holds its transaction open until a second call
    under the same key, on its own connection in another thread, is blocked; then it ends."""
    pids: list[int] = []

    def second() -> AllocationResult:
        with session_scope(db) as s:
            pids.append(_backend_pid(s))
            return allocate(s, camp, 3, at=NOW, idempotency_key="race")

    with ThreadPoolExecutor(1) as pool:
        s = db.sessionmaker()
        try:
            first = allocate(s, camp, 3, at=NOW, idempotency_key="race")
            rival = pool.submit(second)
            while not pids:
                assert not rival.done(), rival.result()
                time.sleep(0.01)
            _wait_until_blocked(db, pids[0], rival)
            s.commit() if first_commits else s.rollback()
        finally:
            s.close()
        return first, rival.result(timeout=30)


def test_racing_calls_under_one_key_allocate_exactly_one_batch(db: Database) -> None:
    with session_scope(db) as s:
        leads = make_leads(s, 10, company_id=make_company(s))
        camp = make_campaign(s, make_agency(s))
    first, second = _race(db, camp, first_commits=True)
    assert len(first.lead_ids) == 3 and set(first.lead_ids) <= set(leads)
    assert second.replayed and _answer(second) == _answer(first)
    counts = _counts(db)
    assert (counts["ownerships"], counts["enrollments"], counts["lead_history"]) == (3, 3, 6)


def test_a_key_whose_first_call_rolled_back_is_claimed_by_the_waiting_one(db: Database) -> None:
    camp = _campaign_with_leads(db, 10)
    _, second = _race(db, camp, first_commits=False)
    assert not second.replayed and len(second.lead_ids) == 3
    assert _counts(db)["ownerships"] == 3
    with session_scope(db) as s:  # and it is the key's answer from now on
        assert _answer(allocate(s, camp, 3, at=NOW, idempotency_key="race")) == _answer(second)


def test_old_keys_are_pruned_with_old_denials(db: Database) -> None:
    camp = _campaign_with_leads(db, 10)
    with session_scope(db) as s:
        old = allocate(s, camp, 2, at=NOW, idempotency_key="old")
        allocate(s, camp, 2, at=NOW, idempotency_key="recent")
    now = datetime.now(UTC)
    with db.engine.begin() as c:  # the first call was 91 days ago by the database's clock
        c.execute(
            text("UPDATE allocation_requests SET created_at = :t WHERE idempotency_key = 'old'"),
            {"t": now - timedelta(days=91)},
        )
    assert prune_denials(db, now=now, dry_run=True).allocation_keys_would_delete == 1
    result = prune_denials(db, now=now)
    assert result.allocation_keys_deleted == 1 and result.deleted == 0
    with db.engine.connect() as c:
        keys = c.execute(text("SELECT idempotency_key FROM allocation_requests")).scalars().all()
        audit = c.execute(
            text("SELECT subject_id, detail FROM audit_log WHERE action = :a"), {"a": AUDIT_ACTION_KEYS}
        ).one()
    assert keys == ["recent"]
    assert audit.subject_id == "allocation_requests" and audit.detail["deleted"] == 1
    with session_scope(db) as s:  # a forgotten key is a new request
        again = allocate(s, camp, 2, at=NOW, idempotency_key="old")
    assert not again.replayed and not set(again.lead_ids) & set(old.lead_ids)


# over the API


def _post(api: Api, token: str, campaign_id: int, body: object) -> httpx.Response:
    return httpx.post(
        f"{api.url}/v1/campaigns/{campaign_id}/allocate",
        content=json.dumps(body),  # ASCII, escapes and all: a lone surrogate is valid JSON
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )


@pytest.fixture
def world(api: Api) -> Iterator[World]:
    w = build_world(api.admin, api.url)
    yield w
    w.close()


def test_api_replays_a_key_and_refuses_another_count(api: Api, world: World, db: Database) -> None:
    token, camp = world.a.api_key, world.camp_a.id
    first = _post(api, token, camp, {"count": 3, "idempotency_key": "retry-me"})
    assert first.status_code == 200, first.text
    before = _counts(db)
    again = _post(api, token, camp, {"count": 3, "idempotency_key": "retry-me"})
    assert again.status_code == 200, again.text
    assert again.json() == first.json() | {"replayed": True} and not first.json()["replayed"]
    assert _counts(db) == before
    other = _post(api, token, camp, {"count": 2, "idempotency_key": "retry-me"})
    assert other.status_code == 409, other.text
    assert "'retry-me'" in other.json()["detail"] and "for 3 lead(s)" in other.json()["detail"]
    assert _counts(db) == before
    # the client sends the key too
    by_client = world.ca.allocate(camp, 3, idempotency_key="retry-me")
    assert by_client.replayed and by_client.allocated == first.json()["allocated"]
    assert _counts(db) == before


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "at least 1 character"),
        ("   ", "should match pattern"),
        ("k" * 201, "at most 200 characters"),
        ("\ud800", "valid string"),  # valid JSON, but no text PostgreSQL could hold
    ],
)
def test_api_refuses_a_bad_key_naming_the_field(
    api: Api, world: World, db: Database, key: str, message: str
) -> None:
    before = _counts(db)
    r = _post(api, world.a.api_key, world.camp_a.id, {"count": 1, "idempotency_key": key})
    assert r.status_code == 422, r.text
    ((error),) = r.json()["errors"]
    assert error["field"] == "idempotency_key" and message in error["message"], error
    assert _counts(db) == before


# over the CLI


def test_cli_replays_a_key_and_refuses_another_count_in_one_line(db: Database) -> None:
    camp = _campaign_with_leads(db, 10)
    args = ["campaign", "allocate", str(camp), "--idempotency-key", "cli-1"]
    first = runner.invoke(cli, [*args, "--count", "3", "--json"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(cli, [*args, "--count", "3", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == json.loads(first.stdout) | {"replayed": True}
    human = runner.invoke(cli, [*args, "--count", "3"])
    assert human.exit_code == 0 and "replayed" in human.stdout
    other = runner.invoke(cli, [*args, "--count", "4"])
    assert other.exit_code == 2
    (line,) = other.output.strip().splitlines()
    assert line.startswith("error: idempotency key 'cli-1'") and "for 3 lead(s)" in line
    assert _counts(db)["ownerships"] == 3


@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
def test_cli_refuses_a_bad_key_in_one_line_and_allocates_nothing(db: Database, key: str) -> None:
    camp = _campaign_with_leads(db, 5)
    before = _counts(db)
    r = runner.invoke(cli, ["campaign", "allocate", str(camp), "--count", "2", "--idempotency-key", key])
    assert r.exit_code == 2, r.output
    (line,) = r.output.strip().splitlines()
    assert line.startswith("error: idempotency_key:"), line
    assert _counts(db) == before


@pytest.mark.parametrize("key", [[], ["--idempotency-key", "cli-big"]])
def test_cli_refuses_a_count_past_the_apis_bound_naming_the_option(db: Database, key: list[str]) -> None:
    """``--count`` is bounded as the API's ``count`` is (1 to 100,000): past that the option is named
    (under a key, 3,000,000,000 once read "the database refused a value: integer out of range")."""
    camp = _campaign_with_leads(db, 5)
    before = _counts(db)
    r = runner.invoke(cli, ["campaign", "allocate", str(camp), "--count", "3000000000", *key])
    assert r.exit_code == 2, r.output
    assert "--count" in r.output and "100000" in r.output and "database" not in r.output, r.output
    assert _counts(db) == before
    ok = runner.invoke(cli, ["campaign", "allocate", str(camp), "--count", "100000", *key, "--json"])
    assert ok.exit_code == 0, ok.output
    assert (json.loads(ok.stdout)["granted"], json.loads(ok.stdout)["allocated"]) == (1000, 5)  # the quota
