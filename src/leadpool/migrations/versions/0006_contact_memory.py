"""contact memory: leads.rest_until, rest_periods, company_pauses; merges the domain heads

Revision ID: 0006_contact_memory
Revises: 0002_ingestion, 0003_allocation, 0004_gate, 0005_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_contact_memory"
down_revision = ("0002_ingestion", "0003_allocation", "0004_gate", "0005_events")
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable, no default: adding it rewrites nothing, and the allocation index keeps its
    # predicate (allocation filters rest_until like cooling_until, after the index)
    op.add_column("leads", sa.Column("rest_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "rest_periods",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("enrollment_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "reason IN ('sequence_finished', 'removed', 'campaign_finished', 'agency_cancelled')",
            name=op.f("ck_rest_periods_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_rest_periods_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rest_periods")),
    )
    op.create_index("ix_rest_periods_lead_id_until", "rest_periods", ["lead_id", "until"], unique=False)
    op.create_table(
        "company_pauses",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("cause_event_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('interested', 'other', 'not_interested', 'unsubscribe', 'complaint')",
            name=op.f("ck_company_pauses_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_company_pauses_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_pauses")),
        sa.UniqueConstraint("cause_event_id", name=op.f("uq_company_pauses_cause_event_id")),
    )
    op.create_index(
        "ix_company_pauses_company_id_until", "company_pauses", ["company_id", "until"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_company_pauses_company_id_until", table_name="company_pauses")
    op.drop_table("company_pauses")
    op.drop_index("ix_rest_periods_lead_id_until", table_name="rest_periods")
    op.drop_table("rest_periods")
    op.drop_column("leads", "rest_until")
