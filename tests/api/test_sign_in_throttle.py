"""Failed sign-ins are counted in the database: two servers on one database (two `serve` workers,
or two hosts) share one count, and a principal that signed in through one passes the lockout on
the other. Each process once counted its own, so `--workers 4` gave a guesser 80 tries a minute."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from starlette.requests import Request

from api.conftest import ADMIN_TOKEN, MAX_BODY
from leadpool.api.app import create_app
from leadpool.api.deps import client_address
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


def _get(url: str, token: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{url}/v1/agencies", headers={"Authorization": f"Bearer {token}", **headers}, timeout=60
    )


def test_two_servers_on_one_database_share_the_count_and_the_trust(api, second, db) -> None:
    agency_key = api.admin.create_agency("Used from here").api_key
    fresh = api.admin.create_agency("Never used").api_key
    assert _get(second.url, agency_key).status_code == 403  # it signed in through the second server
    half = LIMIT // 2
    codes = [_get(api.url, f"guess-a-{i}").status_code for i in range(half)]
    codes += [_get(second.url, f"guess-b-{i}").status_code for i in range(LIMIT - half)]
    assert codes == [401] * LIMIT  # each server alone saw only half the limit
    for url in (api.url, second.url):
        refused = _get(url, "guess-after")
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    # an agency key that signed in from here passes the lockout on either server, though the first
    # never saw it (its trust is in the database, not in that process)
    assert _get(api.url, agency_key).status_code == 403
    # a right key never used from here waits like a guess, on both
    assert {_get(api.url, fresh).status_code, _get(second.url, fresh).status_code} == {429}
    # the admin token of these tests is a short chosen one (27 characters): it waits like a guess
    # though it signed in from here, or the lockout would tell a guesser when it has it right
    assert {_get(api.url, ADMIN_TOKEN).status_code, _get(second.url, ADMIN_TOKEN).status_code} == {429}
    with session_scope(db) as s:
        (failures,) = s.scalars(select(SignInFailure)).all()
        assert failures.address == "127.0.0.1" and len(failures.failures) == LIMIT
        subjects = set(s.scalars(select(SignInTrust.subject)))
    # the trust names the agency key by its stored hash: no token is stored, and none for the
    # short admin token
    assert subjects == {hashlib.sha256(agency_key.encode()).hexdigest()}


def test_concurrent_guesses_are_held_to_the_limit(api, second) -> None:
    """An address's sign-ins are decided one at a time: checked and counted in separate steps,
    every guess in flight when the count reached the limit got through (29-33 of 120 concurrent
    guesses over two servers, the reviewer measured)."""
    urls = [api.url, second.url]
    with ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(lambda i: _get(urls[i % 2], f"guess-{i}").status_code, range(120)))
    assert codes.count(401) == LIMIT and codes.count(429) == 120 - LIMIT


def _signed_in_then_locked_out(throttle: FailedAuth, s: Session, token: str) -> None:
    """``token`` signs in from 198.51.100.7, then guesses from there reach the limit (2)."""
    assert throttle.retry_after(s, "198.51.100.7", token) is None
    throttle.succeeded(s, "198.51.100.7", token)
    for _ in range(2):
        assert throttle.retry_after(s, "198.51.100.7", "guess") is None
        throttle.failed(s, "198.51.100.7")


def test_a_strong_admin_token_passes_the_lockout_and_a_short_one_does_not(db: Database) -> None:
    strong = "lpadm_" + "s" * 43  # as long as a generated one
    for admin_token, passes in ((strong, True), (ADMIN_TOKEN, False)):
        throttle = FailedAuth(admin_token, limit=2)
        with session_scope(db) as s:
            _signed_in_then_locked_out(throttle, s, admin_token)
            assert throttle.retry_after(s, "198.51.100.7", "guess") is not None
            other = FailedAuth(admin_token, limit=2)  # another worker, which never saw it sign in
            assert (other.retry_after(s, "198.51.100.7", admin_token) is None) is passes
            assert (throttle.retry_after(s, "198.51.100.7", admin_token) is None) is passes
            s.rollback()
        with session_scope(db) as s:
            s.execute(text("DELETE FROM sign_in_failures; DELETE FROM sign_in_trust"))


def test_a_forwarded_header_names_no_address_and_a_local_proxys_scheme_is_kept(api) -> None:
    """The throttle's only key is the connection's peer: a client writing X-Forwarded-For (passed
    through by a proxy on this host, which the servers once trusted) is still one address."""
    codes = [
        _get(api.url, f"guess-{i}", **{"X-Forwarded-For": f"10.9.{i // 250}.{i % 250}"}).status_code
        for i in range(LIMIT + 5)
    ]
    assert codes == [401] * LIMIT + [429] * 5


def test_behind_a_tls_proxy_on_this_host_the_dashboard_still_signs_in(api) -> None:
    """The scheme a proxy on this host reports is kept: the dashboard's same-site check compares
    the form's Origin with it, and its cookie is then Secure. From elsewhere it is not."""
    site = {"Origin": "https://dash.example", "Host": "dash.example"}
    r = httpx.post(f"{api.url}/login", data={"token": ADMIN_TOKEN}, headers=site, timeout=30)
    assert r.status_code == 403  # an https page posting to what the server sees as http
    proxied = site | {"X-Forwarded-Proto": "https"}
    r = httpx.post(f"{api.url}/login", data={"token": ADMIN_TOKEN}, headers=proxied, timeout=30)
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


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
    key = "lpa_" + "k" * 43  # an agency key's shape: it may pass a lockout
    first, second = FailedAuth(ADMIN_TOKEN, limit=2), FailedAuth(ADMIN_TOKEN, limit=2)
    with session_scope(db) as s:
        _signed_in_then_locked_out(first, s, key)
        assert second.retry_after(s, "198.51.100.7", key) is None
        second.succeeded(s, "198.51.100.7", key)
        s.execute(text("UPDATE sign_in_trust SET at = at - interval '61 minutes'"))
    third = FailedAuth(ADMIN_TOKEN, limit=2)  # a process that never saw it sign in
    with session_scope(db) as s:
        assert third.retry_after(s, "198.51.100.7", key) is not None
        s.rollback()
        assert third.retry_after(s, "192.0.2.1", key) is None
        third.succeeded(s, "192.0.2.1", key)  # a write prunes stale trust
        assert [t.address for t in s.scalars(select(SignInTrust))] == ["192.0.2.1"]


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one subscriber's network is one address
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        (None, "unknown"),
    ],
)
def test_the_throttle_keys_a_client_by_its_peer_and_an_ipv6_one_by_its_64(peer, address) -> None:
    scope = {"type": "http", "headers": [], "client": (peer, 5000) if peer else None}
    assert client_address(Request(scope)) == address


def test_a_peer_that_is_not_an_ip_address_is_keyed_by_a_short_hash() -> None:
    long_peer = "x" * 4000  # a Unix socket's peer name, or anything a server might pass
    key = client_address(Request({"type": "http", "headers": [], "client": (long_peer, 0)}))
    assert key.startswith("peer:") and len(key) < 64


def test_wrong_webhook_credentials_are_throttled_like_bearer_tokens(
    api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Postmark's Basic auth user:password and Smartlead's secret are chosen by an operator, the
    weak kind of secret the throttle exists for; a right guess writes suppressions, replies and
    conversions for every agency's leads. Wrong ones count as failed sign-ins from the address;
    past the limit even the right one waits (429 with Retry-After), as a guessed token does."""
    monkeypatch.setenv("LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH", json.dumps(["hook:Summer2026"]))

    def basic(user_password: str) -> dict[str, str]:
        encoded = base64.b64encode(user_password.encode()).decode()
        return {"Authorization": f"Basic {encoded}", "Content-Type": "application/json"}

    with httpx.Client(base_url=api.url) as c:
        statuses = [
            c.post(
                "/v1/webhooks/postmark", content=b'{"RecordType": "Bounce"}', headers=basic(f"hook:guess{n}")
            )
            for n in range(LIMIT + 2)
        ]
        right = c.post(
            "/v1/webhooks/postmark", content=b'{"RecordType": "Open"}', headers=basic("hook:Summer2026")
        )
    codes = [r.status_code for r in statuses]
    assert codes[:LIMIT] == [401] * LIMIT and codes[LIMIT:] == [429, 429], codes
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    assert right.status_code == 429


def test_forged_signed_deliveries_do_not_lock_the_real_provider_out(
    api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SendGrid's ECDSA signature (as Mailgun's HMAC key and SES's certificates) cannot be guessed:
    counting its failures protected nothing, and anyone sending bad deliveries from the provider's
    address (another SendGrid customer pointing its event webhook here, a shared proxy) kept the
    real provider's bounces, complaints and unsubscribes out with 429s."""
    from webhooks.conftest import SENDGRID_EVENTS, SendGridSigner

    real = SendGridSigner()
    monkeypatch.setenv("LEADPOOL_WEBHOOK_SENDGRID_PUBLIC_KEYS", json.dumps([real.public_b64]))
    body = json.dumps(SENDGRID_EVENTS).encode()
    with httpx.Client(base_url=api.url) as c:
        other_customer = SendGridSigner()  # its own key: 401 here
        codes = {
            c.post(
                "/v1/webhooks/sendgrid",
                content=body,
                headers=other_customer.headers(body, str(int(time.time()))),
            ).status_code
            for _ in range(LIMIT + 5)
        }
        genuine = c.post(
            "/v1/webhooks/sendgrid", content=body, headers=real.headers(body, str(int(time.time())))
        )
    assert codes == {401}
    assert genuine.status_code == 200, genuine.text


def test_only_operator_chosen_webhook_secrets_are_throttled() -> None:
    """Each adapter says how it is authenticated; the route throttles the guessable kind only."""
    from leadpool.webhooks import ADAPTERS

    assert all(isinstance(m.CHOSEN_SECRET, bool) for m in ADAPTERS.values())
    assert {name for name, m in ADAPTERS.items() if m.CHOSEN_SECRET} == {"postmark", "smartlead", "instantly"}
