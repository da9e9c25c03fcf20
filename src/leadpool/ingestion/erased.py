"""Which people of an Apollo answer are erased people, before the answer is stored.

The importer refuses an erased person by any address of their own (email, LinkedIn URL, personal
emails, numbers of their own) or the tombstone's Apollo id; a paid answer is stored before its
people are imported (so no refused person can lose what was paid for), and must not be committed
with an erased person's record in it. The same test, asked of the answer in the transaction that
stores it, under the import lock: an erasure (which holds the lock shared) is then either
committed and seen, or waits for that transaction and finds the payload to edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.ingestion.hashing import hmac_hex, older_hmacs
from leadpool.ingestion.lock import IMPORT_LOCK_KEY
from leadpool.ingestion.records import RecordError, map_person

# the suppressions' address type of a second Apollo id an erased person was met under (Apollo
# holds some people under two; her tombstone keeps the first)
APOLLO_ID = "apollo_id"


def take_import_lock(session: Session) -> None:
    """Hold the import lock as an import batch does (exclusively) until this transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": IMPORT_LOCK_KEY})


def erased_people(session: Session, people: Sequence[Any], key: bytes) -> list[dict[str, Any]]:
    """The people the importer would refuse as erased (a person it cannot read is not one)."""
    rows = []
    for person in people:
        try:
            rows.append((person, map_person(person, "api")))
        except (RecordError, AttributeError, TypeError, ValueError, KeyError):
            continue
    own = {
        id(person): [
            (k, v)
            for k, v in (
                ("email", r.email),
                ("linkedin", r.linkedin_url),
                (APOLLO_ID, r.apollo_id),
                *r.personal,
            )
            if v
        ]
        for person, r in rows
    }
    hmacs = {
        (k, v): [hmac_hex(v, key), *older_hmacs(k, v, key)]
        for addresses in own.values()
        for k, v in addresses
    }
    erased_addresses = {
        (kind, value_hmac)
        for kind, value_hmac in session.execute(
            text(
                "SELECT address_type, value_hmac FROM suppressions "
                "WHERE kind = 'erased' AND value_hmac = ANY(:h)"
            ),
            {"h": sorted({h for found in hmacs.values() for h in found})},
        )
    }
    ids = sorted({r.apollo_id for _, r in rows if r.apollo_id})
    tombstones = set(
        session.scalars(
            text("SELECT apollo_id FROM leads WHERE apollo_id = ANY(:ids) AND erased_at IS NOT NULL"),
            {"ids": ids},
        )
    )
    return [
        person
        for person, r in rows
        if r.apollo_id in tombstones
        or any((k, h) in erased_addresses for k, v in own[id(person)] for h in hmacs[(k, v)])
    ]
