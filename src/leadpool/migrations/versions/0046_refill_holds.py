"""Leads a refill job bought are held for its campaign until the job allocates them

A refill job imports the people it buys as they arrive (each purchase committed at once) and
allocates them to its campaign at its end, minutes later under Apollo's rate limit. Meanwhile any
other campaign's allocation took them as free pool leads: the job's agency paid for them (and its
share of the day's credit budget) and got none. ``refill_holds`` holds each lead the job stored
for its campaign, written in the import batch that stores it; other campaigns' allocation skips
a lead held for another campaign until ``held_until``; the job's end deletes its holds.

Revision ID: 0046_refill_holds
Revises: 0045_linkedin_nfc
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0046_refill_holds"
down_revision = "0045_linkedin_nfc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refill_holds",
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("refill_job_id", sa.BigInteger(), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_refill_holds_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_refill_holds_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["refill_job_id"],
            ["refill_jobs.id"],
            name=op.f("fk_refill_holds_refill_job_id_refill_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_refill_holds")),
    )
    op.create_index("ix_refill_holds_refill_job_id", "refill_holds", ["refill_job_id"])


def downgrade() -> None:
    op.drop_table("refill_holds")
