"""The fake Apollo server, with the service configured to use it (key, URL, quick retries)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people
from leadpool.config import get_settings


def construction_people() -> list[dict[str, Any]]:
    """Generated people with a verified email at construction companies (the refill tests' ICP)."""
    return [
        p
        for p in generate_people(600, 7, duplicate_rate=0.0)
        if p["email_status"] == "verified"
        and p.get("email")
        and (p.get("organization") or {}).get("industry") == "construction"
    ]


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


# a worker as the queue runs it: one job function ("module:function", taking the database and the
# job id), with the configured Apollo and database
_WORKER = """
import importlib, os, sys
from leadpool.db import Database
module, name = sys.argv[1].split(":")
run = getattr(importlib.import_module(module), name)
run(Database.from_uri(os.environ["LEADPOOL_DATABASE_URL"]), int(sys.argv[2]))
"""


def kill_worker_during_the_call(held: HeldApollo, job: str, job_id: int) -> None:
    """Run ``job`` for ``job_id`` in a child process and kill it (SIGKILL) while Apollo holds the
    answer to the bulk_match it has taken and charged for."""
    worker = subprocess.Popen([sys.executable, "-c", _WORKER, job, str(job_id)])
    try:
        deadline = time.monotonic() + 120
        while not held.arrived.wait(0.05):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the worker never sent its bulk_match")
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        held.release.set()
