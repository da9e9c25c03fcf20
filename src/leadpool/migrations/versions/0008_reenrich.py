"""reenrich: refill_jobs rows of kind 'reenrich' (no campaign, a list of leads to buy again)

Re-enrichment spends Apollo credits like a campaign refill, so it is bookkept in the same table and
counts against the same daily credit budget (summed from refill_jobs).

Revision ID: 0008_reenrich
Revises: 0007_insights
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_reenrich"
down_revision = "0007_insights"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("refill_jobs", sa.Column("kind", sa.Text(), server_default="campaign", nullable=False))
    op.add_column("refill_jobs", sa.Column("lead_ids", postgresql.ARRAY(sa.BigInteger()), nullable=True))
    op.alter_column("refill_jobs", "campaign_id", existing_type=sa.BigInteger(), nullable=True)
    op.alter_column("refill_jobs", "agency_id", existing_type=sa.BigInteger(), nullable=True)
    op.create_check_constraint(op.f("ck_refill_jobs_kind"), "refill_jobs", "kind IN ('campaign', 'reenrich')")
    op.create_check_constraint(
        op.f("ck_refill_jobs_kind_target"),
        "refill_jobs",
        "(kind = 'campaign' AND campaign_id IS NOT NULL AND agency_id IS NOT NULL) "
        "OR (kind = 'reenrich' AND campaign_id IS NULL AND lead_ids IS NOT NULL)",
    )


def downgrade() -> None:
    op.execute("DELETE FROM refill_jobs WHERE kind <> 'campaign'")
    op.drop_constraint(op.f("ck_refill_jobs_kind_target"), "refill_jobs", type_="check")
    op.drop_constraint(op.f("ck_refill_jobs_kind"), "refill_jobs", type_="check")
    op.alter_column("refill_jobs", "agency_id", existing_type=sa.BigInteger(), nullable=False)
    op.alter_column("refill_jobs", "campaign_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_column("refill_jobs", "lead_ids")
    op.drop_column("refill_jobs", "kind")
