"""gate_time_zones: drop the names the fast path would read differently from the full check

The fast path (gate_fast_check) turns an instant into local time with PostgreSQL's ``AT TIME
ZONE``; the full check uses Python's zoneinfo. For ``CET``, ``MET``, ``EET`` and ``WET`` the two
disagree: PostgreSQL reads them as fixed-offset abbreviations, without summer time, zoneinfo as
zones that keep it, so in summer the fast path's local clock was an hour behind and it allowed
emails the full check denied as quiet hours (compared over all zone names at many instants: these
four were the only ones). ``Factory`` (tzdata's "zone unknown"), ``localtime`` and ``posixrules``
(the host's own clock) are not a lead's place at all. A lead whose zone is not listed goes to the
full check, which decides correctly, so removing a name costs speed, never a wrong answer.

Revision ID: 0015_gate_zone_names
Revises: 0014_gate_live_now
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_gate_zone_names"
down_revision = "0014_gate_live_now"
branch_labels = None
depends_on = None

NAMES = ["CET", "MET", "EET", "WET", "Factory", "localtime", "posixrules"]


def upgrade() -> None:
    op.execute(
        sa.text("DELETE FROM gate_time_zones WHERE name = ANY(CAST(:names AS text[]))").bindparams(
            names=NAMES
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO gate_time_zones (name) SELECT z FROM unnest(CAST(:names AS text[])) AS z "
            "WHERE z IN (SELECT name FROM pg_timezone_names) ON CONFLICT DO NOTHING"
        ).bindparams(names=NAMES)
    )
