"""The fake Apollo server, with the service configured to use it (key, URL, quick retries)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from leadpool.apollo.fake import FakeApollo
from leadpool.config import get_settings


@contextmanager
def serving(
    people: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    *,
    fake_class: type[FakeApollo] = FakeApollo,
    **env: str,
) -> Iterator[FakeApollo]:
    """Serve ``people``; the refill and re-enrichment read it through the settings, with no HTTP
    retries or job backoff to wait for. ``fake_class``: a FakeApollo that behaves otherwise (holds
    an answer...). ``env``: more ``LEADPOOL_*`` settings for the test."""
    with fake_class(people, api_key=key) as server:
        settings = {
            "LEADPOOL_APOLLO_API_KEY": key,
            "LEADPOOL_APOLLO_BASE_URL": server.base_url,
            "LEADPOOL_REFILL_HTTP_RETRIES": "0",
            "LEADPOOL_REFILL_RETRY_BASE_SECONDS": "0",
        }
        for name, value in (settings | env).items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield server
        finally:
            get_settings.cache_clear()


class HeldApollo(FakeApollo):
    """Apollo takes (and charges for) the first bulk_match, then holds its answer until released."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrived = threading.Event()
        self.release = threading.Event()

    def handle(self, method: str, path: str, query: Any, headers: Any, body: Any) -> Any:
        out = super().handle(method, path, query, headers, body)
        if path.endswith("people/bulk_match") and not self.arrived.is_set():
            self.arrived.set()
            self.release.wait(60)
        return out
