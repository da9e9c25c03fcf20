"""An index on the audit log's subject

A lead's timeline reads the audit rows about the lead (``subject_type``, ``subject_id``, in time
order), the dead-domain and sending-domain guards read the newest revive or resume of theirs, and
an erasure rewrites the free text of the lead's rows: each scanned the whole table, which grows
with every claim, policy change, blocklisting, consent and erasure the platform records.

Revision ID: 0043_audit_log_subject
Revises: 0042_sender_claims
"""

from __future__ import annotations

from alembic import op

revision = "0043_audit_log_subject"
down_revision = "0042_sender_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_type", "subject_id", "at", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
