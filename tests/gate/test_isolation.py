"""The gate counts a lead's touches after taking the lead's lock, so each statement must see what
committed while it waited: READ COMMITTED. A server, database or role whose default is repeatable
read must not change the answers, and a caller's own repeatable-read transaction gets a recorded
gate_error deny, never an allow that could miss a touch."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import text
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, GateWorker, caps, check, check_many

T0 = MONDAY_OPEN
_REPEATABLE_READ = "-c default_transaction_isolation=repeatable\\ read"


def _touches(db: Database, lead: int) -> int:
    with db.engine.connect() as c:
        return int(
            c.execute(text("SELECT count(*) FROM touches WHERE lead_id = :l"), {"l": lead}).scalar_one()
        )


def _wait_for_a_lock_wait(db: Database, key: int) -> None:
    """Until some backend waits for advisory lock ``key`` (the worker's check, behind the competitor)."""
    deadline = time.monotonic() + 30
    with db.engine.connect() as c:
        while time.monotonic() < deadline:
            waiting = c.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND classid::bigint = :hi AND objid::bigint = :lo AND objsubid = 1"
                ),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
            ).scalar()
            if waiting:
                return
            c.commit()
            time.sleep(0.01)
    raise AssertionError("no check ever waited for the lead's lock")


def test_a_worker_counts_a_touch_committed_while_it_waited_whatever_the_default_isolation(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(db) as s:
        w = World(s)
        lead, other = w.lead(company_id=None), w.lead(company_id=None)
    with GateWorker(db) as gate:  # the campaign's policy is known: the next check takes the fast path
        assert gate.check(lead_id=other, campaign_id=w.campaign_id, channel="email", at=T0).allowed
    monkeypatch.setenv("PGOPTIONS", _REPEATABLE_READ)  # the server default a connection starts with
    gate = GateWorker(db)
    settings = gate._connection().execute("SHOW default_transaction_isolation").fetchone()
    monkeypatch.delenv("PGOPTIONS")
    assert settings == ("read committed",)  # so its fast path runs: it declines in any other
    competitor = psycopg.connect(db.uri)  # holds the lead's lock, then commits a touch today
    competitor.execute("SELECT pg_advisory_xact_lock(%s)", (caps.lock_key("lead", lead),))
    out = {}
    worker = threading.Thread(
        target=lambda: out.setdefault(
            "d", gate.check(lead_id=lead, campaign_id=w.campaign_id, channel="email", at=T0)
        )
    )
    worker.start()
    try:
        _wait_for_a_lock_wait(db, caps.lock_key("lead", lead))
        competitor.execute(
            "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, local_date, expires_at) "
            "VALUES (%s, %s, %s, 'linkedin', 'sent', %s, %s, %s)",
            (lead, w.agency_id, w.campaign_id, T0, T0.date(), T0),
        )
        competitor.commit()
    finally:
        competitor.close()
        worker.join()
        gate.close()
    assert out["d"].codes == ["lead_daily_cap"]
    assert _touches(db, lead) == 1


@pytest.mark.parametrize("batch", [False, True])
def test_a_check_in_the_callers_repeatable_read_transaction_is_a_recorded_gate_error(
    db: Database, batch: bool
) -> None:
    with session_scope(db) as s:
        w = World(s)
        lead, other = w.lead(company_id=None), w.lead(company_id=None)
    with session_scope(db) as s:  # the policy is known: a check would take the fast path
        assert check(s, lead_id=other, campaign_id=w.campaign_id, channel="linkedin", at=T0).allowed
    with session_scope(db) as s:
        s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        if batch:
            (d,) = check_many(s, [CheckRequest(lead, w.campaign_id, "linkedin", at=T0)])
        else:
            d = check(s, lead_id=lead, campaign_id=w.campaign_id, channel="linkedin", at=T0)
    assert d.codes == ["gate_error"] and d.touch_id is None
    assert "READ COMMITTED" in d.reasons[0].message and "repeatable read" in d.reasons[0].message
    assert _touches(db, lead) == 0
    with db.engine.connect() as c:
        recorded = c.execute(
            text("SELECT allowed, reasons->0->>'code' FROM decisions WHERE lead_id = :l"), {"l": lead}
        ).all()
    assert [tuple(r) for r in recorded] == [(False, "gate_error")]


def test_sessions_are_read_committed_whatever_the_default(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGOPTIONS", _REPEATABLE_READ)
    other = Database.from_uri(db.uri)
    try:
        with other.engine.connect() as c:
            assert c.execute(text("SHOW default_transaction_isolation")).scalar_one() == "repeatable read"
        with session_scope(other) as s:
            assert s.execute(text("SELECT current_setting('transaction_isolation')")).scalar_one() == (
                "read committed"
            )
    finally:
        other.dispose()
