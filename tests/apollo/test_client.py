"""ApolloClient against the fake Apollo server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from leadpool.apollo.client import DEFAULT_BASE_URL, ApolloClient
from leadpool.apollo.errors import (
    ApolloRequestError,
    ApolloUnavailable,
    AuthError,
    ChargeUncertain,
    RateLimited,
)
from leadpool.apollo.fake import PLACEHOLDER_EMAIL, FakeApollo
from leadpool.apollo.generate import generate_people

KEY = "test-key-123"


class Clock:
    """A clock the fake server and the client share; sleeping advances it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def people() -> list[dict[str, Any]]:
    return list(generate_people(300, 21, duplicate_rate=0.0))


@pytest.fixture
def fake(people: list[dict[str, Any]]) -> Iterator[FakeApollo]:
    with FakeApollo(people=people, api_key=KEY) as f:
        yield f


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(fake: FakeApollo, clock: Clock) -> Iterator[ApolloClient]:
    with ApolloClient(
        KEY, base_url=fake.base_url, backoff_base=0.01, sleep=clock.sleep, clock=clock, rng=random.Random(1)
    ) as c:
        yield c


def test_default_base_url_is_apollo_but_tests_use_the_fake(client: ApolloClient, fake: FakeApollo) -> None:
    assert DEFAULT_BASE_URL == "https://api.apollo.io/api/v1"
    assert client.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):  # the test guard: nothing but loopback is reachable
        httpx.get("https://93.184.215.14/v1/auth/health", timeout=2)


def test_search_paginates_through_every_result(
    client: ApolloClient, fake: FakeApollo, people: list[dict[str, Any]]
) -> None:
    pages = list(client.iter_search_people({}, per_page=100))
    assert [p.page for p in pages] == [1, 2, 3]
    assert pages[0].total_entries == 300 and pages[0].total_pages == 3
    assert [row["id"] for p in pages for row in p.people] == [p["id"] for p in people]
    row = pages[0].people[0]
    assert "email" not in row and "last_name" not in row and "last_name_obfuscated" in row  # teaser
    assert fake.requests["mixed_people/api_search"] == 3
    assert pages[2].response.headers["x-minute-usage"] == "3"  # rate headers on every response
    assert int(pages[2].response.headers["x-daily-requests-left"]) > 0
    assert len(list(client.iter_search_people({}, per_page=50, max_pages=2))) == 2
    assert client.credits_consumed == 0  # api_search is free


def test_search_filters_are_applied(client: ApolloClient, people: list[dict[str, Any]]) -> None:
    def ids(filters: dict[str, Any]) -> set[str]:
        return {r["id"] for page in client.iter_search_people(filters) for r in page.people}

    vps = ids({"person_seniorities": ["vp", "director"]})
    assert vps == {p["id"] for p in people if p["seniority"] in ("vp", "director")}
    assert ids({"q_keywords": "construction"}) >= {
        p["id"] for p in people if p["organization"] and p["organization"]["industry"] == "construction"
    }
    assert ids({"person_locations": ["texas"]}) == {p["id"] for p in people if p["state"] == "Texas"}
    small = ids({"organization_num_employees_ranges": ["1,50"]})
    assert small == {
        p["id"]
        for p in people
        if p["organization"] and (p["organization"]["estimated_num_employees"] or 0) in range(1, 51)
    }
    domain = people[0]["organization"]["primary_domain"]
    assert ids({"q_organization_domains_list": [f"www.{domain}"]}) == {
        p["id"] for p in people if p["organization"] and p["organization"]["primary_domain"] == domain
    }
    titled = ids({"person_titles": ["manager"]})
    assert titled and all("manager" in p["title"].lower() for p in people if p["id"] in titled)


def test_fake_accepts_php_style_names_in_body_and_query(
    fake: FakeApollo, people: list[dict[str, Any]]
) -> None:
    url = f"{fake.base_url}/mixed_people/api_search"
    headers = {"x-api-key": KEY}
    expected = sum(1 for p in people if p["seniority"] == "owner")
    by_body = httpx.post(url, json={"person_seniorities[]": ["owner"], "per_page": 1}, headers=headers).json()
    by_query = httpx.post(url + "?person_seniorities[]=owner&per_page=1", headers=headers).json()
    assert by_body["total_entries"] == by_query["total_entries"] == expected
    revenue = httpx.post(url + "?revenue_range[min]=1000000000", headers=headers).json()
    assert revenue["total_entries"] == sum(
        1
        for p in people
        if p["organization"] and (p["organization"]["organization_revenue"] or 0) >= 1_000_000_000
    )


def test_429_then_success_waits_and_counts_retries(
    client: ApolloClient, fake: FakeApollo, clock: Clock
) -> None:
    fake.fail_next(2, status=429)
    page = client.search_people({}, per_page=5)
    assert len(page.people) == 5
    assert page.response.attempts == 3
    assert client.retries == 2 and len(clock.sleeps) == 2
    # no Retry-After and no rate headers: it waits for the next minute window, capped
    assert all(0 < s <= client.max_wait for s in clock.sleeps)
    assert fake.count("mixed_people/api_search", status=429) == 2
    assert fake.count("mixed_people/api_search", status=200) == 1


def test_retry_after_header_is_honoured(client: ApolloClient, fake: FakeApollo, clock: Clock) -> None:
    fake.fail_next(1, status=429, retry_after="7")
    client.search_people({}, per_page=1)
    assert clock.sleeps == [7.0]


def test_429_after_every_retry_raises_rate_limited(fake: FakeApollo, clock: Clock) -> None:
    client = ApolloClient(KEY, base_url=fake.base_url, max_retries=2, sleep=clock.sleep, clock=clock)
    fake.fail_next(5, status=429)
    with pytest.raises(RateLimited) as err:
        client.search_people({})
    assert "mixed_people/api_search" in str(err.value) and "429" in str(err.value)
    assert "maximum number of api calls" in str(err.value)
    assert err.value.http_status == 429
    assert fake.count("mixed_people/api_search") == 3 and len(clock.sleeps) == 2


def test_minute_limit_headers_make_the_client_wait_for_the_next_window(people: list[dict[str, Any]]) -> None:
    clock = Clock(now=1_700_000_000.0 - (1_700_000_000.0 % 60) + 10)  # 10 s into a minute
    with FakeApollo(people=people, api_key=KEY, minute_limit=2, clock=clock) as fake:
        client = ApolloClient(
            KEY, base_url=fake.base_url, sleep=clock.sleep, clock=clock, rng=random.Random(3)
        )
        first = client.search_people({}, per_page=1)
        assert first.response.headers["x-rate-limit-minute"] == "2"
        assert first.response.headers["x-minute-requests-left"] == "1"
        second = client.search_people({}, per_page=1)
        assert second.response.headers["x-minute-requests-left"] == "0"
        assert clock.sleeps == []
        client.search_people({}, per_page=1)  # waits for the window first: no 429 at all
        assert len(clock.sleeps) == 1 and 50 <= clock.sleeps[0] <= 51
        assert fake.count("mixed_people/api_search", status=429) == 0

        # a second client that does not know the window is spent hits the 429, then waits it out
        client.search_people({}, per_page=1)
        other = ApolloClient(
            KEY, base_url=fake.base_url, sleep=clock.sleep, clock=clock, rng=random.Random(4)
        )
        page = other.search_people({}, per_page=1)
        assert page.response.attempts == 2
        assert fake.count("mixed_people/api_search", status=429) == 1
        assert 50 <= clock.sleeps[-1] <= 61


def test_daily_limit_spent_fails_at_once(people: list[dict[str, Any]], clock: Clock) -> None:
    with FakeApollo(people=people, api_key=KEY, daily_limit=1, clock=clock) as fake:
        client = ApolloClient(KEY, base_url=fake.base_url, sleep=clock.sleep, clock=clock)
        client.search_people({}, per_page=1)
        with pytest.raises(RateLimited, match="daily request limit"):
            client.search_people({}, per_page=1)
        assert clock.sleeps == []


def test_5xx_is_retried_with_exponential_backoff(
    client: ApolloClient, fake: FakeApollo, clock: Clock
) -> None:
    fake.fail_next(3, status=503)
    page = client.search_people({}, per_page=2)
    assert page.response.attempts == 4
    assert len(clock.sleeps) == 3
    for i, s in enumerate(clock.sleeps):  # 0.01 * 2^i with jitter in [0.5, 1.5)
        assert 0.005 * 2**i <= s < 0.015 * 2**i


def test_5xx_after_every_retry_raises_unavailable(fake: FakeApollo, clock: Clock) -> None:
    client = ApolloClient(KEY, base_url=fake.base_url, max_retries=1, backoff_base=0.01, sleep=clock.sleep)
    fake.fail_next(2, status=502)
    with pytest.raises(ApolloUnavailable) as err:
        client.search_people({})
    assert err.value.endpoint == "mixed_people/api_search" and err.value.http_status == 502


@pytest.mark.parametrize("call", ["bulk_match", "match_person", "enrich_organization"])
def test_a_paid_call_is_never_sent_again_after_a_5xx(fake: FakeApollo, clock: Clock, call: str) -> None:
    client = ApolloClient(KEY, base_url=fake.base_url, max_retries=3, backoff_base=0.01, sleep=clock.sleep)
    fake.fail_next(1, status=503)
    with pytest.raises(ChargeUncertain) as err:
        if call == "bulk_match":
            client.bulk_match([{"email": "a@b.example"}])
        elif call == "match_person":
            client.match_person(email="a@b.example")
        else:
            client.enrich_organization("anything.example")
    assert err.value.http_status == 503 and "may have charged" in str(err.value)
    assert sum(fake.requests.values()) == 1 and clock.sleeps == []


def test_a_paid_call_is_retried_after_a_429(fake: FakeApollo, clock: Clock) -> None:
    client = ApolloClient(KEY, base_url=fake.base_url, max_retries=3, backoff_base=0.01, sleep=clock.sleep)
    fake.fail_next(1, status=429, retry_after="1")
    client.enrich_organization("anything.example")
    assert fake.count("organizations/enrich") == 2


def test_a_paid_call_is_retried_when_it_never_reached_apollo(clock: Clock) -> None:
    with FakeApollo() as gone:
        url = gone.base_url
    client = ApolloClient(KEY, base_url=url, max_retries=2, backoff_base=0.01, sleep=clock.sleep)
    with pytest.raises(ApolloUnavailable, match="cannot reach Apollo after 3 attempts"):
        client.bulk_match([{"email": "a@b.example"}])


def test_unreachable_server_raises_unavailable(clock: Clock) -> None:
    with FakeApollo() as gone:
        url = gone.base_url
    client = ApolloClient(KEY, base_url=url, max_retries=2, backoff_base=0.01, sleep=clock.sleep)
    with pytest.raises(ApolloUnavailable, match="cannot reach Apollo after 3 attempts"):
        client.search_people({})
    assert len(clock.sleeps) == 2


def test_wrong_key_is_an_auth_error_that_never_shows_the_key(fake: FakeApollo) -> None:
    client = ApolloClient("wrong-secret-key", base_url=fake.base_url)
    with pytest.raises(AuthError) as err:
        client.search_people({})
    message = str(err.value)
    assert "Invalid access credentials." in message
    assert "mixed_people/api_search" in message and "401" in message
    assert "wrong-secret-key" not in message and "wrong-secret-key" not in repr(client)
    assert fake.count("mixed_people/api_search", status=401) == 1  # no retry on 401
    assert all(r.headers.get("x-api-key") == "***" for r in fake.request_log)


def test_bulk_match_chunks_of_ten_with_null_matches_and_credits(
    client: ApolloClient, fake: FakeApollo, people: list[dict[str, Any]]
) -> None:
    details: list[dict[str, Any]] = [{"id": p["id"]} for p in people[:11]]
    details.insert(3, {"id": "f" * 24})
    details.append({"email": "nobody@nowhere.example"})
    result = client.bulk_match(details)
    assert len(result.responses) == 2  # 13 details: 10 + 3
    assert [len(r.request["details"]) for r in result.responses] == [10, 3]
    assert len(result.matches) == 13
    assert result.matches[3] is None and result.matches[12] is None
    assert [m["id"] for m in result.matches if m] == [p["id"] for p in people[:11]]
    assert result.credits_consumed == 11 == client.credits_consumed == fake.credits_charged
    first = json.loads(result.responses[0].body)
    assert first["matches"][3] is None and first["missing_records"] == 1 and first["credits_consumed"] == 9
    assert result.responses[0].body == fake.request_log[0].response_body  # exact text received
    assert "x-api-key" not in json.dumps(result.responses[0].request)


def test_fake_refuses_more_than_ten_details(fake: FakeApollo, people: list[dict[str, Any]]) -> None:
    body = {"details": [{"id": p["id"]} for p in people[:11]]}
    resp = httpx.post(f"{fake.base_url}/people/bulk_match", json=body, headers={"x-api-key": KEY})
    assert resp.status_code == 422
    assert fake.credits_charged == 0


def test_match_person_by_each_identity(client: ApolloClient, people: list[dict[str, Any]]) -> None:
    p = next(x for x in people if x["email"] and x["linkedin_url"] and x["organization"])
    assert client.match_person(id=p["id"]).person == p
    assert client.match_person(email=p["email"].upper()).person == p
    assert (
        client.match_person(hashed_email=hashlib.sha256(p["email"].lower().encode()).hexdigest()).person == p
    )
    slug = p["linkedin_url"].rsplit("/", 1)[-1]
    assert client.match_person(linkedin_url=f"https://linkedin.com/in/{slug}/").person == p
    by_name = client.match_person(
        first_name=p["first_name"], last_name=p["last_name"], domain=p["organization"]["primary_domain"]
    )
    assert by_name.person == p and by_name.credits_consumed == 1
    missing = client.match_person(email="nobody@nowhere.example")
    assert missing.person is None and missing.credits_consumed == 0
    assert json.loads(missing.response.body) == {"person": None}
    assert client.credits_consumed == 5
    with pytest.raises(ApolloRequestError, match="unknown identity field"):
        client.match_person(phone="+1 303 555 0100")


def test_legacy_search_locks_emails_and_shortens_organizations(
    client: ApolloClient, fake: FakeApollo, people: list[dict[str, Any]]
) -> None:
    page = client.legacy_search_people({"person_seniorities": ["manager"]}, page=2, per_page=5)
    managers = [p for p in people if p["seniority"] == "manager"]
    assert page.total_entries == len(managers) and page.page == 2
    assert [r["id"] for r in page.people] == [p["id"] for p in managers[5:10]]
    for row in page.people:
        assert row["email"] in (PLACEHOLDER_EMAIL, None)
        assert row["organization"] is None or "industry" not in row["organization"]
    assert page.response.data["pagination"]["total_pages"] == -(-len(managers) // 5)
    assert fake.requests["mixed_people/search"] == 1
    # the legacy path also answers under /v1
    raw = httpx.post(f"{fake.root_url}/v1/mixed_people/search", json={}, headers={"x-api-key": KEY})
    assert raw.status_code == 200 and "pagination" in raw.json()


def test_enrich_organization(client: ApolloClient, fake: FakeApollo, people: list[dict[str, Any]]) -> None:
    org = people[0]["organization"]
    found = client.enrich_organization("https://www." + org["primary_domain"].upper())
    assert found.organization == org
    assert found.response.request == {"domain": "https://www." + org["primary_domain"].upper()}
    assert client.enrich_organization("unknown.example").organization is None
    assert client.credits_consumed == 1 == fake.credits_charged


def test_non_master_key_gets_api_inaccessible_on_search(people: list[dict[str, Any]]) -> None:
    with FakeApollo(people=people, api_key=KEY, restricted_keys=["plain-key"]) as fake:
        client = ApolloClient("plain-key", base_url=fake.base_url)
        with pytest.raises(AuthError, match="not accessible with this api_key") as err:
            client.search_people({})
        assert err.value.http_status == 403
        assert client.match_person(id=people[0]["id"]).person is not None  # enrichment still works


def test_invalid_parameters_are_a_request_error_not_retried(client: ApolloClient, fake: FakeApollo) -> None:
    with pytest.raises(ApolloRequestError, match="Invalid parameters") as err:
        client.enrich_organization(" ")
    assert err.value.http_status == 422
    assert fake.count("organizations/enrich") == 1
    # paging outside Apollo's limits is refused before anything is sent (test_apollo_limits.py)
    with pytest.raises(ApolloRequestError, match=r"page must be 1\.\.500"):
        client.search_people({}, page=501)
    assert fake.count("mixed_people/api_search") == 0


def test_parse_params_reads_plain_and_php_style_names() -> None:
    from leadpool.apollo.fake import parse_params

    query = {"person_titles[]": ["ceo", "cto"], "page": ["2"], "revenue_range[max]": ["500"]}
    body = {"person_seniorities": "vp", "revenue_range[min]": 100, "q_keywords": "construction"}
    assert parse_params(query, body) == {
        "person_titles": ["ceo", "cto"],
        "page": "2",
        "revenue_range": {"max": "500", "min": 100},
        "person_seniorities": ["vp"],
        "q_keywords": "construction",
    }
    assert parse_params({}, {"revenue_range": {"min": 1}, "details": [{"id": "a"}]}) == {
        "revenue_range": {"min": 1},
        "details": [{"id": "a"}],
    }
