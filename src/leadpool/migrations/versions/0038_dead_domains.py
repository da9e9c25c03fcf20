"""Dead domains: no email to any address at a domain a permanent bounce said accepts no mail

SMTP 5.1.2 ("bad destination system": the domain does not exist or cannot accept mail) and
5.1.10 (null MX, RFC 7505) are failures of the whole domain, not of one mailbox; the compliance
reference says to suppress them with a domain-level flag. Until now only the bounced address was
suppressed, and every colleague at the same dead company was emailed and bounced in turn, each
bounce counting against the mailbox's and the campaign's bounce guards. ``dead_domains`` holds
one row per such domain with how long it stays closed; the gate denies ``email_bounced`` to an
email whose address is at one (other channels stay open).

This recreates ``gate_fast_check`` (0037's function with one condition more: an email to an
address at a closed dead domain goes to the full check; CREATE OR REPLACE resets the function's
settings, so 0023's are applied again).

Revision ID: 0038_dead_domains
Revises: 0037_number_clocks
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0038_dead_domains"
down_revision = "0037_number_clocks"
branch_labels = None
depends_on = None

# 0023 puts the fast function in place with its settings (a module name starting with a digit)
_UTC = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")

_ANCHOR = "           WHEN 'email' THEN l.email IS NOT NULL AND l.email_bounced_at IS NULL\n"
_DEAD = (
    "                             AND NOT EXISTS (SELECT 1 FROM dead_domains dd\n"
    "                                 WHERE dd.domain = split_part(l.email, '@', 2) AND dd.until > p_at)\n"
)


def _functions() -> tuple[str, str, str]:
    """(0037's function, this one, their signature)."""
    clocks = importlib.import_module("leadpool.migrations.versions.0037_number_clocks")
    _older, live, signature = clocks._functions()  # the one live before this
    if live.count(_ANCHOR) != 1:
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return live, live.replace(_ANCHOR, _ANCHOR + _DEAD), signature


def upgrade() -> None:
    op.create_table(
        "dead_domains",
        sa.Column("domain", sa.Text(), nullable=False),
        sa.Column("smtp_status", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause_event_id", sa.BigInteger(), nullable=False),
        sa.Column("bounces", sa.BigInteger(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_dead_domains")),
    )
    _before, changed, signature = _functions()
    _UTC.recreate(changed, signature)


def downgrade() -> None:
    before, _changed, signature = _functions()
    _UTC.recreate(before, signature)
    op.drop_table("dead_domains")
