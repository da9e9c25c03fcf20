"""The gate's fast function as a migration leaves it: its arguments, its source, its settings."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import text

from leadpool.db import Database

_FUNCTION = (
    "SELECT pg_get_function_identity_arguments(oid), prosrc, proconfig FROM pg_proc "
    "WHERE proname = 'gate_fast_check'"
)


def down_revision(revision: str) -> str:
    """The revision ``revision`` upgrades from."""
    return str(importlib.import_module(f"leadpool.migrations.versions.{revision}").down_revision)


def fast_check(db: Database) -> Any:
    """(identity arguments, source, settings) of ``gate_fast_check``."""
    with db.engine.connect() as c:
        return c.execute(text(_FUNCTION)).one()


def assert_recreated(before: Any, after: Any, marker: str) -> None:
    """``after`` is ``before`` with ``marker`` added to its source: the same arguments (old
    processes keep working) and 0023's settings, which CREATE OR REPLACE resets, applied again."""
    assert after[0] == before[0] and marker in after[1] and marker not in before[1]
    assert sorted(after[2]) == sorted(before[2])
