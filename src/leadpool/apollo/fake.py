"""A fake Apollo API: a real HTTP server on 127.0.0.1 speaking the shapes in apollo.md.

Tests (and the demo) point :class:`leadpool.apollo.client.ApolloClient` at it, so every request
crosses a real socket and nothing reaches the internet::

    with FakeApollo(people=list(generate_people(500, 1)), api_key="k") as fake:
        client = ApolloClient("k", base_url=fake.base_url)

What it serves (paths under ``/api/v1``; the legacy search also under ``/v1``):

- ``POST mixed_people/api_search``: teaser rows (apollo.md 4.3) and ``total_entries``; no credits.
- ``POST mixed_people/search`` (legacy): ``pagination``, ``breadcrumbs``, ``contacts: []`` and full
  people with the placeholder email ``email_not_unlocked@domain.com`` and a short organization.
- ``POST people/match``: ``{"person": {...}}`` or ``{"person": null}``; 1 credit per match.
- ``POST people/bulk_match``: at most 10 ``details``; ``matches`` aligned with them (``null`` for
  no match), ``credits_consumed`` = 1 per matched record, plus the status/count fields.
- ``GET organizations/enrich?domain=``: ``{"organization": {...}}`` or ``{"organization": null}``;
  1 credit when found.

Authentication is the ``x-api-key`` header only (401 ``text/plain`` "Invalid access
credentials." otherwise); ``restricted_keys`` authenticate but get Apollo's 403
``API_INACCESSIBLE`` on the search endpoints, as a non-master key does. Parameters are read from the query string and the JSON body, with plain
names (``person_titles``) or PHP-style names (``person_titles[]``, ``revenue_range[min]``).

Knobs for tests: :meth:`FakeApollo.fail_next` (the next N requests answer 429 with the documented
body, or a 5xx), per-window limits (``minute_limit``/``hourly_limit``/``daily_limit``, with the
``x-rate-limit-*``, ``x-*-usage`` and ``x-*-requests-left`` headers on every response and a 429
when exceeded), an injectable ``clock`` for those windows, per-endpoint request counts, credits
charged, and a log of every request received.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from leadpool.apollo.fake_filters import (
    as_int,
    norm_domain,
    norm_linkedin,
    parse_params,
    person_matches,
)
from leadpool.apollo.generate import person_to_teaser

__all__ = ["PLACEHOLDER_EMAIL", "FakeApollo", "RecordedRequest", "parse_params", "person_matches"]

PLACEHOLDER_EMAIL = "email_not_unlocked@domain.com"
RATE_LIMIT_MESSAGE = (
    "The maximum number of api calls allowed for api/v1/{endpoint} is {limit} times per {window}. "
    "Please upgrade your plan from https://app.apollo.io/#/settings/plans/upgrade."
)
SHORT_ORG_FIELDS = (
    "id",
    "name",
    "website_url",
    "blog_url",
    "angellist_url",
    "linkedin_url",
    "twitter_url",
    "facebook_url",
    "primary_phone",
    "languages",
    "alexa_ranking",
    "phone",
    "linkedin_uid",
    "founded_year",
    "publicly_traded_symbol",
    "publicly_traded_exchange",
    "logo_url",
    "crunchbase_url",
    "primary_domain",
    "sanitized_phone",
    "sic_codes",
    "naics_codes",
    "organization_headcount_six_month_growth",
    "organization_headcount_twelve_month_growth",
    "organization_headcount_twenty_four_month_growth",
)
_WINDOWS = (("minute", "minute", 60), ("hourly", "hour", 3600), ("daily", "day", 86400))
_NOMINAL_LIMITS = {"minute": 1_000_000, "hourly": 10_000_000, "daily": 100_000_000}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received and what it answered (headers lower-cased, api key masked)."""

    method: str
    path: str
    endpoint: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: str
    status: int
    response_body: str


@dataclass
class _Failure:
    status: int
    body: str | None
    retry_after: str | None


@dataclass
class _State:
    requests: Counter[str] = field(default_factory=Counter)
    credits_charged: float = 0.0
    log: list[RecordedRequest] = field(default_factory=list)
    failures: list[_Failure | None] = field(default_factory=list)  # None: let one request through
    usage: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (endpoint, window, slot)


def _legacy_person(person: dict[str, Any]) -> dict[str, Any]:
    row = dict(person)
    row["email"] = PLACEHOLDER_EMAIL if person.get("email") else None
    org = person.get("organization")
    row["organization"] = {k: org.get(k) for k in SHORT_ORG_FIELDS} if org else None
    row.pop("phone_numbers", None)
    row.pop("personal_emails", None)
    return row


class FakeApollo:
    """The fake Apollo server; use as a context manager (starts and stops the server thread)."""

    def __init__(
        self,
        people: Iterable[dict[str, Any]] = (),
        *,
        api_key: str = "test-key",
        organizations: Iterable[dict[str, Any]] = (),
        minute_limit: int | None = None,
        hourly_limit: int | None = None,
        daily_limit: int | None = None,
        clock: Callable[[], float] = time.time,
        credit_per_match: float = 1.0,
        restricted_keys: Iterable[str] = (),
    ) -> None:
        self.api_key = api_key
        # keys that authenticate but are not master keys: search answers 403 API_INACCESSIBLE
        self.restricted_keys = frozenset(restricted_keys)
        self.limits: dict[str, int | None] = {
            "minute": minute_limit,
            "hourly": hourly_limit,
            "daily": daily_limit,
        }
        self.clock = clock
        self.credit_per_match = credit_per_match
        self._lock = threading.Lock()
        self._state = _State()
        self._people: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}
        self._by_email: dict[str, dict[str, Any]] = {}
        self._by_linkedin: dict[str, dict[str, Any]] = {}
        self._by_name: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._orgs: dict[str, dict[str, Any]] = {}
        self.add_people(people)
        for org in organizations:
            self.add_organization(org)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- data -----------------------------------------------------------------------------

    def add_people(self, people: Iterable[dict[str, Any]]) -> None:
        """Make people findable (search, match); their organizations become enrichable."""
        with self._lock:
            for p in people:
                if p["id"] in self._by_id:
                    continue
                self._people.append(p)
                self._by_id[p["id"]] = p
                if p.get("email"):
                    email = p["email"].lower()
                    self._by_email.setdefault(email, p)
                    for algo in (hashlib.md5, hashlib.sha256):  # people/match accepts hashed_email
                        self._by_email.setdefault(algo(email.encode()).hexdigest(), p)
                if p.get("linkedin_url"):
                    self._by_linkedin.setdefault(norm_linkedin(p["linkedin_url"]), p)
                name = (p.get("name") or f"{p.get('first_name') or ''} {p.get('last_name') or ''}").strip()
                org = p.get("organization") or {}
                if name:
                    for company_key in (org.get("primary_domain"), org.get("name")):
                        if company_key:
                            key = (name.lower(), str(company_key).lower())
                            self._by_name.setdefault(key, []).append(p)
                if org.get("primary_domain"):
                    self._orgs.setdefault(norm_domain(org["primary_domain"]), org)

    def add_organization(self, org: dict[str, Any]) -> None:
        with self._lock:
            if org.get("primary_domain"):
                self._orgs[norm_domain(org["primary_domain"])] = org

    # --- knobs and observations -------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 429,
        body: str | None = None,
        retry_after: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer ``n`` authenticated requests with ``status`` (429 uses Apollo's documented body),
        after letting ``after`` requests through normally."""
        with self._lock:
            self._state.failures.extend([None] * after)
            self._state.failures.extend(_Failure(status, body, retry_after) for _ in range(n))

    @property
    def requests(self) -> Counter[str]:
        """Requests received per endpoint ("people/bulk_match"...), failures included."""
        with self._lock:
            return Counter(self._state.requests)

    @property
    def credits_charged(self) -> float:
        with self._lock:
            return self._state.credits_charged

    @property
    def request_log(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.log)

    def count(self, endpoint: str, status: int | None = None) -> int:
        return sum(
            1 for r in self.request_log if r.endpoint == endpoint and (status is None or r.status == status)
        )

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeApollo is not started; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """The ``/api/v1`` base, the same shape as the client's default base URL."""
        return f"{self.root_url}/api/v1"

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-apollo", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- request handling (called from server threads) -------------------------------------

    def _rate_headers(self, endpoint: str, count_this: bool) -> tuple[dict[str, str], tuple[str, int] | None]:
        """Headers for this response, and (window, limit) if the request is over a limit.

        Windows are fixed (minute/hour/day slots of ``clock()``) and per endpoint, like Apollo's.
        A window without a configured limit still reports a nominal one that is never reached.
        """
        now = self.clock()
        windows = [
            (key, word, int(now // seconds), self.limits[key] or _NOMINAL_LIMITS[key])
            for key, word, seconds in _WINDOWS
        ]
        exceeded: tuple[str, int] | None = None
        for key, word, slot, limit in windows:
            if self._state.usage[(endpoint, key, slot)] >= limit and exceeded is None:
                exceeded = (word, limit)
        headers: dict[str, str] = {}
        for key, _word, slot, limit in windows:
            if count_this and exceeded is None:
                self._state.usage[(endpoint, key, slot)] += 1
            used = self._state.usage[(endpoint, key, slot)]
            headers[f"x-rate-limit-{key}"] = str(limit)
            headers[f"x-{key}-usage"] = str(used)
            headers[f"x-{key}-requests-left"] = str(max(0, limit - used))
        return headers, exceeded

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, str], str]:
        endpoint = re.sub(r"^/(api/)?v1/", "", path).strip("/")
        status, out_headers, text, params = self._dispatch(method, path, endpoint, query, headers, body)
        masked = {k: ("***" if k == "x-api-key" else v) for k, v in headers.items()}
        with self._lock:
            self._state.requests[endpoint] += 1
            self._state.log.append(
                RecordedRequest(method, path, endpoint, params, masked, body, status, text)
            )
        return status, out_headers, text

    def _dispatch(
        self,
        method: str,
        path: str,
        endpoint: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: str,
    ) -> tuple[int, dict[str, str], str, dict[str, Any]]:
        key = headers.get("x-api-key")
        if key in self.restricted_keys and endpoint in ("mixed_people/api_search", "mixed_people/search"):
            text = json.dumps(
                {
                    "error": f"api/v1/{endpoint} is not accessible with this api_key",
                    "error_code": "API_INACCESSIBLE",
                }
            )
            return 403, {"content-type": "application/json; charset=utf-8"}, text, {}
        if key != self.api_key and key not in self.restricted_keys:
            return 401, {"content-type": "text/plain; charset=utf-8"}, "Invalid access credentials.", {}
        with self._lock:
            failure = self._state.failures.pop(0) if self._state.failures else None
            rate_headers, exceeded = self._rate_headers(endpoint, count_this=failure is None)
        if failure is not None:
            hdrs = {"content-type": "application/json; charset=utf-8", **rate_headers}
            if failure.retry_after is not None:
                hdrs["retry-after"] = failure.retry_after
            if failure.status == 429:
                text = failure.body or json.dumps(
                    {"message": RATE_LIMIT_MESSAGE.format(endpoint=endpoint, limit=600, window="hour")}
                )
            else:
                text = failure.body or json.dumps({"error": "Internal server error"})
            return failure.status, hdrs, text, {}
        if exceeded is not None:
            word, limit = exceeded
            text = json.dumps(
                {"message": RATE_LIMIT_MESSAGE.format(endpoint=endpoint, limit=limit, window=word)}
            )
            return 429, {"content-type": "application/json; charset=utf-8", **rate_headers}, text, {}
        try:
            parsed = json.loads(body) if body.strip() else {}
            if not isinstance(parsed, dict):
                raise TypeError("body is not a JSON object")
            params = parse_params(query, parsed)
            status, payload = self._route(method, path, endpoint, params)
        except (ValueError, TypeError) as e:
            status, payload, params = 422, {"error": "Invalid parameters", "detail": str(e)}, {}
        text = json.dumps(payload, ensure_ascii=False)
        return status, {"content-type": "application/json; charset=utf-8", **rate_headers}, text, params

    def _route(self, method: str, path: str, endpoint: str, params: dict[str, Any]) -> tuple[int, Any]:
        api = path.startswith("/api/v1/")
        if endpoint == "mixed_people/api_search" and method == "POST" and api:
            return self._search(params, teaser=True)
        if endpoint == "mixed_people/search" and method == "POST":
            return self._search(params, teaser=False)
        if endpoint == "people/match" and method == "POST" and api:
            person = self._match(params)
            with self._lock:
                self._state.credits_charged += self.credit_per_match if person else 0.0
            return 200, {"person": person}
        if endpoint == "people/bulk_match" and method == "POST" and api:
            return self._bulk_match(params)
        if endpoint == "organizations/enrich" and method in ("GET", "POST") and api:
            domain = params.get("domain")
            if not isinstance(domain, str) or not domain.strip():
                return 422, {"error": "Invalid parameters", "detail": "domain is required"}
            with self._lock:
                org = self._orgs.get(norm_domain(domain))
                self._state.credits_charged += 1.0 if org else 0.0
            return 200, {"organization": org}
        return 404, {"error": f"no route for {method} {path}"}

    def _search(self, params: dict[str, Any], *, teaser: bool) -> tuple[int, Any]:
        page = as_int(params.get("page"), 1)
        per_page = as_int(params.get("per_page"), 10 if not teaser else 25)
        if page < 1 or per_page < 1 or page > 500:
            return 422, {"error": "Invalid parameters", "detail": "page must be 1..500, per_page >= 1"}
        per_page = min(per_page, 100)
        with self._lock:
            matching = [p for p in self._people if person_matches(p, params)]
        total = len(matching)
        rows = matching[(page - 1) * per_page : page * per_page]
        if teaser:
            return 200, {"total_entries": total, "people": [person_to_teaser(p) for p in rows]}
        return 200, {
            "breadcrumbs": [],
            "partial_results_only": False,
            "has_join": False,
            "disable_eu_prospecting": False,
            "partial_results_limit": 10000,
            "pagination": {
                "page": page,
                "per_page": per_page,
                "total_entries": total,
                "total_pages": (total + per_page - 1) // per_page,
            },
            "contacts": [],
            "people": [_legacy_person(p) for p in rows],
            "model_ids": [p["id"] for p in rows],
            "num_fetch_result": None,
            "derived_params": {"recommendation_config_id": None},
        }

    def _match(self, identity: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            pid = identity.get("id")
            if isinstance(pid, str) and pid in self._by_id:
                return self._by_id[pid]
            for key in ("email", "hashed_email"):
                email = identity.get(key)
                if isinstance(email, str) and email.strip().lower() in self._by_email:
                    return self._by_email[email.strip().lower()]
            linkedin = identity.get("linkedin_url")
            if isinstance(linkedin, str) and norm_linkedin(linkedin) in self._by_linkedin:
                return self._by_linkedin[norm_linkedin(linkedin)]
            name = identity.get("name")
            if not isinstance(name, str) or not name.strip():
                name = f"{identity.get('first_name') or ''} {identity.get('last_name') or ''}".strip()
            domain, org_name = identity.get("domain"), identity.get("organization_name")
            keys = [norm_domain(domain)] if isinstance(domain, str) and domain else []
            keys += [org_name.lower()] if isinstance(org_name, str) and org_name else []
            for key in keys:
                found = self._by_name.get((name.lower(), key)) if name else None
                if found:
                    return found[0]
        return None

    def _bulk_match(self, params: dict[str, Any]) -> tuple[int, Any]:
        details = params.get("details")
        if not isinstance(details, list) or not details:
            return 422, {"error": "Invalid parameters", "detail": "details must be a non-empty list"}
        if len(details) > 10:
            return 422, {"error": "Invalid parameters", "detail": "at most 10 details per request"}
        matches = [self._match(d) if isinstance(d, dict) else None for d in details]
        unique = {m["id"] for m in matches if m is not None}
        credits = self.credit_per_match * sum(1 for m in matches if m is not None)
        with self._lock:
            self._state.credits_charged += credits
        return 200, {
            "status": "success",
            "error_code": None,
            "error_message": None,
            "total_requested_enrichments": len(details),
            "unique_enriched_records": len(unique),
            "missing_records": sum(1 for m in matches if m is None),
            "credits_consumed": credits,
            "matches": matches,
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeApollo
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = parse_qs(parts.query, keep_blank_values=True)
        status, out_headers, text = self.fake.handle(self.command, parts.path, query, headers, body)
        data = text.encode("utf-8")
        self.send_response(status)
        for k, v in out_headers.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
