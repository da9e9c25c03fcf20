"""Test databases: real PostgreSQL only.

By default every test session starts the embedded server (shared by xdist workers) and each worker
creates its own database, built by running the Alembic migrations. With
``LEADPOOL_TEST_DATABASE_URL`` set, the same happens on that external server instead. Tests commit
real transactions; every table is truncated after each test so tests stay independent and
concurrency tests see committed data.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from leadpool.config import get_settings
from leadpool.db import Database, embedded, session_scope
from leadpool.db.migrate import upgrade
from leadpool.models import Lead

TEST_SECRET = "test-secret-key-not-for-production"


def _admin_uri() -> str:
    external = os.environ.get("LEADPOOL_TEST_DATABASE_URL")
    if external:
        return external
    # One embedded server per test run, shared by its xdist workers (they agree on the run uid), kept
    # outside pytest's 0700 temp folders because the server runs as an unprivileged user when the
    # tests run as root; the last process to exit stops it and deletes its files.
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    home = Path(tempfile.gettempdir()) / f"leadpool-test-{run_id[:16]}"
    home.mkdir(parents=True, exist_ok=True)
    # registered before the server's own exit handler, so it runs after it: removes the emptied folder
    atexit.register(_remove_if_empty, home)
    return embedded.server_uri(home, database="postgres", cleanup_mode="delete")


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


@pytest.fixture(scope="session")
def database_uri() -> Iterator[str]:
    """A fresh database for this test session (or xdist worker), migrated to head."""
    admin = _admin_uri()
    name = f"leadpool_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    uri = make_url(admin).set(database=name).render_as_string(hide_password=False)
    db = Database.from_uri(uri)
    upgrade(db)
    db.dispose()
    yield uri
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _session_db(database_uri: str) -> Iterator[Database]:
    db = Database.from_uri(database_uri)
    yield db
    db.dispose()


def truncate_all(db: Database) -> None:
    """Empty every table but the reference data the migrations fill (shared by the model test)."""
    with db.engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                    # reference data the migrations fill, not test data
                    "AND tablename NOT IN ('alembic_version', 'gate_time_zones', 'country_names', 'country_clocks', "
                    "'phone_prefix_clocks', 'phone_prefix_regions')"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(_session_db: Database, env: None) -> Iterator[Database]:
    """The test database; emptied after each test."""
    yield _session_db
    truncate_all(_session_db)


@pytest.fixture
def env(database_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point settings (and any CLI command run in this process or a child) at the test database."""
    monkeypatch.setenv("LEADPOOL_DATABASE_URL", database_uri)
    monkeypatch.setenv("LEADPOOL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEADPOOL_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's consoles as on a terminal, writing into CliRunner's captured streams: rich draws
    live progress (a transient bar too, then wipes it) only on an interactive terminal, and judges
    interactive once, when the console is made."""
    from leadpool.cli.common import err_console

    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(err_console, "is_interactive", True)


@pytest.fixture
def fresh_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The gate's platform policy from its defaults only: no LEADPOOL_GATE_* of the environment."""
    from leadpool.gate.policy import clear_policy_cache

    for name in list(os.environ):
        if name.startswith("LEADPOOL_GATE_"):
            monkeypatch.delenv(name)
    clear_policy_cache()
    yield
    clear_policy_cache()


@pytest.fixture
def get_lead(db: Database) -> Callable[[int], Lead]:
    """A lead as stored now, detached (read its columns after the session is gone)."""

    def get(lead_id: int) -> Lead:
        with session_scope(db) as s:
            lead = s.get(Lead, lead_id)
            assert lead is not None
            s.expunge(lead)
            return lead

    return get
