"""A real HTTP server (uvicorn on 127.0.0.1, free port) over the test database, and clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from api.world import World, build_world
from leadpool.api.app import create_app
from leadpool.api.server import LiveServer, serve_in_thread
from leadpool.api.settings import ApiSettings
from leadpool.api.throttle import FailedAuth
from leadpool.client import LeadpoolClient
from leadpool.config import Settings
from leadpool.db import Database

ADMIN_TOKEN = "test-admin-token-0123456789"
MAX_BODY = 1024 * 1024


@pytest.fixture(scope="session")
def live(_session_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the session; each test's ``db`` fixture empties the tables afterwards."""
    settings = Settings(home=tmp_path_factory.mktemp("api-home"))
    app = create_app(
        settings, db=_session_db, api_settings=ApiSettings(admin_token=ADMIN_TOKEN, max_body_bytes=MAX_BODY)
    )
    with serve_in_thread(app) as server:
        yield server


@dataclass
class Api:
    url: str
    admin: LeadpoolClient

    def client(self, token: str | None) -> LeadpoolClient:
        return LeadpoolClient(self.url, token)


@pytest.fixture
def api(live: LiveServer, db: Database) -> Iterator[Api]:
    # each test starts with no failed sign-ins counted: the server is shared by the whole session
    live.server.config.app.state.failed_auth = FailedAuth(ADMIN_TOKEN)
    admin = LeadpoolClient(live.url, ADMIN_TOKEN)
    yield Api(live.url, admin)
    admin.close()


@pytest.fixture
def world(api: Api) -> Iterator[World]:
    """Two agencies built through the API itself, each with a campaign and five leads."""
    w = build_world(api.admin, api.url)
    yield w
    w.close()
