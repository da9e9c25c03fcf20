"""raw payloads Apollo charged for, by the time they were fetched: the daily credit ledger

The refill budget counted the credits recorded on refill job rows by the day each job started:
a job retried after midnight booked today's spend to yesterday, and a run interrupted by
anything but an Apollo error recorded none of what it had paid. Every paid response is stored
as a raw payload with its credits when it arrives (committed per call), so the day's spend is
summed from those; this small partial index keeps that sum cheap on a large table.

Revision ID: 0011_paid_payloads_by_day
Revises: 0010_gate_plans_without_seqscan
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_paid_payloads_by_day"
down_revision = "0010_gate_plans_without_seqscan"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_raw_payloads_paid_fetched_at",
        "raw_payloads",
        ["fetched_at"],
        postgresql_where=sa.text("credits_consumed > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_raw_payloads_paid_fetched_at", table_name="raw_payloads")
