"""Apollo's rate-limit windows (apollo.md 2.6: fixed per-minute/hour/day windows, reported in
``x-*-requests-left`` on successes; a 429's message names the window; ``Retry-After`` undocumented):
the client never calls Apollo again before the window it was told about reopens. A wait longer
than ``max_wait`` fails the call with RateLimited(retry_after=the wait) instead of calling early.
Only the fake Apollo server on 127.0.0.1 is used; the client's injectable clock and sleep share
the fake's clock, so nothing really waits."""

from __future__ import annotations

import random
from typing import Any

import pytest

from leadpool.apollo.client import ApolloClient
from leadpool.apollo.errors import RateLimited
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people

KEY = "rl-key"
SEARCH = "mixed_people/api_search"


def _people() -> list[dict[str, Any]]:
    return list(generate_people(20, 5, duplicate_rate=0.0))


class _Clock:
    """The fake server's and the client's clock; the client's sleep advances it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _client(fake: FakeApollo, clock: _Clock) -> ApolloClient:
    return ApolloClient(
        KEY, base_url=fake.base_url, sleep=clock.sleep, clock=clock, rng=random.Random(1), max_retries=3
    )


class _StampedApollo(FakeApollo):
    """Records the (fake) time each request arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[float] = []

    def handle(self, method: str, path: str, query: Any, headers: Any, body: Any) -> Any:
        self.arrivals.append(self.clock())
        return super().handle(method, path, query, headers, body)


def test_retry_after_longer_than_max_wait_is_not_cut_short() -> None:
    """A 429 with Retry-After: 600, longer than max_wait (90 s): the client does not call Apollo
    again after 90 s (a sure 429), but fails with RateLimited(retry_after=600) for the job-level
    retry to wait; a second call within those 600 s is refused without being sent."""
    clock = _Clock(1_000_000.0)
    with _StampedApollo(_people(), api_key=KEY, clock=clock) as fake:
        fake.fail_next(1, status=429, retry_after="600")
        with _client(fake, clock) as client:
            with pytest.raises(RateLimited) as caught:
                client.search_people({}, page=1, per_page=10)
            clock.now += 300
            with pytest.raises(RateLimited) as again:
                client.search_people({}, page=1, per_page=10)
            clock.now += 301
            client.search_people({}, page=1, per_page=10)  # the 600 s are over
    assert caught.value.retry_after == 600 and again.value.retry_after == pytest.approx(300)
    assert [t - fake.arrivals[0] for t in fake.arrivals] == [0, 601]


def test_hourly_limit_spent_is_not_hammered_within_the_hour() -> None:
    """A success saying x-hourly-requests-left: 0 (apollo.md 2.6: "honour x-*-requests-left"):
    the next call within the hour is refused with RateLimited, retry_after the time until the
    hour reopens, and nothing is sent into the spent window."""
    clock = _Clock(7 * 3600 + 100.0)  # 100 s into an hour
    with FakeApollo(_people(), api_key=KEY, clock=clock, hourly_limit=1) as fake:
        with _client(fake, clock) as client:
            client.search_people({}, page=1, per_page=10)  # the hour's one request
            for _ in range(4):
                with pytest.raises(RateLimited) as caught:
                    client.search_people({}, page=2, per_page=10)
                assert caught.value.retry_after is not None
                assert 3500 <= caught.value.retry_after <= 3501
        assert fake.count(SEARCH, status=429) == 0 and fake.count(SEARCH) == 1


def test_daily_limit_spent_on_a_success_sends_nothing_more() -> None:
    """A success saying x-daily-requests-left: 0: the next call would surely be a 429
    (apollo.md 2.6), so it fails at once, as after a 429 naming a spent day, without being sent;
    retry_after is the time to the next day."""
    clock = _Clock(3 * 86400 + 100.0)
    with FakeApollo(_people(), api_key=KEY, clock=clock, daily_limit=1) as fake:
        with _client(fake, clock) as client:
            client.search_people({}, page=1, per_page=10)
            with pytest.raises(RateLimited, match="daily request limit") as caught:
                client.search_people({}, page=2, per_page=10)
        assert fake.count(SEARCH) == 1, "a request was sent into a spent daily window"
    assert caught.value.retry_after is not None and 86300 <= caught.value.retry_after <= 86301


class _WindowSpent(FakeApollo):
    """Apollo's documented 429 (apollo.md 2.6: JSON ``message`` naming the window, "600 times per
    hour"; the x-* headers are documented on successful responses only), until ``until``."""

    def __init__(self, *args: Any, until: float, window: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.until = until
        self.window = window

    def _dispatch(self, method: str, path: str, endpoint: str, query: Any, headers: Any, body: str) -> Any:
        if self.clock() < self.until:
            text = (
                '{"message": "The maximum number of api calls allowed for api/v1/'
                + endpoint
                + f" is 600 times per {self.window}. Please upgrade your plan from "
                'https://app.apollo.io/#/settings/plans/upgrade."}'
            )
            return 429, {"content-type": "application/json; charset=utf-8"}, text, {}
        return super()._dispatch(method, path, endpoint, query, headers, body)


@pytest.mark.parametrize(("window", "reopens"), [("hour", 10 * 3600), ("day", 86400)])
def test_a_429_naming_the_hourly_limit_backs_off_to_the_next_hour(window: str, reopens: int) -> None:
    """A 429 without rate headers whose documented message says the hourly (or daily) limit is
    spent: calling again before the window ends only collects 429s, and the RateLimited the refill
    job's retry waits on says so (retry_after up to the next hour, not the next minute: a job
    retried every minute runs out of its attempts long before Apollo takes calls again)."""
    start = 9 * 3600 + 300.0  # 5 minutes into the hour
    clock = _Clock(start)
    fake = _WindowSpent(_people(), api_key=KEY, clock=clock, until=reopens, window=window)
    with fake, _client(fake, clock) as client, pytest.raises(RateLimited) as caught:
        client.search_people({}, page=1, per_page=10)
    assert clock.now == start
    assert (
        caught.value.retry_after is not None
        and reopens - start <= caught.value.retry_after <= reopens - start + 1
    )
    assert fake.count(SEARCH, status=429) == 1


def test_a_429_naming_the_minute_limit_is_waited_out() -> None:
    """The same 429 naming the per-minute limit: within max_wait, so the client waits for the next
    minute window and calls again (the behaviour the hourly and daily reading must not change)."""
    clock = _Clock(9 * 3600 + 10.0)  # 10 s into a minute
    fake = _WindowSpent(_people(), api_key=KEY, clock=clock, until=9 * 3600 + 60, window="minute")
    with fake, _client(fake, clock) as client:
        page = client.search_people({}, page=1, per_page=10)
    assert page.response.attempts == 2 and 50 <= clock.now - (9 * 3600 + 10.0) <= 51
    assert fake.count(SEARCH, status=429) == 1 and fake.count(SEARCH, status=200) == 1
