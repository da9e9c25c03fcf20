"""Sender health: policy rejections (SMTP 5.7.x, provider blocks) count against the sending mailbox.

They are stored as ``sender_block`` events, never as suppressions of the recipient; this is the
count a sending engine or dashboard reads to pause a mailbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadpool.models import Event


def sender_blocks(session: Session, sender: str, *, since: datetime) -> int:
    """How many policy rejections ``sender`` received since ``since`` (by the provider's event time)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.type == "sender_block", Event.sender == sender, Event.occurred_at >= since)
        )
        or 0
    )
