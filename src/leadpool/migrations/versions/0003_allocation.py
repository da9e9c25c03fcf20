"""allocation: company owners, refill jobs, leads.alloc_rank, ICP indexes, procrastinate's schema

Revision ID: 0003_allocation
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_allocation"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def _procrastinate_schema() -> str:
    from procrastinate.schema import SchemaManager

    return SchemaManager.get_schema()


def upgrade() -> None:
    op.create_table(
        "company_owners",
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("first_lead_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_company_owners_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_company_owners_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_company_owners")),
    )
    op.create_index("ix_company_owners_agency_id", "company_owners", ["agency_id"], unique=False)
    op.create_table(
        "refill_jobs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=False),
        sa.Column("procrastinate_job_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), server_default="queued", nullable=False),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("enriched", sa.Integer(), server_default="0", nullable=False),
        sa.Column("allocated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("credits_consumed", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("search_params", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("requested >= 0", name=op.f("ck_refill_jobs_requested")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'stopped_by_budget')",
            name=op.f("ck_refill_jobs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_refill_jobs_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_refill_jobs_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refill_jobs")),
    )
    op.create_index(
        "ix_refill_jobs_campaign_id_status", "refill_jobs", ["campaign_id", "status"], unique=False
    )
    op.create_index("ix_refill_jobs_started_at", "refill_jobs", ["started_at"], unique=False)
    op.create_index(
        "ix_enrollments_campaign_id_enrolled_at", "enrollments", ["campaign_id", "enrolled_at"], unique=False
    )
    op.create_index("ix_companies_lower_industry", "companies", [sa.text("lower(industry)")], unique=False)
    op.create_index("ix_leads_lower_country", "leads", [sa.text("lower(country)")], unique=False)
    # allocation rank, kept by PostgreSQL (see leadpool.models.allocation); candidates are read in
    # index order so allocating N leads does not scan the pool
    op.add_column(
        "leads",
        sa.Column(
            "alloc_rank",
            sa.SmallInteger(),
            sa.Computed(
                "CASE WHEN email_status = 'verified' THEN 10 "
                "WHEN extrapolated_email_confidence >= 0.9 THEN 2 "
                "WHEN extrapolated_email_confidence >= 0.7 THEN 1 ELSE 0 END "
                "+ (CASE WHEN email IS NOT NULL THEN 1 ELSE 0 END) "
                "+ (CASE WHEN linkedin_url IS NOT NULL THEN 1 ELSE 0 END) "
                "+ (CASE WHEN phone IS NOT NULL THEN 1 ELSE 0 END)",
                persisted=True,
            ),
            nullable=True,
        ),
    )
    # leads.owned mirrors "has an ownerships row", kept by statement triggers on ownerships in the
    # same transaction, so the allocation index holds only leads nobody owns
    op.add_column("leads", sa.Column("owned", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.execute("UPDATE leads SET owned = true WHERE id IN (SELECT lead_id FROM ownerships)")
    op.execute(
        """
        CREATE FUNCTION leadpool_ownerships_mark_owned() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE leads SET owned = true WHERE id IN (SELECT lead_id FROM new_rows) AND NOT owned;
            RETURN NULL;
        END $$;
        CREATE FUNCTION leadpool_ownerships_mark_released() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE leads SET owned = false
            WHERE id IN (SELECT lead_id FROM old_rows) AND owned
              AND NOT EXISTS (SELECT 1 FROM ownerships o WHERE o.lead_id = leads.id);
            RETURN NULL;
        END $$;
        CREATE TRIGGER ownerships_mark_owned AFTER INSERT ON ownerships
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION leadpool_ownerships_mark_owned();
        CREATE TRIGGER ownerships_mark_released AFTER DELETE ON ownerships
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
            EXECUTE FUNCTION leadpool_ownerships_mark_released();
        """
    )
    op.create_index(
        "ix_leads_alloc_rank",
        "leads",
        [sa.text("alloc_rank DESC"), sa.text("enriched_at DESC NULLS LAST"), "id"],
        unique=False,
        postgresql_where=sa.text(
            "erased_at IS NULL AND unsubscribed_at IS NULL AND complained_at IS NULL "
            "AND converted_at IS NULL AND blocklisted_at IS NULL AND replied_at IS NULL "
            "AND wrong_person_at IS NULL AND NOT owned"
        ),
    )

    # procrastinate's own schema, from the installed package; its objects are all named
    # procrastinate_* and stay out of the models-vs-migrations comparison. Run on the raw psycopg
    # connection: the script holds many statements and literal % signs.
    op.get_bind().connection.driver_connection.execute(_procrastinate_schema())  # type: ignore[union-attr]


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
            procrastinate_workers CASCADE;
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
            LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || r.f || ' CASCADE';
            END LOOP;
        END $$;
        DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
            procrastinate_job_status CASCADE;
        """
    )
    op.drop_index("ix_leads_alloc_rank", table_name="leads")
    op.execute(
        """
        DROP TRIGGER IF EXISTS ownerships_mark_owned ON ownerships;
        DROP TRIGGER IF EXISTS ownerships_mark_released ON ownerships;
        DROP FUNCTION IF EXISTS leadpool_ownerships_mark_owned();
        DROP FUNCTION IF EXISTS leadpool_ownerships_mark_released();
        """
    )
    op.drop_column("leads", "owned")
    op.drop_column("leads", "alloc_rank")
    op.drop_index("ix_leads_lower_country", table_name="leads")
    op.drop_index("ix_companies_lower_industry", table_name="companies")
    op.drop_index("ix_enrollments_campaign_id_enrolled_at", table_name="enrollments")
    op.drop_index("ix_refill_jobs_started_at", table_name="refill_jobs")
    op.drop_index("ix_refill_jobs_campaign_id_status", table_name="refill_jobs")
    op.drop_table("refill_jobs")
    op.drop_index("ix_company_owners_agency_id", table_name="company_owners")
    op.drop_table("company_owners")
