"""What the provider modules share: a list entry, the errors, and an HTTP client that retries.

The client never puts a key, a URL's query (Mailgun's paging URLs carry an address) or a response
body into an error: only the provider, the list, the status and the setting to fix.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from leadpool.errors import LeadpoolError

#: first wait after a 429, 5xx or transport error; doubled at each further attempt
BACKOFF_SECONDS = 2.0
#: longest wait a provider's Retry-After is honoured for (the job runs again anyway)
MAX_RETRY_AFTER = 60.0
_ADDRESS = re.compile(r"[^\s@]+@[^\s@]+")


class ProviderError(LeadpoolError):
    """A provider's suppression API could not be read (after retries); the next run tries again."""

    status_code = 502


class ProviderAuthError(ProviderError):
    """A provider refused the configured credentials (401/403).

    ``key_refused``: 401, the key itself is refused, so every list read with it would be too; a
    403 may be one endpoint's scope only (SendGrid keys carry a scope per list)."""

    status_code = 401

    def __init__(self, message: str, *, key_refused: bool = False) -> None:
        super().__init__(message)
        self.key_refused = key_refused


@dataclass(frozen=True)
class Entry:
    """One entry of a provider's suppression list, mapped to our event type.

    ``skip`` says why the entry is not recorded (a soft or sender-side bounce, a tag-only
    unsubscribe); ``list_id`` is the list as event ids name it (no address, no secret)."""

    list_id: str
    email: str
    created: datetime
    type: str
    detail: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None


@dataclass(frozen=True)
class Unreadable:
    """An item of a page that cannot be read (no address, no time); the rest of the page is used."""

    reason: str


@dataclass(frozen=True)
class Target:
    """One list to read: ``scope`` keys its high-water mark and names it in errors and summaries."""

    scope: str
    path: str
    list_name: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    auth: tuple[str, str] | httpx.Auth | None = field(default=None, repr=False)
    # False: the API takes no time filter and the list is read whole; an entry's old time is then
    # no proof an earlier run saw it (Mailgun takes ``created_at`` when suppressions are imported)
    time_filter: bool = True

    def credentials(self) -> tuple[object, ...]:
        """What a refusal of the credentials applies to: the lists read with the same ones."""
        auth = self.auth if isinstance(self.auth, tuple) else id(self.auth)
        return (self.base_url, tuple(sorted(self.headers.items())), auth)


class ProviderHttp:
    """GET JSON from one provider, retrying 429, 5xx and transport errors with backoff."""

    def __init__(
        self,
        provider: str,
        target: Target,
        *,
        setting: str,
        max_attempts: int,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.target = target
        self.setting = setting
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._origin = _origin(target.base_url)
        self._client = httpx.Client(
            base_url=target.base_url,
            headers={"Accept": "application/json", **target.headers},
            auth=target.auth,
            timeout=timeout,
            follow_redirects=False,  # a redirect would carry the key elsewhere
        )

    def __repr__(self) -> str:  # the key never shows up in logs or tracebacks
        return f"ProviderHttp({self.provider!r}, {self.target.scope!r})"

    def close(self) -> None:
        self._client.close()

    def get_json(self, url: str, params: Any = None) -> Any:
        """The JSON body of ``GET url`` (a path under the base URL, or an absolute URL on its host)."""
        where = f"{self.provider}: {self.target.scope}"
        try:
            origin = _origin(urljoin(self.target.base_url + "/", url))
        except ValueError:  # "http://[..." : never followed, and never quoted (it may hold an address)
            raise ProviderError(f"{where}: the provider's next-page URL is malformed; not followed") from None
        if origin != self._origin:
            # Mailgun's paging URLs are absolute: the key is sent only to the configured host
            raise ProviderError(f"{where}: the provider's next-page URL is on another host; not followed")
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = self._client.get(url, params=params)
            except httpx.TransportError as e:
                why = f"no answer ({type(e).__name__})"
                wait = None
            except (httpx.HTTPError, httpx.InvalidURL) as e:
                # not a transient failure (an undecodable body, a URL httpx refuses): not retried
                raise ProviderError(f"{where}: the request failed ({type(e).__name__})") from None
            else:
                if resp.status_code in (401, 403):
                    raise ProviderAuthError(
                        f"{where}: the API refused the credentials (HTTP {resp.status_code}); "
                        f"check {self.setting}",
                        key_refused=resp.status_code == 401,
                    )
                if resp.status_code == 429 or resp.status_code >= 500:
                    why, wait = f"HTTP {resp.status_code}", _retry_after(resp.headers.get("retry-after"))
                elif resp.status_code != 200:
                    raise ProviderError(f"{where}: HTTP {resp.status_code}{_message(resp)}")
                else:
                    try:
                        return resp.json()
                    except ValueError:
                        raise ProviderError(f"{where}: the answer is not JSON") from None
            if attempt == self.max_attempts:
                raise ProviderError(f"{where}: {why} after {attempt} attempts; the next run tries again")
            self._sleep(wait if wait is not None else BACKOFF_SECONDS * 2 ** (attempt - 1))
        raise AssertionError("unreachable")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff is good enough


def _message(resp: httpx.Response) -> str:
    """The provider's own error message (Mailgun ``message``, Postmark ``Message``, SendGrid
    ``errors[0].message``), short; never the raw body."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    text: Any = None
    if isinstance(body, dict):
        text = body.get("message") or body.get("Message")
        errors = body.get("errors")
        if text is None and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            text = errors[0].get("message")
    return f" ({_ADDRESS.sub('<address>', str(text))[:200]})" if text else ""
