"""Which raw payloads described which lead: provenance for ``leads show`` and for erasure.

``raw_payloads.apollo_person_ids`` only covers payloads with Apollo ids; CSV exports and files
keyed by email or LinkedIn have none, so the importer links every lead to the payloads it came from.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from leadpool.models.base import Base


class LeadRawPayload(Base):
    __tablename__ = "lead_raw_payloads"

    lead_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    raw_payload_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("raw_payloads.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_lead_raw_payloads_raw_payload_id", "raw_payload_id"),)
