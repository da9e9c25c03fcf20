"""Failed sign-ins counted in the database, shared by every serve worker

The API and the dashboard refuse an address for a while after 20 failed sign-ins in a minute.
They were counted in each process: ``leadpool serve --workers 4`` gave a guesser 80 attempts a
minute, and every host behind a load balancer as many again. ``sign_in_failures`` holds each
address's recent failures and ``sign_in_trust`` the principals that signed in from an address
lately (a lockout does not hold those back); both are pruned as they are written.

Revision ID: 0041_sign_in_throttle
Revises: 0040_number_regions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0041_sign_in_throttle"
down_revision = "0040_number_regions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("address", sa.Text(), primary_key=True),
        sa.Column("failures", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_failures_last_at", "sign_in_failures", ["last_at"])
    op.create_table(
        "sign_in_trust",
        sa.Column("address", sa.Text(), primary_key=True),
        sa.Column("subject", sa.Text(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_trust_at", "sign_in_trust", ["at"])


def downgrade() -> None:
    op.drop_table("sign_in_trust")
    op.drop_table("sign_in_failures")
