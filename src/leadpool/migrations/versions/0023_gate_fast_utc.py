"""gate_fast_check: weeks in UTC whatever the session's zone; email_status folded as ASCII only

Two ways the fast path could allow what the full check denies, found by comparing the two:
- ``p_at - interval '7 days'`` on a timestamptz is calendar arithmetic in the session's
  ``TimeZone`` (the server's default, a database or role setting, PGTZ): in a New York session a
  week across the spring change is 167 hours, so a touch 167.5 hours old was not counted and a
  fourth touch in 7 days was allowed. The function now runs with ``timezone = 'UTC'`` (the full
  check computes in UTC too).
- ``lower()`` folds non-ASCII letters the way the database's locale does ('VERİFIED' became
  'verified'), Python's ``str.lower()`` another way: the fast path allowed an email the full check
  refused (email_unverified). It folds ASCII only now (``COLLATE "C"``): a status that is not
  plainly one of the allowed ones goes to the full check.

The function is 0014's with that one change; CREATE OR REPLACE resets its settings, so 0010's and
0022's are applied again with the new one.

Revision ID: 0023_gate_fast_utc
Revises: 0022_gate_abbreviations
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0023_gate_fast_utc"
down_revision = "0022_gate_abbreviations"
branch_labels = None
depends_on = None

_LOCALE_LOWER = "lower(coalesce(l.email_status, ''))"
_ASCII_LOWER = "lower(coalesce(l.email_status, '') COLLATE \"C\")"


def _functions() -> tuple[str, str, str]:
    live = importlib.import_module("leadpool.migrations.versions.0014_gate_live_now")
    before, now_live, signature = live._functions()
    del before
    if now_live.count(_LOCALE_LOWER) != 1:
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return now_live, now_live.replace(_LOCALE_LOWER, _ASCII_LOWER), signature


def _settings(signature: str, *, utc: bool) -> None:
    op.execute(f"ALTER FUNCTION {signature} SET enable_seqscan = off")
    op.execute(f"ALTER FUNCTION {signature} SET timezone_abbreviations = 'Default'")
    if utc:
        op.execute(f"ALTER FUNCTION {signature} SET timezone = 'UTC'")


def recreate(function_sql: str, signature: str) -> None:
    """Put ``gate_fast_check`` in place (a later migration's CREATE OR REPLACE, or the one before
    it on downgrade) with this migration's settings again: CREATE OR REPLACE resets them."""
    op.execute(function_sql)
    _settings(signature, utc=True)


def upgrade() -> None:
    _before, changed, signature = _functions()
    op.execute(changed)
    _settings(signature, utc=True)


def downgrade() -> None:
    before, _changed, signature = _functions()
    op.execute(before)
    _settings(signature, utc=False)
