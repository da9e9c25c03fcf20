"""gate_time_zones: only the names whose offsets the server and zoneinfo agree on

The list kept every name both know (0009, minus 0015's), without checking that their rules agree.
The embedded server ships its own tz data: newer than this host's, it puts America/Vancouver on
permanent UTC-7 from November 2026 where zoneinfo still says UTC-8 in winter, so the fast path
allowed emails at 06:30 that the full check denies as quiet hours (and Edmonton, Casablanca,
Chisinau...). The list is rebuilt by comparing offsets (``leadpool.gate.zones``), here and daily
by the worker.

Revision ID: 0024_gate_zones_agree
Revises: 0023_gate_fast_utc
"""

from __future__ import annotations

from alembic import op

from leadpool.gate.zones import refresh_gate_zones

revision = "0024_gate_zones_agree"
down_revision = "0023_gate_fast_utc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    refresh_gate_zones(op.get_bind())


def downgrade() -> None:
    pass  # a shorter list only sends more checks to the full check
