"""events: webhook replay receipts, indexes for the bounce guard and phone lookups

Revision ID: 0005_events
Revises: 0001_core
Create Date: 2026-11-28 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_events"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("replay_key", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_receipts")),
        sa.UniqueConstraint("provider", "replay_key", name="uq_webhook_receipts_provider_replay_key"),
    )
    op.create_index("ix_webhook_receipts_received_at", "webhook_receipts", ["received_at"])
    op.create_index("ix_events_touch_id", "events", ["touch_id"])
    op.create_index("ix_leads_phone", "leads", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_leads_phone", table_name="leads")
    op.drop_index("ix_events_touch_id", table_name="events")
    op.drop_index("ix_webhook_receipts_received_at", table_name="webhook_receipts")
    op.drop_table("webhook_receipts")
