"""The import lock: an import batch and the writers of suppressions or personal data take turns.

An import batch reads the suppressions, then writes its leads, holding ``IMPORT_LOCK_KEY``
exclusively until it commits. An event (which adds suppressions and flags the leads holding the
address) or an erasure (which clears a lead's personal data) running meanwhile would otherwise
see neither the batch's uncommitted leads nor be seen by it: the lead would be born without the
suppression, or its erased data written back. They take the lock shared first, so they never wait
for each other, only for a running batch, and the next batch waits for them.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

IMPORT_LOCK_KEY = "leadpool.ingestion.import"


def hold_off_imports(session: Session) -> None:
    """Wait for a running import batch and keep the next from starting until this transaction ends."""
    session.execute(
        text("SELECT pg_advisory_xact_lock_shared(hashtextextended(:k, 0))"), {"k": IMPORT_LOCK_KEY}
    )
