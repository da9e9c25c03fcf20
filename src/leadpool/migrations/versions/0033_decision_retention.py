"""ix_decisions_denied_at: the denials by age, for their retention (``leadpool.gate.retention``)

Denied decisions older than ``LEADPOOL_RETENTION_DENIALS_DAYS`` are deleted daily, oldest first;
allowed ones are kept for ever. On ``ix_decisions_at`` each run would first walk past every allow
ever made (measured: 1.7 s for the first chunk behind 2 million old allows, in memory; a busy
platform gathers that many in weeks, and reads them from disk). This partial index holds only
denials, so a chunk reads what it deletes. It costs each denial one more index entry (measured:
about 2 us a row in a bulk insert, against the 150-500 us of server time a check takes).

Created plainly (migrations run in one transaction, and a plain build blocks writes to the
table while it runs, gate checks included); on a large installation build it first with
``CREATE INDEX CONCURRENTLY ix_decisions_denied_at ON decisions (at) WHERE NOT allowed`` (and
check it was not left INVALID): this migration then skips it (``IF NOT EXISTS``).

Revision ID: 0033_decision_retention
Revises: 0032_idn_company_domains
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_decision_retention"
down_revision = "0032_idn_company_domains"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_decisions_denied_at",
        "decisions",
        ["at"],
        postgresql_where=sa.text("NOT allowed"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_denied_at", table_name="decisions", if_exists=True)
