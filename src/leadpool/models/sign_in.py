"""Failed sign-ins and trusted sign-ins per client address, shared by every ``serve`` worker.

Counted in the database, not in each process: with ``leadpool serve --workers 4`` a guesser had
four times the attempts, and a host behind a load balancer as many again (``leadpool.api.throttle``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base


class SignInFailure(Base):
    """An address's recent failed sign-ins: at most the limit's worth, newest last, all inside the
    window (older ones are dropped as new ones come)."""

    __tablename__ = "sign_in_failures"

    address: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[list[datetime]] = mapped_column(ARRAY(DateTime(timezone=True)))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_sign_in_failures_last_at", "last_at"),)


class SignInTrust(Base):
    """A principal that signed in from an address lately: that address's lockout does not hold it
    back. ``subject`` is ``admin`` or an agency key's stored hash (never a token)."""

    __tablename__ = "sign_in_trust"

    address: Mapped[str] = mapped_column(Text, primary_key=True)
    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_sign_in_trust_at", "at"),)
