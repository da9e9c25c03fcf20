"""A touch cannot be confirmed with a provider message id another agency's send holds (events
naming only that id would land on whichever send has it): refused in turn, and at the same moment
too (a plain check then update let two concurrent confirmations both take one id)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.allocation.factories import make_leads

from leadpool.db import Database, session_scope
from leadpool.errors import Conflict
from leadpool.gate.touches import confirm_sent


def _reserved(db: Database, agency: int, lead: int) -> int:
    at = datetime.now(UTC)
    with db.engine.begin() as c:
        return int(
            c.execute(
                text(
                    "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, local_date, "
                    "expires_at) VALUES (:l, :a, :a, 'email', 'reserved', :at, CAST(:at AS date), "
                    ":exp) RETURNING id"
                ),
                {"l": lead, "a": agency, "at": at, "exp": at + timedelta(hours=1)},
            ).scalar_one()
        )


def test_sequential_confirm_is_refused(db: Database) -> None:
    with session_scope(db) as s:
        lead_a, lead_b = make_leads(s, 2)
    ta, tb = _reserved(db, 101, lead_a), _reserved(db, 202, lead_b)
    with session_scope(db) as s:
        confirm_sent(s, ta, "<victim-message@mail.example>")
    with pytest.raises(Conflict), session_scope(db) as s:
        confirm_sent(s, tb, "victim-message@mail.example")


def test_concurrent_confirms_cannot_both_take_one_message_id(db: Database) -> None:
    with session_scope(db) as s:
        lead_a, lead_b = make_leads(s, 2)
    ta, tb = _reserved(db, 101, lead_a), _reserved(db, 202, lead_b)
    first = Session(db.engine)
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            with session_scope(db) as s:
                confirm_sent(s, tb, "race-message@mail.example")  # agency 202's, at the same moment
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - asserted below
            outcome.append(e)

    try:
        confirm_sent(first, ta, "race-message@mail.example")  # agency 101's, not yet committed
        other = threading.Thread(target=second)
        other.start()
        other.join(1.0)  # it waits for the first (or, unguarded, passes the test and commits)
        first.commit()
        other.join(30)
    finally:
        first.close()
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    with db.engine.connect() as c:
        holders = (
            c.execute(
                text(
                    "SELECT DISTINCT agency_id FROM touches WHERE provider_message_id = 'race-message@mail.example'"
                )
            )
            .scalars()
            .all()
        )
    assert holders == [101]
