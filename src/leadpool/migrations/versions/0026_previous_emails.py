"""leads.previous_emails: the addresses a refresh moved a lead away from, indexed for opt-outs

A person emailed at their old work address whose record Apollo then refreshed with a new one
(same person, same lead) unsubscribes from the email they received: the unsubscribe names the old
address, which no lead held any more, so it was stored against the address alone and the person
went on being emailed at the new one. Imports now keep the addresses a lead's email moves away
from (the last ten), and an opt-out finds the lead by them as by its personal emails.

Created plainly (migrations run in one transaction); on a large installation build the index
first with ``CREATE INDEX CONCURRENTLY`` under the same name and definition: this migration then
skips it (``IF NOT EXISTS``).

Revision ID: 0026_previous_emails
Revises: 0025_personal_emails_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0026_previous_emails"
down_revision = "0025_personal_emails_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("previous_emails", postgresql.ARRAY(sa.Text()), nullable=True))
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_leads_previous_emails ON leads USING gin (previous_emails) "
        "WHERE previous_emails IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_leads_previous_emails")
    op.drop_column("leads", "previous_emails")
