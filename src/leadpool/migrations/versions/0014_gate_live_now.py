"""gate_fast_check counts a reservation live now, even for a check dated later

A check may be dated ahead (a scheduled send). Counting the lead's and the company's touches as
of that later instant left out a reservation that is live now but will have expired by then; the
reservation could still be confirmed before it expired, and the lead's daily cap or the company's
weekly budget was then exceeded. A reservation now counts while it is live at the earlier of the
check's instant and now (the full check does the same).

The function is 0009's with that one change, and 0010's plan setting applied again (CREATE OR
REPLACE resets a function's settings).

Revision ID: 0014_gate_live_now
Revises: 0013_platform_key
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0014_gate_live_now"
down_revision = "0013_platform_key"
branch_labels = None
depends_on = None

_AS_OF_AT = "t.expires_at > p_at"
_AS_OF_LIVE = "t.expires_at > least(p_at, now())"


def _functions() -> tuple[str, str, str]:
    base = importlib.import_module("leadpool.migrations.versions.0009_gate_fast_path")
    plans = importlib.import_module("leadpool.migrations.versions.0010_gate_plans_without_seqscan")
    original: str = base._FUNCTION
    if original.count(_AS_OF_AT) != 2:  # the lead's touches and the company's week
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return original, original.replace(_AS_OF_AT, _AS_OF_LIVE), plans._SIGNATURE


def upgrade() -> None:
    _original, changed, signature = _functions()
    op.execute(changed)
    op.execute(f"ALTER FUNCTION {signature} SET enable_seqscan = off")


def downgrade() -> None:
    original, _changed, signature = _functions()
    op.execute(original)
    op.execute(f"ALTER FUNCTION {signature} SET enable_seqscan = off")
