"""gate: counter rows for the company, sender and agency caps; index for sender counts

Revision ID: 0004_gate
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_gate"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gate_counters",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("scope IN ('company', 'sender', 'agency')", name=op.f("ck_gate_counters_scope")),
        sa.CheckConstraint("n >= 0", name=op.f("ck_gate_counters_n")),
        sa.PrimaryKeyConstraint("scope", "key", "day", name=op.f("pk_gate_counters")),
    )


def downgrade() -> None:
    op.drop_table("gate_counters")
