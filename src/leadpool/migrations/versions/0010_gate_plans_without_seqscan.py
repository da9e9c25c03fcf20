"""gate_fast_check plans with sequential scans off

Its statements run on generic plans (the function sets plan_cache_mode), made once per database
session. One made while a table was nearly empty (a fresh installation's touches, gate_counters)
chooses a sequential scan and keeps it as the table grows: measured on gate_counters, 9.7 ms
per lookup at 200,000 rows against 0.09 ms for the primary-key lookup. Every statement in the
function is index lookups by design, so the planner is told so. (GateWorker's connection and
the gate's transactions set the same for their own statements.)

Revision ID: 0010_gate_plans_without_seqscan
Revises: 0009_gate_fast_path
"""

from __future__ import annotations

from alembic import op

revision = "0010_gate_plans_without_seqscan"
down_revision = "0009_gate_fast_path"
branch_labels = None
depends_on = None

_SIGNATURE = (
    "gate_fast_check(bigint, bigint, text, text, timestamptz, text, bigint[], text, int, int, int, int, "
    "int, int, text[], time, time, int[], boolean, int)"
)


def upgrade() -> None:
    op.execute(f"ALTER FUNCTION {_SIGNATURE} SET enable_seqscan = off")


def downgrade() -> None:
    op.execute(f"ALTER FUNCTION {_SIGNATURE} RESET enable_seqscan")
