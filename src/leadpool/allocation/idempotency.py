"""Idempotency keys of on-demand allocations: a retry gets the first call's answer, not more leads.

A key is claimed by inserting its ``allocation_requests`` row before anything is allocated, in the
allocation's own transaction; the answer is written into that row before the transaction commits.
The primary key (campaign, key) does the rest: a second call under the same key inserts the same
key, which waits until the first call's transaction ends. If it committed, the insert does
nothing and the stored answer is read (a new statement: under read committed it sees that
commit); if it rolled back (a paused campaign, a lost connection), the key was never used and the
second call claims it and allocates itself. Keys are per campaign and opaque: compared as given.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from leadpool.errors import Conflict, InvalidInput, NotFound
from leadpool.models import AllocationRequest

MAX_KEY = 200  # as the gate's keys

_CLAIM = text(
    """
    INSERT INTO allocation_requests (campaign_id, idempotency_key, count)
    SELECT :c, :k, :n WHERE EXISTS (SELECT 1 FROM campaigns WHERE id = :c)
    ON CONFLICT (campaign_id, idempotency_key) DO NOTHING
    RETURNING true
    """
)
_STORED = text(
    "SELECT count, result, created_at FROM allocation_requests WHERE campaign_id = :c AND idempotency_key = :k"
)
_CAMPAIGN = text("SELECT 1 FROM campaigns WHERE id = :c")


def check_key(key: object) -> str:
    """The key as given, or InvalidInput naming ``idempotency_key``."""
    if not isinstance(key, str):
        raise InvalidInput(f"idempotency_key: must be a string, not {type(key).__name__}")
    if not key.strip():
        raise InvalidInput("idempotency_key: is empty; leave it out instead")
    if len(key) > MAX_KEY:
        raise InvalidInput(f"idempotency_key: at most {MAX_KEY} characters, got {len(key)}")
    if "\x00" in key:
        raise InvalidInput("idempotency_key: contains a NUL character")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: PostgreSQL's text cannot hold it
        raise InvalidInput("idempotency_key: is not valid Unicode text") from None
    return key


def claim(session: Session, campaign_id: int, key: str, count: int) -> dict[str, Any] | None:
    """Claim ``key`` for this call (None: go on and allocate), or return the answer stored under
    it by an earlier call that asked for the same ``count`` (Conflict for another count).

    Waits while another transaction holds a claim on the same key, until it ends.
    """
    params = {"c": campaign_id, "k": key, "n": count}
    # a second pass only when the stored answer went (retention) between the two statements
    for _ in range(2):
        if session.execute(_CLAIM, params).first() is not None:
            return None
        row = session.execute(_STORED, params).first()
        if row is not None:
            return _replay(campaign_id, key, count, *row)
        if session.execute(_CAMPAIGN, params).first() is None:
            raise NotFound(f"campaign {campaign_id} not found")
    raise Conflict(f"idempotency key {key!r} of campaign {campaign_id} could not be claimed; retry")


def _replay(campaign_id: int, key: str, count: int, first_count: int, result: Any, at: Any) -> dict[str, Any]:
    first = f"the request of {at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC for {first_count} lead(s)"
    if first_count != count:
        raise Conflict(
            f"idempotency key {key!r} of campaign {campaign_id} was first used by {first}; this "
            f"request asks for {count}: a retry must ask for the same count, another request needs a new key"
        )
    if not isinstance(result, dict):  # never committed without its answer; a row written by hand
        raise Conflict(f"idempotency key {key!r} of campaign {campaign_id}: {first} has no stored answer")
    return result


def record(session: Session, campaign_id: int, key: str, result: dict[str, Any]) -> None:
    """Store the answer under the key this transaction claimed."""
    stored = session.execute(
        update(AllocationRequest)
        .where(AllocationRequest.campaign_id == campaign_id, AllocationRequest.idempotency_key == key)
        .values(result=result)
    )
    assert stored.rowcount == 1, "record() without claim()"  # type: ignore[attr-defined]
