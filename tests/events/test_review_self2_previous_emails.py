"""Review of 0e9010b (leads.previous_emails): the importer's slice and erasure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.ingestion import import_people
from leadpool.models import Lead

from .test_events_end_to_end import NOON

ALEX = {"id": "apollo-alex", "first_name": "Alex", "email": "a0@co.example", "email_status": "verified"}


def test_moving_back_to_a_kept_address_keeps_the_other_ten(
    db: Database, get_lead: Callable[[int], Lead]
) -> None:
    """The upsert (``importer._lead_upsert_sql``) builds the new list as
    ``array_append(array_remove(array_remove(prev, l.email), EXCLUDED.email), l.email)`` and then
    slices it from ``greatest(1, cardinality(prev) - 8)``: the start is computed from the length of the
    list *before* the new address was taken out. When the new email is one of the ten kept addresses
    (a person moving back to an address they had), the list after the removal and the append still
    holds ten, yet the slice starts at 2 and drops the oldest: nine are kept, one of "the last ten"
    (docs/apollo.md, the model's comment) is lost, and an opt-out from it no longer stops the person.
    The slice should count the array it slices (keep its last ten).
    """
    lead_id = import_people(db, [ALEX], endpoint="people/match").lead_ids[0]
    for i in range(1, 11):  # a0 .. a9 become previous; a10 is current
        assert import_people(
            db, [dict(ALEX, email=f"a{i}@co.example")], endpoint="people/match"
        ).lead_ids == [lead_id]
    assert get_lead(lead_id).previous_emails == [f"a{i}@co.example" for i in range(10)]
    # back to a5: a5 leaves the list, a10 joins it; ten distinct old addresses remain
    import_people(db, [dict(ALEX, email="a5@co.example")], endpoint="people/match")
    previous = get_lead(lead_id).previous_emails or []
    expected = [f"a{i}@co.example" for i in (0, 1, 2, 3, 4, 6, 7, 8, 9, 10)]
    assert previous == expected, previous
    # what it costs: an unsubscribe from a0, the oldest of the ten, must still stop the person
    event = EventIn(
        type="unsubscribe", email="a0@co.example", occurred_at=NOON, source="test", provider_event_id="u-a0"
    )
    with session_scope(db) as s:
        record_event(s, event, at=NOON + timedelta(minutes=1))
    assert get_lead(lead_id).unsubscribed_at is not None
