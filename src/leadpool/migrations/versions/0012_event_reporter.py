"""events.reported_by_agency_id: the agency that reported an event through its own API key

An event an agency reports about an address is found on every lead holding that address, so it
showed in another agency's timeline of its own lead, with the reporter's sender, detail and id.
The timeline now shows another agency's report only where it acted on the lead (an opt-out, a
bounce), and without those fields; that needs to know who reported it. Events stored before
carry their agency in the id they were stored under (``agency-<id>:<provider id>``).

Revision ID: 0012_event_reporter
Revises: 0011_paid_payloads_by_day
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_event_reporter"
down_revision = "0011_paid_payloads_by_day"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("reported_by_agency_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE events SET reported_by_agency_id = CAST(substring(provider_event_id FROM '^agency-([0-9]{1,18}):') AS bigint) "
        "WHERE provider_event_id ~ '^agency-[0-9]{1,18}:'"
    )


def downgrade() -> None:
    op.drop_column("events", "reported_by_agency_id")
