"""An event id that fits EventIn (<= 500 characters) but not the database once its addresses are
replaced by their keyed hashes (``addr-`` + 32 hex each, ``stored_event_id``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.events import EventIn, record_event
from leadpool.models import Event, Suppression


def test_event_id_full_of_short_addresses_is_a_clear_4xx_not_a_database_outage(db: Database) -> None:
    """Each "aN@b" (4-5 characters) grows to 37 characters of hex: 85 of them make a stored id of
    ~3,200 bytes, over the btree limit of the (source, provider_event_id) unique index. PostgreSQL
    answers program_limit_exceeded (54000), psycopg raises OperationalError, and the API maps
    OperationalError to 503 "the database cannot be reached; retry later" (a sending engine
    retries it for ever); in a webhook delivery the whole batch fails (only classes 22/23 are
    caught per event). It should be refused as invalid input before it reaches the database."""
    pid = ":".join(f"a{i}@b" for i in range(85))
    assert len(pid) <= 500
    event = EventIn(
        type="unsubscribe",
        email="long.id.review@example.com",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        source="api",
        provider_event_id=pid,
    )
    with pytest.raises(InvalidInput, match="too many email addresses"), session_scope(db) as s:
        record_event(s, event, at=datetime(2025, 1, 1, 0, 1, tzinfo=UTC))
    with session_scope(db) as s:  # nothing of it was stored
        assert s.scalar(select(func.count()).select_from(Event)) == 0
        assert s.scalar(select(func.count()).select_from(Suppression)) == 0


def test_an_id_of_500_four_byte_characters_and_no_address_is_stored(db: Database) -> None:
    """The longest id EventIn takes without an address in it still fits the index."""
    event = EventIn(
        type="unsubscribe",
        email="long.id.review2@example.com",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        source="s" * 100,
        provider_event_id="\U0001f600" * 500,
    )
    with session_scope(db) as s:
        out = record_event(s, event, at=datetime(2025, 1, 1, 0, 1, tzinfo=UTC))
    assert not out.duplicate
