"""``leadpool serve`` as a user runs it: a subprocess with two workers on the test database."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from leadpool.client import LeadpoolClient

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, env: dict[str, str], workers: int) -> subprocess.Popen[str]:
    main = "import sys; from leadpool.cli import main; sys.argv[0] = 'leadpool'; main()"
    cmd = [sys.executable, "-c", main, "serve", "--port", str(port), "--workers", str(workers)]
    cmd += ["--log-level", "warning"]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _wait_up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("leadpool serve did not come up")


def _healthz_on(conn: socket.socket) -> bytes:
    """One GET /healthz on an open connection, kept alive; the response's first bytes."""
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data  # closed by the server
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += conn.recv(4096)
    return data


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return out


def test_serve_generates_the_admin_token_once_and_runs_several_workers(db, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "LEADPOOL_ADMIN_TOKEN"}
    env["LEADPOOL_HOME"] = str(tmp_path / "home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    proc = _start(port, env, workers=2)
    try:
        _wait_up(url, proc)
        token_file = tmp_path / "home" / "admin_token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        with LeadpoolClient(url, token) as admin:
            for i in range(6):  # spread over both workers
                admin.create_agency(f"Served {i}")
            assert len(admin.list_agencies()) == 6
            text = admin.metrics()
        # metrics add up every worker's requests
        line = next(
            x for x in text.splitlines() if x.startswith("leadpool_http_request_duration_seconds_count")
        )
        assert 'route="/v1/agencies"' in text and line
        created = sum(
            float(x.rsplit(" ", 1)[1])
            for x in text.splitlines()
            if x.startswith('leadpool_http_request_duration_seconds_count{method="POST",route="/v1/agencies"')
        )
        assert created == 6
    finally:
        first_out = _stop(proc)
    assert first_out.count(token) == 1  # shown once, when generated

    proc = _start(port, env, workers=1)
    try:
        _wait_up(url, proc)
        assert (
            httpx.get(url + "/v1/agencies", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
        # an idle connection outlives a client's own 5 s idle expiry (uvicorn's default was 5 s too:
        # a request sent as the server closed it was lost)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            assert _healthz_on(conn).startswith(b"HTTP/1.1 200")
            time.sleep(6)
            assert _healthz_on(conn).startswith(b"HTTP/1.1 200")
    finally:
        second_out = _stop(proc)
    assert token not in second_out
