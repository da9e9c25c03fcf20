"""The running system the demo drives: a fresh database, the API in a child process, a fake Apollo.

The sending engines talk to the service only through :mod:`leadpool.client`, as real ones would.
The API runs in its own process (uvicorn on 127.0.0.1, a port picked by the OS) so the engines and
the service use both cores instead of sharing one interpreter lock.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import make_url

from leadpool.apollo.fake import FakeApollo
from leadpool.client import LeadpoolClient
from leadpool.config import get_settings
from leadpool.db import Database
from leadpool.db.engine import libpq_uri, resolve_uri
from leadpool.db.migrate import upgrade

DEMO_DATABASE = "leadpool_demo"
APOLLO_KEY = "demo-apollo-key"


def fresh_database(uri: str | None = None, name: str = DEMO_DATABASE) -> str:
    """Create (dropping any earlier one) the demo's own database on the configured server and
    migrate it; returns its URI. The demo never writes into the database the service normally uses."""
    base = libpq_uri(uri or resolve_uri(get_settings()))
    admin = make_url(base).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    target = make_url(base).set(database=name).render_as_string(hide_password=False)
    db = Database.from_uri(target)
    try:
        upgrade(db)
    finally:
        db.dispose()
    return target


@dataclass
class SendgridSigner:
    """Signs SendGrid Event Webhook deliveries like SendGrid does (ECDSA P-256 over ts + body)."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key_b64(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        from cryptography.hazmat.primitives import hashes

        ts = str(int(time.time()))
        sig = self.key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        }


@dataclass
class RunningService:
    url: str
    admin_token: str
    database_uri: str
    apollo: FakeApollo
    signer: SendgridSigner
    env: dict[str, str]
    home: Path
    apollo_people: int = 0

    def admin(self) -> LeadpoolClient:
        return LeadpoolClient(self.url, self.admin_token, timeout=120.0)

    def agency(self, api_key: str) -> LeadpoolClient:
        return LeadpoolClient(self.url, api_key, timeout=120.0)

    def run_worker(self) -> float:
        """Run the job worker (refills) until the queue is empty, as ``leadpool worker --once``
        would, with the service's settings but without the cron jobs (the simulated month is in
        the past: expiring reservations as of the wall clock would end the simulated senders'
        open ones); returns the seconds it took."""
        from leadpool.queue import run_worker

        t0 = time.perf_counter()
        with _environment(self.env):
            run_worker(uri=self.database_uri, until_empty=True, periodic=False)
        return time.perf_counter() - t0


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """Use the service's ``LEADPOOL_*`` settings in this process for a while (the refill task
    reads them: database, Apollo base URL and key), then put everything back."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("LEADPOOL_")}
    for k in saved:
        del os.environ[k]
    os.environ.update({k: v for k, v in env.items() if k.startswith("LEADPOOL_")})
    get_settings.cache_clear()
    try:
        yield
    finally:
        for k in [k for k in os.environ if k.startswith("LEADPOOL_")]:
            del os.environ[k]
        os.environ.update(saved)
        get_settings.cache_clear()


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # inherited by accepted connections: no delayed-ACK wait between header and body writes
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def service_env(
    database_uri: str, home: Path, admin_token: str, apollo: FakeApollo, signer: SendgridSigner
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADPOOL_")}
    env.update(
        {
            "LEADPOOL_DATABASE_URL": database_uri,
            "LEADPOOL_HOME": str(home),
            "LEADPOOL_ADMIN_TOKEN": admin_token,
            "LEADPOOL_APOLLO_API_KEY": APOLLO_KEY,
            "LEADPOOL_APOLLO_BASE_URL": apollo.base_url,
            "LEADPOOL_REFILL_RETRY_BASE_SECONDS": "0",
            "LEADPOOL_WEBHOOK_SENDGRID_PUBLIC_KEYS": f'["{signer.public_key_b64}"]',
            # the platform lets agencies email extrapolated and guessed addresses (their ICP must
            # ask for them); bounces and the bounce guard then show why that is risky
            "LEADPOOL_GATE_ALLOWED_EMAIL_STATUSES": '["verified", "extrapolated", "guessed"]',
        }
    )
    # the same keyed-hash secret as this process, which bulk-loads the pool
    env["LEADPOOL_SECRET_KEY"] = get_settings().resolved_secret_key().decode()
    return env


@contextmanager
def running_service(
    home: Path,
    apollo_people: list[dict[str, Any]] | None = None,
    *,
    server_uri: str | None = None,
    database_uri: str | None = None,
    while_starting: Callable[[str], None] | None = None,
) -> Iterator[RunningService]:
    """A FakeApollo holding ``apollo_people`` and the API serving a database: ``database_uri`` as
    it is (migrated first), else a fresh ``leadpool_demo`` database on ``server_uri`` (default:
    the configured server). ``while_starting(database_uri)`` runs while the API boots."""
    if database_uri is not None:
        uri = database_uri
        db = Database.from_uri(uri)
        try:
            upgrade(db)
        finally:
            db.dispose()
    else:
        uri = fresh_database(server_uri)
    admin_token = "lpadm_demo_" + secrets.token_urlsafe(24)
    signer = SendgridSigner()
    with FakeApollo(apollo_people or [], api_key=APOLLO_KEY) as apollo:
        env = service_env(uri, home, admin_token, apollo, signer)
        sock = _listening_socket()
        host, port = sock.getsockname()[:2]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "leadpool.api.app:app_factory",
                "--factory",
                "--fd",
                str(sock.fileno()),
                "--log-level",
                "warning",
                "--no-access-log",
                # the engines' pooled connections sit idle between waves, longer than uvicorn's 5 s
                # on a busy machine: a request sent just as the server closes one is lost
                # ("Server disconnected without sending a response")
                "--timeout-keep-alive",
                "600",
            ],
            env=env,
            pass_fds=(sock.fileno(),),
        )
        sock.close()
        url = f"http://{host}:{port}"
        try:
            if while_starting is not None:
                while_starting(uri)
            _wait_healthy(url, proc)
            yield RunningService(url, admin_token, uri, apollo, signer, env, home, len(apollo_people or []))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the API process exited with {proc.returncode} before answering")
        try:
            if httpx.get(url + "/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not answer /healthz in time")
        time.sleep(0.05)
