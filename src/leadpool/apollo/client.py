"""Apollo REST client (httpx, sync): search, enrichment, retries and credit accounting.

Every call returns the exact response text with its endpoint, the parameters sent (never the
api key, which only travels in the ``x-api-key`` header), the rate-limit headers and the credits
consumed, so callers can keep the raw payload.

Rate limits (apollo.md 2.6): Apollo uses fixed per-minute/hour/day windows and reports them in
``x-*-requests-left`` headers; ``Retry-After`` is not documented. So on a 429 the client waits for
``Retry-After`` when present, else for the next window of the budget the headers say is spent
(without those headers, the window the 429's message names: "... times per hour"), else for the
next minute window. A wait longer than ``max_wait``, or for a new day (waiting a day inside a call
helps nobody), is not cut short: the call fails with RateLimited(retry_after=the wait) and the
client sends nothing more until then. When a successful response says no requests are left in a
window, the next call first waits for it (or fails so, before sending). 5xx and transport errors
back off exponentially with jitter, capped by ``max_wait``. ``sleep``/``clock`` are injectable so
tests never really wait.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from leadpool.apollo.errors import (
    ApolloError,
    ApolloRequestError,
    ApolloUnavailable,
    AuthError,
    ChargeUncertain,
    PaidCallRefused,
    RateLimited,
)
from leadpool.config import Settings, get_settings

__all__ = [
    "DEFAULT_BASE_URL",
    "IDENTITY_FIELDS",
    "ApolloClient",
    "ApolloResponse",
    "BulkMatchResult",
    "MatchResult",
    "OrganizationResult",
    "SearchPage",
    "client_from_settings",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.apollo.io/api/v1"
BULK_MATCH_MAX = 10
MAX_PAGE = 500  # Apollo's display limit: 500 pages x 100
MAX_PER_PAGE = 100  # apollo.md 2.1/2.2: per_page 1..100
IDENTITY_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "email",
        "hashed_email",
        "organization_name",
        "domain",
        "id",
        "linkedin_url",
    }
)
# failures that prove the request never reached Apollo: the only ones a paid call is retried after
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# the fixed windows Apollo limits requests per (apollo.md 2.6), by the name its headers use
_WINDOW_SECONDS = {"daily": 86400, "hourly": 3600, "minute": 60}
# the window a 429's documented message names ("... is 600 times per hour. ...")
_WINDOW_NAMED = re.compile(r"\bper (minute|hour|day)\b")
_NAMED_WINDOWS = {"minute": "minute", "hour": "hourly", "day": "daily"}
KEPT_HEADERS = (
    "content-type",
    "retry-after",
    "x-rate-limit-minute",
    "x-rate-limit-hourly",
    "x-rate-limit-daily",
    "x-rate-limit-24-hour",
    "x-minute-usage",
    "x-hourly-usage",
    "x-daily-usage",
    "x-minute-requests-left",
    "x-hourly-requests-left",
    "x-daily-requests-left",
)


@dataclass(frozen=True)
class ApolloResponse:
    """One response received, as it came: what a raw payload row stores."""

    endpoint: str  # "people/bulk_match", "mixed_people/api_search", ...
    method: str
    url: str
    request: dict[str, Any]  # the parameters sent; never the api key
    status_code: int
    headers: dict[str, str]  # content-type and the rate-limit headers, lower-cased names
    body: str  # the exact text received
    data: Any  # body parsed as JSON
    credits_consumed: float | None  # None where Apollo's cost is not known per call
    fetched_at: datetime
    attempts: int  # 1 + retries it took


@dataclass(frozen=True)
class SearchPage:
    """One page of people search (api_search teasers, or legacy full rows)."""

    response: ApolloResponse
    people: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    page: int
    per_page: int
    total_entries: int | None

    @property
    def total_pages(self) -> int | None:
        if self.total_entries is None:
            return None
        return min(MAX_PAGE, -(-self.total_entries // self.per_page))

    @property
    def is_last(self) -> bool:
        total_pages = self.total_pages
        return (
            not self.people or (total_pages is not None and self.page >= total_pages) or self.page >= MAX_PAGE
        )


@dataclass(frozen=True)
class MatchResult:
    response: ApolloResponse
    person: dict[str, Any] | None

    @property
    def credits_consumed(self) -> float:
        return self.response.credits_consumed or 0.0


@dataclass(frozen=True)
class BulkMatchResult:
    """``matches`` is aligned with the details asked for: ``None`` where Apollo found nobody."""

    responses: list[ApolloResponse]
    matches: list[dict[str, Any] | None]
    credits_consumed: float


@dataclass(frozen=True)
class OrganizationResult:
    response: ApolloResponse
    organization: dict[str, Any] | None


def _left(headers: Mapping[str, str], window: str) -> int | None:
    """``x-<window>-requests-left`` as a number, None when absent or unreadable."""
    value = headers.get(f"x-{window}-requests-left")
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _message(text: str) -> str:
    """Apollo's error text in one short line (JSON ``message``/``error`` when there is one)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error_message", "error", "detail"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])[:300]
    return " ".join(text.split())[:300] or "(empty body)"


class ApolloClient:
    """Synchronous Apollo API client; one instance per job or command (not thread-safe)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        http: httpx.Client | None = None,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        max_wait: float = 90.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise AuthError("no Apollo api key configured (set LEADPOOL_APOLLO_API_KEY)", endpoint="-")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._not_before = 0.0
        self._spent_window = ""  # the window _not_before waits for ("daily", "hourly", ...)
        self.credits_consumed = 0.0
        self.requests: Counter[str] = Counter()  # HTTP requests sent per endpoint, retries included
        self.retries = 0
        self.waited = 0.0  # seconds spent (or asked of ``sleep``) waiting

    def __repr__(self) -> str:  # the key never shows up in logs or tracebacks
        return f"ApolloClient(base_url={self.base_url!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- endpoints ------------------------------------------------------------------------

    def search_people(self, filters: Mapping[str, Any], page: int = 1, per_page: int = 100) -> SearchPage:
        """One page of ``mixed_people/api_search`` (free; teaser rows without emails).

        ``page`` must be 1..500 and ``per_page`` 1..100 (Apollo's limits): anything else is
        refused with ApolloRequestError before a request is sent."""
        endpoint = "mixed_people/api_search"
        _check_paging(page, per_page, endpoint)
        body = {**filters, "page": page, "per_page": per_page}
        response = self._call("POST", endpoint, body, credits=lambda _d: 0.0)
        return _search_page(response, page, per_page, contacts=False)

    def iter_search_people(
        self,
        filters: Mapping[str, Any],
        *,
        max_pages: int | None = None,
        per_page: int = 100,
        start_page: int = 1,
    ) -> Iterator[SearchPage]:
        """Page through ``api_search`` until the results, ``max_pages`` or Apollo's 500 pages end.

        ``per_page`` (1..100) and ``start_page`` (1..500) are checked before the first request."""
        _check_paging(start_page, per_page, "mixed_people/api_search")
        return self._iter_search_people(filters, max_pages, per_page, start_page)

    def _iter_search_people(
        self, filters: Mapping[str, Any], max_pages: int | None, per_page: int, start_page: int
    ) -> Iterator[SearchPage]:
        page = start_page
        fetched = 0
        while max_pages is None or fetched < max_pages:
            result = self.search_people(filters, page=page, per_page=per_page)
            fetched += 1
            yield result
            if result.is_last:
                return
            page += 1

    def legacy_search_people(
        self, filters: Mapping[str, Any], page: int = 1, per_page: int = 100
    ) -> SearchPage:
        """One page of the legacy ``mixed_people/search``: full rows, emails still locked.

        Its cost is plan-dependent (export credits per page), so no credits are counted here.
        ``page`` 1..500 and ``per_page`` 1..100, as for :meth:`search_people`.
        """
        endpoint = "mixed_people/search"
        _check_paging(page, per_page, endpoint)
        body = {**filters, "page": page, "per_page": per_page}
        response = self._call("POST", endpoint, body, credits=lambda _d: None)
        return _search_page(response, page, per_page, contacts=True)

    def match_person(self, *, reveal_personal_emails: bool = False, **identity: Any) -> MatchResult:
        """``people/match`` for one person (by ``id``, ``email``, ``linkedin_url``, name + domain...).

        Apollo's response carries no credit figure; a match counts 1 credit (apollo.md 3).
        """
        _check_identity(identity, "people/match")
        body: dict[str, Any] = {k: v for k, v in identity.items() if v is not None}
        if reveal_personal_emails:
            body["reveal_personal_emails"] = True
        response = self._call(
            "POST",
            "people/match",
            body,
            credits=lambda d: 1.0 if isinstance(d, dict) and d.get("person") else 0.0,
            paid=True,
        )
        person = response.data.get("person") if isinstance(response.data, dict) else None
        return MatchResult(response, person if isinstance(person, dict) else None)

    def bulk_match(
        self, details: Sequence[Mapping[str, Any]], *, reveal_personal_emails: bool = False
    ) -> BulkMatchResult:
        """``people/bulk_match`` in calls of 10; one response per call, matches aligned with details."""
        responses: list[ApolloResponse] = []
        matches: list[dict[str, Any] | None] = []
        credits = 0.0
        for start in range(0, len(details), BULK_MATCH_MAX):
            chunk = [
                {k: v for k, v in d.items() if v is not None} for d in details[start : start + BULK_MATCH_MAX]
            ]
            for d in chunk:
                _check_identity(d, "people/bulk_match")
            body: dict[str, Any] = {"details": chunk}
            if reveal_personal_emails:
                body["reveal_personal_emails"] = True
            response = self._call("POST", "people/bulk_match", body, credits=_bulk_credits, paid=True)
            data = response.data if isinstance(response.data, dict) else {}
            got = data.get("matches")
            if not isinstance(got, list):
                stated = _stated_credits(data)
                if stated is not None:
                    # an error answer that says what it cost: the charge is known, not uncertain
                    raise PaidCallRefused(
                        f"bulk_match answered with an error and no matches ({_message(response.body)}); "
                        f"Apollo says it charged {stated:g} credits; not sent again",
                        endpoint="people/bulk_match",
                        url=response.url,
                        request=response.request,
                        credits_consumed=stated,
                        http_status=response.status_code,
                    )
                raise ChargeUncertain(
                    f"bulk_match answered without a matches list ({_message(response.body)}); not sent "
                    "again, since Apollo may have charged for it",
                    endpoint="people/bulk_match",
                    url=response.url,
                    request=response.request,
                    http_status=response.status_code,
                )
            aligned = [m if isinstance(m, dict) else None for m in got][: len(chunk)]
            aligned += [None] * (len(chunk) - len(aligned))
            matches.extend(aligned)
            responses.append(response)
            credits += response.credits_consumed or 0.0
        return BulkMatchResult(responses, matches, credits)

    def enrich_organization(self, domain: str) -> OrganizationResult:
        """``organizations/enrich?domain=``; a found organization counts 1 credit (apollo.md 3)."""
        response = self._call(
            "GET",
            "organizations/enrich",
            {"domain": domain},
            credits=lambda d: 1.0 if isinstance(d, dict) and d.get("organization") else 0.0,
            paid=True,
        )
        org = response.data.get("organization") if isinstance(response.data, dict) else None
        return OrganizationResult(response, org if isinstance(org, dict) and org else None)

    # --- transport ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        endpoint: str,
        params: dict[str, Any],
        *,
        credits: Callable[[Any], float | None],
        paid: bool = False,
    ) -> ApolloResponse:
        """One call, retried on 429, 5xx and network errors; a paid call only when Apollo surely
        never processed it (a 429, a connection never made): any other failure of a paid call
        raises ChargeUncertain at once, since calling again would pay again."""
        url = f"{self.base_url}/{endpoint}"
        headers = {
            "x-api-key": self._api_key,
            "accept": "application/json",
            "cache-control": "no-cache",
        }
        attempt = 0
        while True:
            attempt += 1
            self._respect_window(endpoint)
            self.requests[endpoint] += 1
            try:
                if method == "GET":
                    resp = self._http.request(method, url, params=params, headers=headers)
                else:
                    resp = self._http.request(
                        method,
                        url,
                        content=orjson.dumps(params),
                        headers={**headers, "content-type": "application/json"},
                    )
            except httpx.TransportError as e:
                if paid and not isinstance(e, _NEVER_SENT):
                    raise ChargeUncertain(
                        f"no answer to a paid call ({type(e).__name__}: {e}); not sent again, since "
                        "Apollo may have charged for it",
                        endpoint=endpoint,
                        url=url,
                        request=params,
                    ) from e
                if attempt > self.max_retries:
                    raise ApolloUnavailable(
                        f"cannot reach Apollo after {attempt} attempts: {type(e).__name__}: {e}",
                        endpoint=endpoint,
                    ) from e
                self._wait(self._backoff(attempt), endpoint, f"transport error {type(e).__name__}")
                continue

            kept = {k: resp.headers[k] for k in KEPT_HEADERS if k in resp.headers}
            status = resp.status_code
            text = resp.text
            if paid and status >= 500:
                raise ChargeUncertain(
                    f"HTTP {status} to a paid call: {_message(text)}; not sent again, since Apollo may "
                    "have charged for it",
                    endpoint=endpoint,
                    url=url,
                    request=params,
                    http_status=status,
                )
            if status == 429 or status >= 500:
                if attempt > self.max_retries:
                    cls = RateLimited if status == 429 else ApolloUnavailable
                    raise cls(
                        f"HTTP {status} after {attempt} attempts: {_message(text)}",
                        endpoint=endpoint,
                        http_status=status,
                        retry_after=self._rate_limit_wait(kept, text)[0] if status == 429 else None,
                    )
                self._wait(
                    self._retry_delay(attempt, status, kept, endpoint, text), endpoint, f"HTTP {status}"
                )
                continue
            if status in (401, 403):
                raise AuthError(f"HTTP {status}: {_message(text)}", endpoint=endpoint, http_status=status)
            if status >= 400:
                raise ApolloRequestError(
                    f"HTTP {status}: {_message(text)}", endpoint=endpoint, http_status=status
                )
            try:
                data = orjson.loads(text) if text.strip() else None
            except orjson.JSONDecodeError as e:
                if paid:
                    # Apollo processed (and may have charged for) the call: booked at its worst
                    # case like a lost answer, and not sent again
                    raise ChargeUncertain(
                        f"HTTP {status} to a paid call with a body that is not JSON ({len(text)} "
                        "characters); not sent again, since Apollo may have charged for it",
                        endpoint=endpoint,
                        url=url,
                        request=params,
                        http_status=status,
                    ) from e
                raise ApolloError(
                    f"HTTP {status} with a body that is not JSON: {_message(text)}",
                    endpoint=endpoint,
                    http_status=status,
                ) from e
            self._note_window(kept)
            spent = credits(data)
            if spent:
                self.credits_consumed += spent
            return ApolloResponse(
                endpoint=endpoint,
                method=method,
                url=url,
                request=params,
                status_code=status,
                headers=kept,
                body=text,
                data=data,
                credits_consumed=spent,
                fetched_at=datetime.now(UTC),
                attempts=attempt,
            )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: base * 2^(attempt-1), times a factor in [0.5, 1.5)."""
        return float(self.backoff_base * (2 ** (attempt - 1)) * (0.5 + self._rng.random()))

    def _until_next(self, seconds: int) -> float:
        now = self._clock()
        return seconds - (now % seconds) + self._rng.random()  # a little past the boundary

    def _rate_limit_wait(self, headers: Mapping[str, str], text: str) -> tuple[float, str]:
        """After a 429: seconds until Apollo should take calls again, and why ("retry-after",
        "daily", "hourly" or "minute"). Retry-After when present, else the next fixed window of
        the spent budget the ``x-*-requests-left`` headers report; without those headers, the
        window the message names ("... 600 times per hour", apollo.md 2.6); else the next minute."""
        retry_after = _retry_after_seconds(headers.get("retry-after"), self._clock())
        if retry_after is not None:
            return retry_after, "retry-after"
        window = next((w for w in ("daily", "hourly") if _left(headers, w) == 0), None)
        if window is None and all(_left(headers, w) is None for w in _WINDOW_SECONDS):
            named = _WINDOW_NAMED.search(text.lower())
            window = _NAMED_WINDOWS[named.group(1)] if named else None
        window = window or "minute"
        return self._until_next(_WINDOW_SECONDS[window]), window

    def _retry_delay(
        self, attempt: int, status: int, headers: dict[str, str], endpoint: str, text: str
    ) -> float:
        if status != 429:
            return self._backoff(attempt)
        wait, why = self._rate_limit_wait(headers, text)
        if why == "daily" or wait > self.max_wait:
            # calling again before then only collects 429s: the caller (a job's retry) waits it
            # out, and this client sends nothing more until then
            self._not_before, self._spent_window = self._clock() + wait, why
            raise RateLimited(
                f"{_limit_reached(why)}: {_message(text)}",
                endpoint=endpoint,
                http_status=status,
                retry_after=wait,
            )
        if why == "minute":
            return max(self._backoff(attempt), wait)
        return wait

    def _wait(self, seconds: float, endpoint: str, why: str) -> None:
        seconds = min(max(0.0, seconds), self.max_wait)
        self.retries += 1
        log.info("apollo %s: %s, retrying in %.1fs", endpoint, why, seconds)
        self.waited += seconds
        self._sleep(seconds)

    def _note_window(self, headers: dict[str, str]) -> None:
        """A success saying no requests are left in a window: the next call waits for it."""
        for window, seconds in _WINDOW_SECONDS.items():  # the longest spent window first
            if _left(headers, window) == 0:
                self._not_before, self._spent_window = self._clock() + self._until_next(seconds), window
                return

    def _respect_window(self, endpoint: str) -> None:
        """Before sending: wait for a spent window to reopen, or, when that is a new day or further
        off than ``max_wait``, raise RateLimited without sending (it would surely be a 429)."""
        if self._not_before:
            delay = self._not_before - self._clock()
            if delay > 0 and (self._spent_window == "daily" or delay > self.max_wait):
                raise RateLimited(
                    f"{_limit_reached(self._spent_window)}; not sent",
                    endpoint=endpoint,
                    retry_after=delay,
                )
            self._not_before = 0.0
            if delay > 0:
                self.waited += delay
                self._sleep(delay)


def _limit_reached(window: str) -> str:
    if window == "retry-after":
        return "Apollo asked to wait (Retry-After) longer than max_wait"
    return f"{window} request limit reached"


def client_from_settings(settings: Settings | None = None, **options: Any) -> ApolloClient:
    """A client for the configured Apollo (``LEADPOOL_APOLLO_API_KEY``, ``LEADPOOL_APOLLO_BASE_URL``).

    ``options`` go to :class:`ApolloClient` (``max_retries``, ``sleep``...). Raises AuthError
    when no key is configured.
    """
    cfg = settings or get_settings()
    if not cfg.apollo_api_key:
        raise AuthError("no Apollo api key configured (set LEADPOOL_APOLLO_API_KEY)", endpoint="-")
    return ApolloClient(cfg.apollo_api_key, base_url=cfg.apollo_base_url, **options)


def _check_paging(page: int, per_page: int, endpoint: str) -> None:
    """Apollo serves at most 100 per page and 500 pages (apollo.md 2.1/2.2): asking for more
    would silently get less, so it is refused before anything is sent."""
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApolloRequestError(f"per_page must be 1..{MAX_PER_PAGE}, got {per_page!r}", endpoint=endpoint)
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise ApolloRequestError(f"page must be 1..{MAX_PAGE}, got {page!r}", endpoint=endpoint)


def _search_page(response: ApolloResponse, page: int, per_page: int, *, contacts: bool) -> SearchPage:
    """A search response as a page; paging as the response states it (``pagination``) when it
    does, else as asked."""
    data = response.data if isinstance(response.data, dict) else {}
    raw_pagination = data.get("pagination")
    pagination: dict[str, Any] = raw_pagination if isinstance(raw_pagination, dict) else {}
    total = pagination.get("total_entries", data.get("total_entries"))
    return SearchPage(
        response,
        list(data.get("people") or []),
        list(data.get("contacts") or []) if contacts else [],
        _int(pagination.get("page")) or page,
        _int(pagination.get("per_page")) or per_page,
        _int(total),
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _stated_credits(data: Any) -> float | None:
    """The ``credits_consumed`` a bulk answer states, None when it states no usable figure."""
    value = data.get("credits_consumed") if isinstance(data, dict) else None
    if isinstance(value, int | float | str):
        try:
            figure = float(value)
        except ValueError:
            return None
        return figure if math.isfinite(figure) and figure >= 0 else None
    return None


def _bulk_credits(data: Any) -> float:
    stated = _stated_credits(data)
    if stated is not None:
        return stated
    if not isinstance(data, dict):
        return 0.0
    # no usable figure: count the records Apollo returned, the documented price per record
    return float(sum(1 for m in data.get("matches") or [] if m))


def _check_identity(identity: Mapping[str, Any], endpoint: str) -> None:
    unknown = set(identity) - IDENTITY_FIELDS
    if unknown:
        raise ApolloRequestError(
            f"unknown identity field(s) {sorted(unknown)}; allowed: {sorted(IDENTITY_FIELDS)}",
            endpoint=endpoint,
        )
    if not any(identity.get(k) for k in IDENTITY_FIELDS):
        raise ApolloRequestError(
            "an identity needs at least one of " + ", ".join(sorted(IDENTITY_FIELDS)), endpoint=endpoint
        )
