"""indexes for the queries whose cost grew with the platform rather than with what they ask for

Each one found by EXPLAIN ANALYZE on tens of thousands of rows; tests/events/test_bounce_guard_plan.py
and tests/dashboard/test_dashboard_scale.py check that the plans read about what the query returns:

- ``ix_touches_campaign_id_email_sent``: the bounce guard (``events.effects.bounce_guard``, run on
  every hard bounce, under the campaign's advisory lock) reads a campaign's last N sent email
  touches ``ORDER BY sent_at DESC NULLS LAST, id DESC``. With only ``(campaign_id, at)`` it read
  and sorted every email the campaign ever sent; this partial index has exactly that order and
  filter, so it reads N entries.
- ``ix_decisions_campaign_id_at``, ``ix_decisions_agency_id_at``: the dashboard's campaign page
  (decisions by outcome, decisions per day) and an agency's overview (its decisions per day)
  scanned the whole ``decisions`` table, the biggest one (a row per gate check), for one
  campaign's or agency's rows. Each costs the gate one more index entry per decision.
- ``ix_events_campaign_id_hard_bounce``: the agencies page counts each agency's hard bounces over
  its last 30 days; no index served it, so it read every event once per agency. Partial: hard
  bounces are a small share of events.
- ``ix_refill_jobs_agency_id_id``: an agency's jobs page lists its newest refill jobs (filtered
  in SQL now; before, the platform's newest 1,000 were filtered in Python and an agency's own jobs
  fell out of the page behind other agencies' newer ones).

Created plainly, not CONCURRENTLY: migrations run in one transaction, and a plain build blocks
writes to its table while it runs. On a large installation build them by hand first with
``CREATE INDEX CONCURRENTLY`` under the same names and definitions (and check none was left
INVALID); this migration then finds them and skips them (``IF NOT EXISTS``).

Revision ID: 0016_scale_indexes
Revises: 0015_gate_zone_names
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_scale_indexes"
down_revision = "0015_gate_zone_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_touches_campaign_id_email_sent",
        "touches",
        ["campaign_id", sa.text("sent_at DESC NULLS LAST"), sa.text("id DESC")],
        postgresql_where=sa.text("channel = 'email' AND state = 'sent'"),
        if_not_exists=True,
    )
    op.create_index("ix_decisions_campaign_id_at", "decisions", ["campaign_id", "at"], if_not_exists=True)
    op.create_index("ix_decisions_agency_id_at", "decisions", ["agency_id", "at"], if_not_exists=True)
    op.create_index(
        "ix_events_campaign_id_hard_bounce",
        "events",
        ["campaign_id", "occurred_at"],
        postgresql_where=sa.text("type = 'hard_bounce'"),
        if_not_exists=True,
    )
    op.create_index("ix_refill_jobs_agency_id_id", "refill_jobs", ["agency_id", "id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_refill_jobs_agency_id_id", table_name="refill_jobs")
    op.drop_index("ix_events_campaign_id_hard_bounce", table_name="events")
    op.drop_index("ix_decisions_agency_id_at", table_name="decisions")
    op.drop_index("ix_decisions_campaign_id_at", table_name="decisions")
    op.drop_index("ix_touches_campaign_id_email_sent", table_name="touches")
