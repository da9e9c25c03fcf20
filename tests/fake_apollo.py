"""The fake Apollo server, with the service configured to use it (key, URL, quick retries)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from leadpool.apollo.fake import FakeApollo
from leadpool.config import get_settings


@contextmanager
def serving(
    people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, key: str, **env: str
) -> Iterator[FakeApollo]:
    """Serve ``people``; the refill and re-enrichment read it through the settings, with no HTTP
    retries or job backoff to wait for. ``env``: more ``LEADPOOL_*`` settings for the test."""
    with FakeApollo(people, api_key=key) as server:
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
