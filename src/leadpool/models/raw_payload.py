"""Every provider response (or imported record) exactly as received, append-only.

One exception: a paid call is booked here before it is sent (``apollo.enrich.book_paid_call``:
its worst-case credits, the request, an empty body, ``response_headers._leadpool.outcome``
"in flight: ..."), so the day's budget counts it even if the worker dies during the call. That row
is a booking, not a payload received: the answer replaces it (the booking is deleted in the
transaction storing the answer), a lost answer turns it into the lost call's row (empty body too),
and a call Apollo surely never took deletes it. Like a lost call it has no Apollo ids and no lead
link, so nothing reads it as people bought or described; erasure finds it by its empty body.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Integer, Numeric, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base


class RawPayload(Base):
    __tablename__ = "raw_payloads"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # api endpoint ("people/match") or import kind ("file:jsonl", "file:csv", "file:json")
    endpoint: Mapped[str] = mapped_column(Text)
    source_name: Mapped[str | None] = mapped_column(Text)  # file name, or request URL
    line_no: Mapped[int | None] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    credits_consumed: Mapped[Decimal | None] = mapped_column(Numeric)
    request: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # parameters sent (never the api key)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    body: Mapped[str] = mapped_column(Text)  # the bytes received, decoded as UTF-8, untouched
    body_sha256: Mapped[str] = mapped_column(Text)
    apollo_person_ids: Mapped[list[str] | None] = mapped_column(JSONB)  # people this payload described

    __table_args__ = (
        Index("ix_raw_payloads_body_sha256", "body_sha256"),
        Index("ix_raw_payloads_apollo_person_ids", "apollo_person_ids", postgresql_using="gin"),
        # the day's Apollo spend (allocation.refill.spent_today)
        Index("ix_raw_payloads_paid_fetched_at", "fetched_at", postgresql_where=text("credits_consumed > 0")),
    )
