"""ingestion: lead_raw_payloads (which raw payloads described which lead)

Revision ID: 0002_ingestion
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ingestion"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_raw_payloads",
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("raw_payload_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_raw_payloads_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["raw_payload_id"],
            ["raw_payloads.id"],
            name=op.f("fk_lead_raw_payloads_raw_payload_id_raw_payloads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lead_id", "raw_payload_id", name=op.f("pk_lead_raw_payloads")),
    )
    op.create_index(
        "ix_lead_raw_payloads_raw_payload_id", "lead_raw_payloads", ["raw_payload_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_lead_raw_payloads_raw_payload_id", table_name="lead_raw_payloads")
    op.drop_table("lead_raw_payloads")
