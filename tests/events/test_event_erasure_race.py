"""An event about an erased person's address arriving while the erasure is running.

Erasure and events both take the import lock shared (they never wait for each other through
it); the only thing making an event wait for an erasure is the lead row (FOR KEY SHARE against
the erasure's FOR UPDATE), and that is taken only when the event resolves to a lead. An event
naming one of the person's personal emails resolves to no lead (lookups use leads.email only),
so nothing orders it against the erasure: it reads "not erased" (the erasure's `erased`
suppressions are not committed yet), stores the person's words, and the erasure's scrub of
events by address HMAC never saw the row. Afterwards the erased person's text is in the events
table for good.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from tests.events.conftest import T0, World
from tests.interleaving import Runner, backend_pid, wait_until_lock_waiting

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.privacy import erase

WORDS = "Sounds interesting - call me on my cell 303-555-0199, Xena"


def _reply(event_id: str) -> EventIn:
    """A reply from the person's personal address (no lead holds it as its email)."""
    return EventIn(
        type="reply",
        email="xena.home@gmail.com",
        channel="email",
        occurred_at=T0 + timedelta(minutes=1),
        source="test",
        provider_event_id=event_id,
        text=WORDS,
    )


def test_a_reply_from_a_personal_address_during_an_erasure_keeps_no_words(db: Database) -> None:
    w = World(db)
    lead = w.lead(email="xena@acme.example", personal_emails=["xena.home@gmail.com"])

    s_erase = db.sessionmaker()
    s_event = db.sessionmaker()
    pid = backend_pid(s_event)
    try:
        erase(s_erase, lead, actor="dpo", at=T0)  # everything done, not committed yet

        def record() -> None:
            record_event(s_event, _reply("reply-personal-1"), at=T0 + timedelta(minutes=2))
            s_event.commit()

        t = Runner(record)
        t.start()
        # a fixed build orders the event after the erasure: it waits (or, unfixed, just finishes)
        wait_until_lock_waiting(db, pid, or_done=t)
        s_erase.commit()
        t.join(30)
        assert t.error is None, t.error
    finally:
        for s in (s_erase, s_event):
            s.rollback()
            s.close()

    with session_scope(db) as s:
        rows = s.execute(text("SELECT text, detail FROM events WHERE source = 'test'")).all()
    assert len(rows) == 1
    stored_text, detail = rows[0]
    # the person is erased: their words (and the classifier's reading of them) must not be kept
    assert stored_text is None, f"erased person's reply text kept: {stored_text!r}"
    assert detail is None, f"erased person's event detail kept: {detail!r}"


def test_the_same_reply_after_the_erasure_committed_keeps_no_words(db: Database) -> None:
    """Control: in sequence the rule holds (the `erased` suppression of the personal address)."""
    w = World(db)
    lead = w.lead(email="xena@acme.example", personal_emails=["xena.home@gmail.com"])
    with session_scope(db) as s:
        erase(s, lead, actor="dpo", at=T0)
    with session_scope(db) as s:
        record_event(s, _reply("reply-personal-2"), at=T0 + timedelta(minutes=2))
    with session_scope(db) as s:
        assert s.execute(text("SELECT text FROM events WHERE source = 'test'")).scalar() is None
