"""reconcile_marks: how far the suppression reconciliation has read each provider list

Webhook deliveries are lost when a provider's retries run out (SendGrid 24 h, Mailgun about 8 h,
Postmark about 10.5 h, SNS about a minute), so a job reads the providers' suppression lists and
records what was missed. Each list's newest entry time seen is kept here, so the next run asks
only for entries since then (less an overlap) instead of the whole list.

Revision ID: 0030_reconcile_marks
Revises: 0029_domain_blocks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_reconcile_marks"
down_revision = "0029_domain_blocks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconcile_marks",
        sa.Column("provider", sa.Text(), primary_key=True),
        sa.Column("scope", sa.Text(), primary_key=True),
        sa.Column("high_water", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reconcile_marks")
