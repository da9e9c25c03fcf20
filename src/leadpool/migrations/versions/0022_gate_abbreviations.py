"""gate_fast_check reads zone names with the Default abbreviation set, whatever the server's

In ``AT TIME ZONE`` an abbreviation wins over a zone name, and which names are abbreviations
depends on the server's ``timezone_abbreviations``: with the standard ``Australia`` set, ``EST``
reads as UTC+10 instead of UTC-5, and the fast path's local clock for a lead in ``EST`` was 15
hours off the full check's (zoneinfo): it could allow a send in what the full check calls quiet
hours. ``gate_time_zones`` (0015) lists the names that agree with zoneinfo under the Default set;
the function now runs with that set. (The insights refresh pins it for its local hours too.)

Revision ID: 0022_gate_abbreviations
Revises: 0021_sender_spelling
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0022_gate_abbreviations"
down_revision = "0021_sender_spelling"
branch_labels = None
depends_on = None


def _signature() -> str:
    plans = importlib.import_module("leadpool.migrations.versions.0010_gate_plans_without_seqscan")
    return str(plans._SIGNATURE)


def upgrade() -> None:
    op.execute(f"ALTER FUNCTION {_signature()} SET timezone_abbreviations = 'Default'")


def downgrade() -> None:
    op.execute(f"ALTER FUNCTION {_signature()} RESET timezone_abbreviations")
