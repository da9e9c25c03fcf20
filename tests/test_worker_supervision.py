"""`leadpool worker` outlives a restart of its database server: procrastinate stops a worker whose
connections fail, and the command starts it again until a signal asks it to stop."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from leadpool.db import embedded


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def _listening(uri: str) -> bool:
    try:
        with psycopg.connect(uri, autocommit=True, connect_timeout=2) as c:
            rows = c.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'").fetchone()
    except psycopg.OperationalError:
        return False
    return bool(rows and rows[0])


def _restart(pgdata: Path) -> None:
    """pg_ctl restart, as the server's own user (the wheel runs it unprivileged under root)."""
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4]
    command = [
        str(embedded.bin_dir() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w",
        "-o", f"-h '' -k {socket_dir}", "-l", str(pgdata / "restart.log"), "restart",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command = ["su", pgdata.owner(), "-s", "/bin/sh", "-c", shlex.join(command)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def test_the_worker_starts_again_after_its_server_restarts_and_stops_on_sigterm() -> None:
    # a server of its own (outside pytest's 0700 folders: it runs unprivileged under root)
    home = Path(tempfile.gettempdir()) / f"leadpool-worker-{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADPOOL_")}
    env |= {"LEADPOOL_HOME": str(home), "LEADPOOL_SECRET_KEY": "worker-supervision-test-key"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from leadpool.cli import main; main()", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: (home / "pgdata" / "postmaster.pid").exists())
        uri = embedded.server_uri(home)
        _wait_for(lambda: _listening(uri))
        _restart(home / "pgdata")
        _wait_for(lambda: _listening(uri))  # the worker is back, listening on the new server
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        shutil.rmtree(home, ignore_errors=True)
    assert proc.returncode == 0, err
    assert "starting it again" in err and "worker stopped" in out
