"""Sending-domain guard: a pause of ``domain:DOMAIN`` stops every mailbox at that sending domain

Mailbox providers judge a sending domain as well as each mailbox, and cold senders spread a
domain's volume over many mailboxes, each under its own guard's limits. The sending-domain guard
(``leadpool.events.sending_domains``) pauses a whole domain; this lets ``sender_pauses`` hold such
a pause (reasons ``domain_bounce_guard``, ``domain_complaint_guard``), adds the partial index its
hourly sweep reads the window's bounces and complaints from and ``leadpool_sender_domain(text)``
(an email sender's domain, one spelling), and recreates ``gate_fast_check`` (0038's function,
whose sender pause test now also matches the email sender's domain's pause; CREATE OR REPLACE
resets the function's settings, so 0023's are applied again).

Downgrade refuses while a domain is paused, as 0034's does for its pauses: dropping the pause
would let every mailbox of a domain the guard stopped send again without anyone deciding so.
Resume them first (``leadpool send resume-sender @domain``, audited), then downgrade.

Revision ID: 0039_sending_domain_guard
Revises: 0038_dead_domains
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0039_sending_domain_guard"
down_revision = "0038_dead_domains"
branch_labels = None
depends_on = None

# 0023 puts the fast function in place with its settings (a module name starting with a digit)
_UTC = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")

_BEFORE = "reason IN ('sender_bounce_guard', 'sender_complaint_guard', 'sender_block_guard')"
_AFTER = (
    "reason IN ('sender_bounce_guard', 'sender_complaint_guard', 'sender_block_guard', "
    "'domain_bounce_guard', 'domain_complaint_guard')"
)
_BAD_SENDS = "touch_id IS NOT NULL AND type IN ('hard_bounce', 'soft_bounce', 'complaint')"

# The domain of an email sender, one spelling: after its last @, before a closing > (a From
# header's "Name <box@domain>"), without trailing dots, lower case; NULL without an @ or a domain
SENDER_DOMAIN = (
    "CREATE FUNCTION leadpool_sender_domain(sender text) RETURNS text\n"
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT CASE WHEN strpos(sender, '@') > 0 THEN\n"
    "    nullif(lower(rtrim(split_part(split_part(sender, '@', -1), '>', 1), '. ')), '') END $fn$"
)
_ANCHOR = "                   WHERE sp.sender = p_channel || ':' || p_sender\n"
# a sending domain's pause is keyed domain:DOMAIN, which no channel:sender key can spell
_DOMAIN = (
    "                   WHERE sp.sender IN (p_channel || ':' || p_sender,\n"
    "                       CASE WHEN p_channel = 'email' THEN 'domain:' || leadpool_sender_domain(p_sender) END)\n"
)


def _functions() -> tuple[str, str, str]:
    """(0038's function, this one, their signature)."""
    dead = importlib.import_module("leadpool.migrations.versions.0038_dead_domains")
    _older, live, signature = dead._functions()  # the one live before this
    if live.count(_ANCHOR) != 1:
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return live, live.replace(_ANCHOR, _DOMAIN), signature


def upgrade() -> None:
    op.drop_constraint(op.f("ck_sender_pauses_reason"), "sender_pauses", type_="check")
    op.create_check_constraint(op.f("ck_sender_pauses_reason"), "sender_pauses", _AFTER)
    op.create_index(
        "ix_events_bad_sends_occurred_at", "events", ["occurred_at"], postgresql_where=sa.text(_BAD_SENDS)
    )
    op.execute(SENDER_DOMAIN)
    _before, changed, signature = _functions()
    _UTC.recreate(changed, signature)


def downgrade() -> None:
    # held until the end of the migration's transaction: no sweep adds one while we look
    op.execute("LOCK TABLE sender_pauses IN SHARE ROW EXCLUSIVE MODE")
    paused = list(
        op.get_bind()
        .execute(sa.text("SELECT sender FROM sender_pauses WHERE reason LIKE 'domain%' ORDER BY sender"))
        .scalars()
    )
    if paused:
        shown = ", ".join(paused[:5]) + (f" and {len(paused) - 5} more" if len(paused) > 5 else "")
        raise RuntimeError(
            f"cannot downgrade below 0039_sending_domain_guard: {len(paused)} sending domain(s) are paused "
            f"({shown}), a pause the older schema cannot hold; resume them first "
            "(leadpool send resume-sender @DOMAIN --actor WHO) if they may send again"
        )
    before, _changed, signature = _functions()
    _UTC.recreate(before, signature)
    op.execute("DROP FUNCTION leadpool_sender_domain(text)")
    op.drop_index("ix_events_bad_sends_occurred_at", table_name="events")
    op.drop_constraint(op.f("ck_sender_pauses_reason"), "sender_pauses", type_="check")
    op.create_check_constraint(op.f("ck_sender_pauses_reason"), "sender_pauses", _BEFORE)
