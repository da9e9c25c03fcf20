"""platform_keys: the fingerprint of the secret key the database's keyed hashes were made with

Suppressions (and erasure above all) match addresses by HMAC with the platform secret. A host
that generated its own key under LEADPOOL_HOME, next to another host with another key, hashed
the same address differently: an erased person imported through the second host came back.
Every process now checks the key it holds against the fingerprint the database keeps (the
first key used wins) and refuses to run with another.

Revision ID: 0013_platform_key
Revises: 0012_event_reporter
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_platform_key"
down_revision = "0012_event_reporter"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_keys",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("platform_keys")
