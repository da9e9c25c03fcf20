"""Review: outcome facts must not lose an outcome linked to a reservation that never got sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from leadpool.db import session_scope
from leadpool.insights import facts, history

from .test_facts import _touch

START = datetime(2026, 1, 5, tzinfo=UTC)
COLUMNS = "touch_id, lead_id, replied, reply_category, positive, bounced"


def test_reply_linked_to_reservation_later_cancelled_is_not_lost(db):
    """A reply (no touch id) arrives while the lead's newest touch is only reserved; the reservation
    is then cancelled (the lead answered, nobody sends the follow-up). The reply answers the touch
    that was actually sent: a full rebuild says so, the incremental refresh must agree (issue 6:
    "incremental refresh equal to a full rebuild") and must not drop the reply."""
    with session_scope(db) as s:
        h = history.generate_history(s, seed=11, leads=50, start=START, days=10)
        facts.refresh_facts(s)
    lead = h.lead_ids[0]
    with session_scope(db) as s:
        sent = _touch(s, lead, state="sent", at=START + timedelta(days=20))
        reserved = _touch(s, lead, state="reserved", at=START + timedelta(days=25))
        s.execute(
            text(
                "INSERT INTO events (type, category, lead_id, occurred_at, source, provider_event_id) "
                "VALUES ('reply', 'interested', :l, :at, 'test', 'rv-1')"
            ),
            {"l": lead, "at": START + timedelta(days=25, hours=2)},
        )
    with session_scope(db) as s:
        facts.refresh_facts(s)
    with session_scope(db) as s:
        s.execute(
            text("UPDATE touches SET state = 'cancelled', ended_at = at WHERE id = :t"), {"t": reserved}
        )
    with session_scope(db) as s:
        facts.refresh_facts(s)
        incremental = s.execute(text(f"SELECT {COLUMNS} FROM insight_facts ORDER BY touch_id")).all()
        facts.rebuild_facts(s)
        rebuilt = s.execute(text(f"SELECT {COLUMNS} FROM insight_facts ORDER BY touch_id")).all()
    by_touch = {r.touch_id: r for r in rebuilt}
    assert by_touch[sent].replied and by_touch[sent].positive  # the rebuild credits the sent touch
    inc = {r.touch_id: r for r in incremental}
    assert inc[sent].replied and inc[sent].positive, "the reply was lost by the incremental refresh"
    assert incremental == rebuilt
