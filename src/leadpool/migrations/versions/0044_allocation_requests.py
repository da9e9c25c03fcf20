"""Allocations asked under an idempotency key keep their answer

A client that retried ``POST /v1/campaigns/{id}/allocate`` after a timeout got a second batch of
leads (up to the daily quota). ``allocation_requests`` holds the answer to each allocation asked
under a key, written in the allocation's own transaction; its primary key (campaign, key) is the
claim a retry waits on, so the same key on the same campaign is answered once whatever the
concurrency. Pruned with the gate's old denials (``leadpool.gate.retention``).

Revision ID: 0044_allocation_requests
Revises: 0043_audit_log_subject
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0044_allocation_requests"
down_revision = "0043_audit_log_subject"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allocation_requests",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_allocation_requests_count")),
        sa.CheckConstraint(
            "length(idempotency_key) BETWEEN 1 AND 200", name=op.f("ck_allocation_requests_idempotency_key")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_allocation_requests_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "idempotency_key", name=op.f("pk_allocation_requests")),
    )
    op.create_index("ix_allocation_requests_created_at", "allocation_requests", ["created_at"])


def downgrade() -> None:
    op.drop_table("allocation_requests")
