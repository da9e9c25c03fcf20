"""``leadpool serve``: the REST API and the dashboard over HTTP (uvicorn)."""

from __future__ import annotations

import os
import shutil
import socket
from enum import StrEnum

import typer
from rich.text import Text

from leadpool.cli.common import JsonOption, console, handle_errors, print_json
from leadpool.errors import InvalidInput


class LogLevel(StrEnum):
    """uvicorn's levels: another is refused as a usage error, before anything starts."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, max=64, help="uvicorn worker processes."),
    log_level: LogLevel = typer.Option(LogLevel.info, help="uvicorn log level."),
    keep_alive: int = typer.Option(
        75,
        "--keep-alive",
        min=1,
        max=3600,
        help=(
            "Seconds an idle client connection is kept open. Longer than clients keep theirs idle "
            "(httpx: 5 s) and than a load balancer's idle timeout (often 60 s), so the server never "
            "closes a connection a client is sending on."
        ),
    ),
    json_out: bool = JsonOption,
) -> None:
    """Serve the API (/v1, schema at /openapi.json), /healthz, /metrics and the dashboard (/).

    Uses the embedded PostgreSQL unless LEADPOOL_DATABASE_URL is set, and applies pending
    migrations first. With several workers, each worker joins the same database.
    """
    import uvicorn

    from leadpool.api.auth import ADMIN_TOKEN_FILE, resolve_admin_token
    from leadpool.api.settings import ApiSettings
    from leadpool.config import check_settings, get_settings
    from leadpool.db import Database
    from leadpool.db.engine import resolve_uri
    from leadpool.startup import prepare_database

    with handle_errors():
        settings = get_settings()
        check_settings()  # a bad setting stops the start here, in one line, not on a request
        # the embedded server (when used) lives as long as this process: the workers join it
        uri = resolve_uri(settings)
        db = Database.from_uri(uri)
        try:
            prepare_database(db)
        finally:
            db.dispose()
        token, generated = resolve_admin_token(settings, ApiSettings())
        # listen before saying so: a taken port or an unknown host is one line, not a traceback
        sock = listening_socket(host, port)
    token_file = settings.resolved_home() / ADMIN_TOKEN_FILE
    url = f"http://{host}:{port}"
    if json_out:
        info = {"url": url, "workers": workers, "admin_token_file": str(token_file)}
        if generated:
            info["admin_token"] = token  # generated just now: shown this once
        print_json(info)
    else:
        if generated:
            console.print(f"generated the admin token (kept in {token_file}, shown only now):")
            console.print(Text.assemble("  ", (token, "bold")), soft_wrap=True)
        console.print(f"leadpool serving on {url}  (API /v1, /openapi.json, dashboard /, metrics /metrics)")

    # workers read these: one database for all, and Prometheus numbers summed across processes
    os.environ["LEADPOOL_DATABASE_URL"] = uri
    if workers > 1:
        metrics_dir = settings.resolved_home() / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    get_settings.cache_clear()
    uvicorn.run(
        "leadpool.api.app:app_factory",
        factory=True,
        fd=sock.fileno(),
        workers=workers,
        log_level=log_level.value,
        access_log=False,
        proxy_headers=False,  # the client address is the peer's (leadpool.api.proxy)
        # uvicorn's 5 s equals httpx's idle expiry: a request sent as the server closes the
        # connection is lost ("Server disconnected without sending a response")
        timeout_keep_alive=keep_alive,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind here rather than in uvicorn, to set TCP_NODELAY: accepted connections inherit it, and
    without it a response's header and body writes wait on delayed ACKs (~40 ms per request)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:  # a taken port, an address not ours, a host name that does not resolve
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.set_inheritable(True)
    return sock
