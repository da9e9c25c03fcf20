"""``leadpool serve`` on an address it cannot listen on: one clear line, not a traceback.

Guide rule: bad input gets a clear error saying what and where. ``serve --port`` of a port that is
already taken (a second server, another service) or a ``--host`` that does not resolve is such
input; today the bind happens outside ``handle_errors`` (src/leadpool/cli/serve.py, after the
"serving on" announcement) and the command dies with a Rich traceback of OSError/gaierror, having
already printed that it is serving (in --json, an object with the url a client would then use).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

MAIN = "import sys; from leadpool.cli import main; sys.argv[0] = 'leadpool'; main()"


def _serve(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)  # the db fixture points LEADPOOL_DATABASE_URL at this test's database
    env["LEADPOOL_HOME"] = str(home)
    env["LEADPOOL_ADMIN_TOKEN"] = "review-admin-token-0123456789"
    return subprocess.run(
        [sys.executable, "-c", MAIN, "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_serve_on_a_port_in_use_is_one_clear_line(db, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = _serve(["--port", str(port), "--json"], tmp_path / "home")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert str(port) in done.stderr, done.stderr
    # nothing on stdout claims a server that never listened
    if done.stdout.strip():
        assert "url" not in json.loads(done.stdout), done.stdout


def test_serve_on_a_host_that_does_not_resolve_is_one_clear_line(db, tmp_path: Path) -> None:
    done = _serve(["--host", "no-such-host.invalid", "--port", "8123"], tmp_path / "home")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "no-such-host.invalid" in done.stderr, done.stderr
