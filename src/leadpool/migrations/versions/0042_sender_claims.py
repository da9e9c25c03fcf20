"""Sending accounts and sending domains belong to one agency

A sender's daily cap, its guards and its pauses are kept per account (``channel:sender``) and per
sending domain (``domain:DOMAIN``) for the whole platform, and nothing tied a sender to an agency:
one agency naming another's mailbox in its own checks spent that mailbox's cap, and reporting
blocks on its own "sends" from it paused it for its owner, who could neither see nor resume the
pause. ``sender_claims`` gives each one an agency. The senders the touches already name are
claimed for the agency that used them where exactly one did; one that several agencies used (a
holding company's sending domain, each agency with its own mailboxes at it) is marked shared,
nobody's, so no agency's next check takes it from the others (an operator may give it to one).

Revision ID: 0042_sender_claims
Revises: 0041_sign_in_throttle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leadpool.events.dead_domains import MAILBOX_PROVIDERS

revision = "0042_sender_claims"
down_revision = "0041_sign_in_throttle"
branch_labels = None
depends_on = None

# each sender and sending domain the touches name: its agency's, or shared when several used it
# (a mailbox provider's domain is no agency's)
_BACKFILL = """
INSERT INTO sender_claims (sender, agency_id, claimed_at, actor)
SELECT k.sender, CASE WHEN count(DISTINCT k.agency_id) = 1 THEN min(k.agency_id) END, min(k.at),
       'migration:0042'
  FROM (SELECT channel || ':' || sender AS sender, agency_id, at
          FROM touches WHERE sender IS NOT NULL
        UNION ALL
        SELECT 'domain:' || leadpool_sender_domain(sender), agency_id, at
          FROM touches
         WHERE channel = 'email' AND leadpool_sender_domain(sender) IS NOT NULL
           AND NOT leadpool_sender_domain(sender) = ANY (CAST(:providers AS text[]))) k
  -- a touch may outlive its agency's row in data restored by hand; the claim needs the agency
 WHERE EXISTS (SELECT 1 FROM agencies a WHERE a.id = k.agency_id)
 GROUP BY k.sender
"""


def upgrade() -> None:
    op.create_table(
        "sender_claims",
        sa.Column("sender", sa.Text(), primary_key=True),
        sa.Column(
            "agency_id", sa.BigInteger(), sa.ForeignKey("agencies.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
    )
    op.create_index("ix_sender_claims_agency_id", "sender_claims", ["agency_id"])
    op.get_bind().execute(sa.text(_BACKFILL), {"providers": sorted(MAILBOX_PROVIDERS)})


def downgrade() -> None:
    op.drop_table("sender_claims")
