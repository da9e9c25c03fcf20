"""ix_enrollments_agency_id_active: an agency's active enrollments, read when it is cancelled

Cancelling an agency finds its active enrollments three times (the leads to lock, again in the
release, and the update that ends them); with indexes only on the campaign and on the active
lead, each read every enrollment on the platform, ended ones included, while holding lead locks.
Partial: only active enrollments are ever looked up by agency.

Created plainly (migrations run in one transaction); on a large installation build it first
with ``CREATE INDEX CONCURRENTLY`` under the same name and definition: this migration then skips
it (``IF NOT EXISTS``).

Revision ID: 0020_enrollments_by_agency
Revises: 0019_not_interested_cools
"""

from __future__ import annotations

from alembic import op

revision = "0020_enrollments_by_agency"
down_revision = "0019_not_interested_cools"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_enrollments_agency_id_active ON enrollments (agency_id) "
        "WHERE status = 'active'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_enrollments_agency_id_active")
