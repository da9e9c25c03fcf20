"""GateWorker: a sending worker's own autocommit connection to the gate. Same answers as check(),
committed when it returns; a lost connection is a recorded gate_error deny, then a reconnect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, text
from tests.gate.factories import MONDAY_OPEN, World, set_lead

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import GateWorker, caps, fast

T0 = MONDAY_OPEN


def _world(db: Database, leads: int = 3) -> tuple[World, list[int]]:
    with session_scope(db) as s:
        w = World(s)
        ids = [w.lead(company_id=None) for _ in range(leads)]
    return w, ids


def _touch(db: Database, touch_id: int | None) -> tuple[str, int] | None:
    """The touch's state and lead, read on another connection: only committed rows show."""
    with db.engine.connect() as c:
        row = c.execute(text("SELECT state, lead_id FROM touches WHERE id = :id"), {"id": touch_id}).first()
    return (row[0], row[1]) if row else None


def test_allows_are_committed_on_return_and_the_second_takes_the_fast_path(db: Database) -> None:
    w, (a, b, _) = _world(db)
    fast._policies.pop(w.campaign_id, None)  # unknown campaign: the first check resolves it
    with GateWorker(db) as gate:
        first = gate.check(lead_id=a, campaign_id=w.campaign_id, channel="linkedin", sender="acct-1", at=T0)
        assert first.allowed and first.touch_id is not None and first.decision_id is not None
        assert w.campaign_id in fast._policies  # the full check left the policy for the fast path
        checkouts: list[object] = []

        def counted(*args: object) -> None:
            checkouts.append(args)

        event.listen(db.engine, "checkout", counted)
        try:
            second = gate.check(
                lead_id=b, campaign_id=w.campaign_id, channel="linkedin", sender="acct-1", at=T0
            )
        finally:
            event.remove(db.engine, "checkout", counted)
        assert second.allowed and second.touch_id is not None
        assert checkouts == []  # one statement on the worker's own connection, no session
    assert _touch(db, first.touch_id) == ("reserved", a)
    assert _touch(db, second.touch_id) == ("reserved", b)
    with db.engine.connect() as c:
        n = c.execute(
            text("SELECT n FROM gate_counters WHERE scope = 'sender' AND key = 'linkedin:acct-1'")
        ).scalar_one()
        decided = c.execute(
            text("SELECT count(*) FROM decisions WHERE allowed AND touch_id = ANY(:t)"),
            {"t": [first.touch_id, second.touch_id]},
        ).scalar_one()
    assert n == 2 and decided == 2


@contextmanager
def _checkouts(db: Database) -> Iterator[list[object]]:
    """Pool checkouts inside the block: a session, as the full check opens one."""
    seen: list[object] = []

    def counted(*args: object) -> None:
        seen.append(args)

    event.listen(db.engine, "checkout", counted)
    try:
        yield seen
    finally:
        event.remove(db.engine, "checkout", counted)


def test_denials_are_decided_on_the_worker_connection_with_every_reason(db: Database) -> None:
    w, (a, b, _) = _world(db)
    with session_scope(db) as s:
        set_lead(s, a, unsubscribed_at=T0 - timedelta(days=1))
    with GateWorker(db) as gate:
        gate.check(lead_id=b, campaign_id=w.campaign_id, channel="linkedin", at=T0)  # primes the policy
        with _checkouts(db) as checkouts:
            d = gate.check(lead_id=a, campaign_id=w.campaign_id, channel="email", at=T0)
            again = gate.check(lead_id=b, campaign_id=w.campaign_id, channel="email", at=T0)
        assert checkouts == []  # decided and recorded on the worker's own connection
    assert not d.allowed and d.codes == ["unsubscribed"] and d.touch_id is None and d.decision_id is not None
    assert not again.allowed and again.codes == ["lead_daily_cap"]  # b was touched today already
    assert again.reasons[0].retry_after is not None  # worded as the full check words it
    assert _touch(db, d.touch_id) is None
    with db.engine.connect() as c:
        stored = c.execute(
            text("SELECT allowed, reasons FROM decisions WHERE id = :id"), {"id": again.decision_id}
        ).one()
    assert stored[0] is False and [r["code"] for r in stored[1]] == again.codes


def test_a_counter_at_its_cap_is_recounted_not_trusted(db: Database) -> None:
    """A counter may over-count (a reservation that expired unconfirmed): the unlocked deny must
    not trust one at its cap. Here the sender's counter says 25 (linkedin's cap), no touch exists:
    the exact count leaves the slot free, and the full check allows and writes the count back."""
    w, (a, b, _) = _world(db)
    scope = caps.sender_scope("linkedin", "acct-9", T0)
    with db.engine.begin() as c:
        c.execute(
            text("INSERT INTO gate_counters (scope, key, day, n) VALUES (:s, :k, :d, 25)"),
            {"s": scope.scope, "k": scope.key, "d": scope.day},
        )
    with GateWorker(db) as gate:
        gate.check(lead_id=b, campaign_id=w.campaign_id, channel="email", at=T0)  # primes the policy
        with _checkouts(db) as checkouts:
            d = gate.check(lead_id=a, campaign_id=w.campaign_id, channel="linkedin", sender="acct-9", at=T0)
        assert checkouts  # the full check decided it, in a session
    assert d.allowed and d.touch_id is not None
    with db.engine.connect() as c:
        n = c.execute(
            text("SELECT n FROM gate_counters WHERE scope = 'sender' AND key = :k"), {"k": scope.key}
        ).scalar_one()
    assert n == 1  # the true count written back, then raised by this reservation


def test_a_sender_spent_for_the_day_is_denied_on_the_worker_connection(db: Database) -> None:
    """A counter at its cap that holds its exact count: counted once, denied without the full
    check, as often as the sending engine asks."""
    with session_scope(db) as s:
        w = World(s, agency_gate={"sender_daily_caps": {"linkedin": 2}})
        ids = [w.lead(company_id=None) for _ in range(4)]
    with GateWorker(db) as gate:
        sent = [
            gate.check(lead_id=i, campaign_id=w.campaign_id, channel="linkedin", sender="acct-1", at=T0)
            for i in ids[:2]
        ]
        assert all(d.allowed for d in sent)
        with _checkouts(db) as checkouts:
            spent = [
                gate.check(lead_id=i, campaign_id=w.campaign_id, channel="linkedin", sender="acct-1", at=T0)
                for i in ids[2:]
            ]
        assert checkouts == []
    assert all(d.codes == ["sender_daily_cap"] and d.decision_id is not None for d in spent)
    assert all(d.reasons[0].retry_after is not None for d in spent)  # the next UTC midnight


def test_the_same_idempotency_key_returns_the_same_decision_and_touch(db: Database) -> None:
    w, (a, _, _) = _world(db)
    with GateWorker(db) as gate:
        one = gate.check(
            lead_id=a, campaign_id=w.campaign_id, channel="linkedin", at=T0, idempotency_key="k-1"
        )
        two = gate.check(
            lead_id=a, campaign_id=w.campaign_id, channel="linkedin", at=T0, idempotency_key="k-1"
        )
    assert one.allowed and two.allowed and two.replayed
    assert (two.touch_id, two.decision_id) == (one.touch_id, one.decision_id)


def test_a_lost_connection_is_a_recorded_gate_error_then_the_worker_reconnects(db: Database) -> None:
    w, (a, b, _) = _world(db)
    with GateWorker(db) as gate:
        assert gate.check(lead_id=a, campaign_id=w.campaign_id, channel="linkedin", at=T0).allowed
        conn = gate._conn
        assert conn is not None
        with db.engine.connect() as c:  # the server drops the worker's connection
            c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": conn.info.backend_pid})
        lost = gate.check(lead_id=b, campaign_id=w.campaign_id, channel="linkedin", at=T0)
        assert not lost.allowed and lost.codes == ["gate_error"] and lost.touch_id is None
        assert "could not decide" in lost.reasons[0].message
        back = gate.check(lead_id=b, campaign_id=w.campaign_id, channel="linkedin", at=T0)
        assert back.allowed and gate._conn is not conn
    with db.engine.connect() as c:
        recorded = c.execute(
            text("SELECT count(*) FROM decisions WHERE lead_id = :b AND NOT allowed AND reasons @> :r"),
            {"b": b, "r": '[{"code": "gate_error"}]'},
        ).scalar_one()
    assert recorded == 1


def test_bad_input_raises_and_nothing_is_stored(db: Database) -> None:
    w, (a, _, _) = _world(db)
    with db.engine.connect() as c:
        before = c.execute(
            text("SELECT (SELECT count(*) FROM touches), (SELECT count(*) FROM decisions)")
        ).one()
    with GateWorker(db) as gate:
        with pytest.raises(InvalidInput, match="channel 'fax' is not one of"):
            gate.check(lead_id=a, campaign_id=w.campaign_id, channel="fax", at=T0)
        with pytest.raises(InvalidInput, match="has no time zone"):
            gate.check(lead_id=a, campaign_id=w.campaign_id, channel="email", at=T0.replace(tzinfo=None))
        # a queue message's id as text: SQL would take it, the lead's caps in memory would not
        with pytest.raises(InvalidInput, match="lead_id must be a positive integer"):
            gate.check(lead_id=str(a), campaign_id=w.campaign_id, channel="linkedin", at=T0)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="campaign_id must be a positive integer"):
            gate.check(lead_id=a, campaign_id=True, channel="linkedin", at=T0)
        with pytest.raises(InvalidInput, match="at must be a datetime"):
            gate.check(lead_id=a, campaign_id=w.campaign_id, channel="linkedin", at=T0.isoformat())  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="sender must be a string"):
            gate.check(lead_id=a, campaign_id=w.campaign_id, channel="linkedin", sender=7, at=T0)  # type: ignore[arg-type]
    with db.engine.connect() as c:
        after = c.execute(
            text("SELECT (SELECT count(*) FROM touches), (SELECT count(*) FROM decisions)")
        ).one()
    assert tuple(after) == tuple(before)
