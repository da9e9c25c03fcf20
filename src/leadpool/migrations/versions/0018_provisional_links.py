"""insight_event_links.provisional: an event linked to a reservation is linked again if it ends unsent

An event without a touch id (a reply, a bounce) is attributed to the lead's latest touch before
it, a reservation included: a bounce or a reply may arrive before the send is confirmed. When
that reservation was then cancelled or expired (a reply often makes the sender cancel the next
step), the link stayed on a touch that never became a fact: the reply was lost from every rate,
and an incremental refresh disagreed with a rebuild, which attributes it to the touch actually
sent. Such links are now marked provisional (a partial index keeps them cheap to find); each
refresh settles them: kept once their touch is sent, made again once it ended unsent.

Links already made to a touch still reserved are marked here; links already made to a touch that
ended unsent are marked too, so the next refresh makes them again.

Revision ID: 0018_provisional_links
Revises: 0017_one_spelling
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_provisional_links"
down_revision = "0017_one_spelling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "insight_event_links",
        sa.Column("provisional", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.create_index(
        "ix_insight_event_links_provisional",
        "insight_event_links",
        ["event_id"],
        postgresql_where=sa.text("provisional"),
    )
    op.execute(
        "UPDATE insight_event_links k SET provisional = true FROM touches t, events e "
        "WHERE t.id = k.touch_id AND e.id = k.event_id AND e.touch_id IS NULL AND t.state <> 'sent'"
    )


def downgrade() -> None:
    op.drop_index("ix_insight_event_links_provisional", table_name="insight_event_links")
    op.drop_column("insight_event_links", "provisional")
