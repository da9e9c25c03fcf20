"""The order writers lock a lead's rows in, so that no two of them wait on each other in a cycle.

Everything that changes leads together with their enrollments or ownerships (events, release,
finishing a campaign, ending an enrollment, cancelling an agency) first locks the lead rows, in id
order, and only then their enrollments, ownerships and campaigns; a campaign row before its
agency's. Allocation never waits on a lead row (it skips locked ones), and the gate takes no row
locks. The domain-block lock below comes before lead rows: adding a block holds it while it
waits for lead rows, so allocation takes it before its campaign rows, never after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_leads(session: Session, lead_ids: Iterable[int]) -> None:
    """Lock these leads' rows (FOR NO KEY UPDATE), lowest id first."""
    ids = sorted({int(i) for i in lead_ids})
    if ids:
        session.execute(
            text("SELECT id FROM leads WHERE id = ANY(:ids) ORDER BY id FOR NO KEY UPDATE"), {"ids": ids}
        )


def lock_leads_where(session: Session, lead_ids_sql: str, params: Mapping[str, Any]) -> None:
    """Lock the rows of the leads a subquery names (``SELECT lead_id FROM ...``), lowest id first."""
    session.execute(
        text(f"SELECT id FROM leads WHERE id IN ({lead_ids_sql}) ORDER BY id FOR NO KEY UPDATE"), dict(params)
    )


def lock_addresses(session: Session, hmacs: Iterable[str]) -> None:
    """Transaction advisory locks on addresses (by their keyed hashes), in one fixed order.

    An erasure takes them for every address of the person (after its lead rows); an event about
    an address no lead holds takes them for its own: one that arrives during an erasure waits for
    it, then sees the address erased and keeps no words. Leads are always locked before these.
    """
    # the hash's first 64 bits, signed: a collision only makes two unrelated addresses wait
    keys = sorted({int(h[:16], 16) - (1 << 63) for h in hmacs if h})
    if keys:
        session.execute(
            text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:k AS bigint[])) AS k"), {"k": keys}
        )


# Domain blocks against allocation: adding a block ends the enrollments it covers, which it cannot
# see while an allocation that enrolls such a lead has not committed. Allocation holds this key
# shared, adding a block exclusively: the block waits for running allocations, and later ones
# wait for it, then read it. First in the lock order: a block takes it, then lead rows; allocation
# takes it before its campaign rows (a finish or a cancel holds lead rows and waits for those).
_DOMAIN_BLOCKS = "SELECT {fn}(hashtextextended('leadpool:domain-blocks', 0))"


def hold_off_domain_blocks(session: Session) -> None:
    """Allocation's side: no domain block is added until this transaction ends. Take it before
    any campaign row."""
    session.execute(text(_DOMAIN_BLOCKS.format(fn="pg_advisory_xact_lock_shared")))


def hold_off_allocation(session: Session) -> None:
    """A new domain block's side: wait for running allocations; later ones wait for this one."""
    session.execute(text(_DOMAIN_BLOCKS.format(fn="pg_advisory_xact_lock")))
