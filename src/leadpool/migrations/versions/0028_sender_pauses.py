"""Sender pauses: a mailbox whose bounces or policy blocks pass their limit sends nothing more

A mailbox's hard bounces (a bought list gone stale) or policy rejections (SMTP 5.7.x, provider
blocks: its reputation is failing) were counted and never acted on: the campaign bounce guard
looks at one campaign, and a mailbox sends for several. ``sender_pauses`` holds the senders the
gate lets no touch use (``leadpool.events.sender_guard``), keyed ``channel:sender`` like the
sender counter rows.

This recreates ``gate_fast_check`` (0027's function with one condition more: a check naming a
paused sender goes to the full check, which denies it ``sender_paused``; CREATE OR REPLACE
resets the function's settings, so 0023's are applied again).

Revision ID: 0028_sender_pauses
Revises: 0027_gate_zone_guesses
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0028_sender_pauses"
down_revision = "0027_gate_zone_guesses"
branch_labels = None
depends_on = None

_ANCHOR = "AND NOT EXISTS (SELECT 1 FROM company_pauses cp"
_PAUSED = (
    "AND (p_sender IS NULL OR NOT EXISTS (SELECT 1 FROM sender_pauses sp\n"
    "                   WHERE sp.sender = p_channel || ':' || p_sender\n"
    "                   AND (sp.until IS NULL OR sp.until > p_at)))\n"
    "       "
)


def _functions() -> tuple[str, str, str]:
    guesses = importlib.import_module("leadpool.migrations.versions.0027_gate_zone_guesses")
    _older, live, signature = guesses._functions()  # 0027's function, the one live before this
    if live.count(_ANCHOR) != 1:
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return live, live.replace(_ANCHOR, _PAUSED + _ANCHOR), signature


def upgrade() -> None:
    op.create_table(
        "sender_pauses",
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cause_event_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.CheckConstraint(
            "reason IN ('sender_bounce_guard', 'sender_block_guard')", name=op.f("ck_sender_pauses_reason")
        ),
        sa.PrimaryKeyConstraint("sender", name=op.f("pk_sender_pauses")),
    )
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    _before, changed, signature = _functions()
    op.execute(changed)
    utc._settings(signature, utc=True)


def downgrade() -> None:
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    before, _changed, signature = _functions()
    op.execute(before)
    utc._settings(signature, utc=True)
    op.drop_table("sender_pauses")
