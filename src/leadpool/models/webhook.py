"""Webhook replay protection, and the indexes events need on core tables.

``webhook_receipts`` remembers each signed delivery's one-time token (Mailgun ``signature.token``,
SNS ``MessageId``, SendGrid timestamp+signature): a second delivery with the same token is a
replay and is refused. The receipt is written in the same transaction as the events it carried,
so a delivery whose processing failed can be retried.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base
from leadpool.models.event import Event
from leadpool.models.lead import Lead


class WebhookReceipt(Base):
    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(Text)
    replay_key: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("provider", "replay_key", name="uq_webhook_receipts_provider_replay_key"),
        Index("ix_webhook_receipts_received_at", "received_at"),
    )


# the bounce guard counts hard bounces per touch; the timeline and erasure look events up by touch
Index("ix_events_touch_id", Event.touch_id)
# SMS STOP and phone events find their lead by number
Index("ix_leads_phone", Lead.phone)


class ReconcileMark(Base):
    """How far the suppression reconciliation has read one provider list: the newest entry's
    creation time seen (``leadpool.webhooks.reconcile``); the next run reads from it less an overlap."""

    __tablename__ = "reconcile_marks"

    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    high_water: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
