"""Sender complaint guard: a sender pause may be the complaint guard's (``sender_complaint_guard``)

A mailbox sends for several campaigns, so spam complaints spread over them tripped no campaign's
complaint guard while the mailbox's (and its domain's) reputation sank. The sender guards now
count complaints too (``leadpool.events.senders.complaint_guard``); this lets ``sender_pauses``
hold such a pause. The gate reads any row of the table, whatever its reason: nothing else changes.

Downgrade refuses while such a pause is in force: deleting it would let a mailbox the guard
stopped send again without anyone deciding so, and relabelling it would misstate why it is
paused. Resume those senders first (``leadpool send resume-sender``, audited), then downgrade.

Revision ID: 0034_sender_complaint_guard
Revises: 0033_decision_retention
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034_sender_complaint_guard"
down_revision = "0033_decision_retention"
branch_labels = None
depends_on = None

_BEFORE = "reason IN ('sender_bounce_guard', 'sender_block_guard')"
_AFTER = "reason IN ('sender_bounce_guard', 'sender_complaint_guard', 'sender_block_guard')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_sender_pauses_reason"), "sender_pauses", type_="check")
    op.create_check_constraint(op.f("ck_sender_pauses_reason"), "sender_pauses", _AFTER)


def downgrade() -> None:
    # held until the end of the migration's transaction: no guard adds one while we look
    op.execute("LOCK TABLE sender_pauses IN SHARE ROW EXCLUSIVE MODE")
    paused = list(
        op.get_bind()
        .execute(
            sa.text(
                "SELECT sender FROM sender_pauses WHERE reason = 'sender_complaint_guard' ORDER BY sender"
            )
        )
        .scalars()
    )
    if paused:
        shown = ", ".join(paused[:5]) + (f" and {len(paused) - 5} more" if len(paused) > 5 else "")
        raise RuntimeError(
            f"cannot downgrade below 0034_sender_complaint_guard: {len(paused)} sender(s) are paused by "
            f"the sender complaint guard ({shown}), a pause the older schema cannot hold; resume them "
            "first (leadpool send resume-sender SENDER --actor WHO) if they may send again"
        )
    op.drop_constraint(op.f("ck_sender_pauses_reason"), "sender_pauses", type_="check")
    op.create_check_constraint(op.f("ck_sender_pauses_reason"), "sender_pauses", _BEFORE)
