"""insights: outcome facts, event links, watermarks, lead scores, leads.insight_score + its index

Revision ID: 0007_insights
Revises: 0006_contact_memory
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_insights"
# after the merge of the domain heads (needs leads.alloc_rank and leads.owned from 0003_allocation)
down_revision = "0006_contact_memory"
branch_labels = None
depends_on = None

_NOT_RULED_OUT = (
    "erased_at IS NULL AND unsubscribed_at IS NULL AND complained_at IS NULL AND converted_at IS NULL "
    "AND blocklisted_at IS NULL AND replied_at IS NULL AND wrong_person_at IS NULL AND NOT owned"
)


def upgrade() -> None:
    op.create_table(
        "insight_facts",
        sa.Column("touch_id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("sequence_position", sa.SmallInteger(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("local_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("industry", sa.Text(), nullable=False),
        sa.Column("seniority", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("size_band", sa.Text(), nullable=False),
        sa.Column("revenue_band", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=False),
        sa.Column("email_status", sa.Text(), nullable=False),
        sa.Column("data_age_band", sa.Text(), nullable=False),
        sa.Column("bounced", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("replied", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("reply_category", sa.Text(), nullable=True),
        sa.Column("positive", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("unsubscribed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("complained", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("converted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("touch_id", name=op.f("pk_insight_facts")),
    )
    op.create_index("ix_insight_facts_lead_id", "insight_facts", ["lead_id"])
    op.create_index("ix_insight_facts_agency_id", "insight_facts", ["agency_id"])
    op.create_index("ix_insight_facts_sent_at", "insight_facts", ["sent_at"])
    op.create_table(
        "insight_event_links",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("touch_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_insight_event_links")),
    )
    op.create_index("ix_insight_event_links_touch_id", "insight_event_links", ["touch_id"])
    op.create_table(
        "insight_watermarks",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('touches', 'events')", name=op.f("ck_insight_watermarks_source")),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_insight_watermarks")),
    )
    op.create_table(
        "lead_scores",
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 1", name=op.f("ck_lead_scores_score")),
        sa.CheckConstraint(
            "channel IN ('email', 'linkedin', 'sms', 'phone')", name=op.f("ck_lead_scores_channel")
        ),
        sa.PrimaryKeyConstraint("lead_id", "channel", name=op.f("pk_lead_scores")),
    )
    op.add_column("leads", sa.Column("insight_score", sa.Float(), nullable=True))
    op.create_index(
        "ix_leads_insight_rank",
        "leads",
        [
            sa.text("alloc_rank DESC"),
            sa.text("insight_score DESC NULLS LAST"),
            sa.text("enriched_at DESC NULLS LAST"),
            "id",
        ],
        postgresql_where=sa.text(_NOT_RULED_OUT),
    )


def downgrade() -> None:
    op.drop_index("ix_leads_insight_rank", table_name="leads")
    op.drop_column("leads", "insight_score")
    op.drop_table("lead_scores")
    op.drop_table("insight_watermarks")
    op.drop_index("ix_insight_event_links_touch_id", table_name="insight_event_links")
    op.drop_table("insight_event_links")
    op.drop_index("ix_insight_facts_sent_at", table_name="insight_facts")
    op.drop_index("ix_insight_facts_agency_id", table_name="insight_facts")
    op.drop_index("ix_insight_facts_lead_id", table_name="insight_facts")
    op.drop_table("insight_facts")
