"""Apollo tests talk only to the fake server on 127.0.0.1: any other network connection fails."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from leadpool.apollo.client import ApolloClient
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
        raise ConnectionRefusedError(f"test tried to reach {address[0]}: only 127.0.0.1 is allowed")
    _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield


# A fake Apollo holding distinct people, and a client of it that never sleeps for real
KEY = "enrich-key"


@pytest.fixture(scope="module")
def people() -> list[dict[str, Any]]:
    # distinct people with a usable email and a LinkedIn URL, so "fresh" depends only on enriched_at
    pool = [
        p
        for p in generate_people(400, 33, duplicate_rate=0.0)
        if p["email_status"] == "verified" and p["linkedin_url"]
    ]
    return pool[:120]


@pytest.fixture
def fake(people: list[dict[str, Any]]) -> Iterator[FakeApollo]:
    with FakeApollo(people=people, api_key=KEY) as f:
        yield f


@pytest.fixture
def client(fake: FakeApollo) -> Iterator[ApolloClient]:
    sleeps: list[float] = []
    with ApolloClient(
        KEY, base_url=fake.base_url, backoff_base=0.001, sleep=sleeps.append, rng=random.Random(2)
    ) as c:
        yield c
