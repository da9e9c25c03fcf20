"""a "not interested" reply cools the person for 12 months instead of stopping them for good

A not-interested reply set ``replied_at`` (the gate's permanent ``replied``, and allocation's
"never again") as well as ``cooling_until``, so the 12-month cooling period of the seed's table
("Lead says not interested: no contact for 12 months") never ended. It no longer sets
``replied_at``; this clears it for people whose every answer so far (out-of-office aside) was
"not interested", so their cooling period is what holds them back, and ends on its date.

Revision ID: 0019_not_interested_cools
Revises: 0018_provisional_links
"""

from __future__ import annotations

from alembic import op

revision = "0019_not_interested_cools"
down_revision = "0018_provisional_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE leads l SET replied_at = NULL "
        "WHERE l.replied_at IS NOT NULL AND l.wrong_person_at IS NULL "
        "AND EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.id AND e.type = 'reply' "
        "            AND e.category = 'not_interested') "
        "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.id AND e.type = 'reply' "
        "                AND coalesce(e.category, 'other') NOT IN ('not_interested', 'out_of_office'))"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE leads l SET replied_at = (SELECT min(e.occurred_at) FROM events e WHERE e.lead_id = l.id "
        "AND e.type = 'reply' AND e.category = 'not_interested') "
        "WHERE l.replied_at IS NULL AND EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.id "
        "AND e.type = 'reply' AND e.category = 'not_interested')"
    )
