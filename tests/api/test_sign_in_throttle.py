"""Failed sign-ins are counted in the database: two servers on one database (two `serve` workers,
or two hosts) share one count, and a principal that signed in through one passes the lockout on
the other. Each process once counted its own, so `--workers 4` gave a guesser 80 tries a minute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text

from api.conftest import ADMIN_TOKEN, MAX_BODY
from leadpool.api.app import create_app
from leadpool.api.server import LiveServer, serve_in_thread
from leadpool.api.settings import ApiSettings
from leadpool.api.throttle import LIMIT, FailedAuth
from leadpool.config import Settings
from leadpool.db import Database, session_scope
from leadpool.models import SignInFailure, SignInTrust


@pytest.fixture
def second(db: Database, tmp_path) -> Iterator[LiveServer]:
    """Another server process's worth: its own app and its own memory, the same database."""
    app = create_app(
        Settings(home=tmp_path),
        db=db,
        api_settings=ApiSettings(admin_token=ADMIN_TOKEN, max_body_bytes=MAX_BODY),
    )
    with serve_in_thread(app) as server:
        yield server


def _get(url: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/agencies", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_two_servers_on_one_database_share_the_count_and_the_trust(api, second, db) -> None:
    agency_key = api.admin.create_agency("Used from here").api_key  # the admin signed in through one
    assert _get(second.url, agency_key).status_code == 403  # and this agency through the other
    half = LIMIT // 2
    codes = [_get(api.url, f"guess-a-{i}").status_code for i in range(half)]
    codes += [_get(second.url, f"guess-b-{i}").status_code for i in range(LIMIT - half)]
    assert codes == [401] * LIMIT  # each server alone saw only half the limit
    for url in (api.url, second.url):
        refused = _get(url, "guess-after")
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    # a principal that signed in from here passes the lockout on either server, though the
    # second never saw the admin sign in (its trust is in the database, not in that process)
    assert _get(second.url, ADMIN_TOKEN).status_code == 200
    assert _get(api.url, agency_key).status_code == 403
    # a right key never used from here waits like a guess, on both
    fresh = api.admin.create_agency("Never used").api_key
    assert {_get(api.url, fresh).status_code, _get(second.url, fresh).status_code} == {429}
    with session_scope(db) as s:
        (failures,) = s.scalars(select(SignInFailure)).all()
        assert failures.address == "127.0.0.1" and len(failures.failures) == LIMIT
        subjects = set(s.scalars(select(SignInTrust.subject)))
    # the trust names the admin and the agency key's stored hash: no token is stored
    assert "admin" in subjects and agency_key not in subjects and ADMIN_TOKEN not in subjects
    assert len(subjects) == 2


def test_the_dashboard_login_counts_in_the_same_place(api, second) -> None:
    for i in range(LIMIT):
        url = (api.url, second.url)[i % 2]
        r = httpx.post(f"{url}/login", data={"token": f"guess-{i}"}, headers={"Origin": url}, timeout=30)
        assert r.status_code == 401, (i, r.status_code)
    r = httpx.post(f"{second.url}/login", data={"token": "x"}, headers={"Origin": second.url}, timeout=30)
    assert r.status_code == 429 and "retry-after" in r.headers
    assert _get(api.url, "guess-api").status_code == 429


def test_failures_older_than_the_window_no_longer_count_and_are_pruned(db: Database) -> None:
    throttle = FailedAuth(ADMIN_TOKEN, limit=3, window=60)
    with session_scope(db) as s:
        for _ in range(3):
            throttle.failed(s, "198.51.100.7")
        throttle.failed(s, "203.0.113.9")
        wait = throttle.retry_after(s, "198.51.100.7", "guess")
        assert wait is not None and 1 <= wait <= 60
        assert throttle.retry_after(s, "203.0.113.9", "guess") is None
    with session_scope(db) as s:  # a minute on: the window has passed
        s.execute(
            text(
                "UPDATE sign_in_failures SET failures = ARRAY(SELECT x - :d FROM unnest(failures) x), last_at = last_at - :d"
            ),
            {"d": timedelta(seconds=61)},
        )
    with session_scope(db) as s:
        assert throttle.retry_after(s, "198.51.100.7", "guess") is None
        throttle.failed(s, "192.0.2.1")  # a write prunes stale addresses
        assert set(s.scalars(select(SignInFailure.address))) == {"192.0.2.1"}
        # the count keeps only the newest `limit` failures: the row stays small under a long spray
        for _ in range(10):
            throttle.failed(s, "192.0.2.1")
        assert s.scalar(select(func.cardinality(SignInFailure.failures))) == 3


def test_a_trust_older_than_an_hour_no_longer_passes_the_lockout(db: Database) -> None:
    first, second = FailedAuth(ADMIN_TOKEN, limit=2), FailedAuth(ADMIN_TOKEN, limit=2)
    with session_scope(db) as s:
        first.succeeded(s, "198.51.100.7", ADMIN_TOKEN)
        for _ in range(2):
            first.failed(s, "198.51.100.7")
        assert second.retry_after(s, "198.51.100.7", ADMIN_TOKEN) is None
        s.execute(text("UPDATE sign_in_trust SET at = at - interval '61 minutes'"))
    third = FailedAuth(ADMIN_TOKEN, limit=2)  # a process that never saw it sign in
    with session_scope(db) as s:
        assert third.retry_after(s, "198.51.100.7", ADMIN_TOKEN) is not None
        third.succeeded(s, "192.0.2.1", ADMIN_TOKEN)  # a write prunes stale trust
        assert [t.address for t in s.scalars(select(SignInTrust))] == ["192.0.2.1"]
