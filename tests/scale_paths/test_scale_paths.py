"""Statements whose cost grew with a whole big table instead of with what they touch.

Data built set-based (tests/review_e/_data.py: 30,000 leads over 300 companies, 120,000 events,
30,000 raw payloads, 30,000 enrollments), ANALYZEd; the statement the code ran is captured and run
again under EXPLAIN ANALYZE, and the rows its plan pulled out of the big table are counted."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from tests.scale import Capture, analyze, explain, rows_read

from leadpool.allocation.agencies import cancel_agency
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.privacy.erase import erase
from leadpool.timeline import company_timeline

from ._data import N_EVENTS, N_LEADS, N_PAYLOADS, big_world


def _reads(db: Database, cap: Capture, needle: str, relation: str) -> list[tuple[float, str]]:
    calls = [c for c in cap.calls if needle in c[0]]
    assert calls, (needle, [c[0][:120] for c in cap.calls])
    return [
        (rows_read(explain(db, stmt, params), relation), " ".join(stmt.split())[:160])
        for stmt, params in calls
    ]


def test_a_company_timeline_page_reads_the_companys_events_not_every_event(db: Database) -> None:
    """Company 5 has 100 people with 400 events between them; the page of 50 read all 120,000
    events: ``lead_id IN (people) OR id IN (causes)`` is a filter no index can serve, and there is no
    (occurred_at) order to stop early, so it is a sequential scan of events plus a sort."""
    big_world(db, payloads=False)
    analyze(db)
    with Capture(db.engine) as cap, session_scope(db) as s:
        page = company_timeline(s, 5, limit=50)
    assert page
    for read, stmt in _reads(db, cap, "FROM events", "events"):
        assert read <= 2_000, f"read {read:,.0f} of {N_EVENTS:,} events for a company with 400: {stmt}"


def test_an_erasure_locks_and_reads_the_persons_payloads_not_every_payload(db: Database) -> None:
    """One person, one linked payload naming their Apollo id; every erasure read all 30,000 raw
    payloads (twice: lock_payloads and redact_lead_payloads), because ``id IN (linked) OR
    apollo_person_ids @> ...`` (OR the lost-call test) is one filter over a scan of raw_payloads."""
    big_world(db, events=False)
    with db.engine.begin() as c:
        c.execute(text("UPDATE leads SET apollo_id = 'ap' || id WHERE id <= 100"))
    analyze(db)
    with Capture(db.engine) as cap, session_scope(db) as s:
        result = erase(s, 21, actor="dpo")
    assert result.payloads_tombstoned + result.payloads_redacted == 1
    reads = _reads(db, cap, "FROM raw_payloads", "raw_payloads")
    bad = [(r, s) for r, s in reads if r > 1_000]
    assert not bad, f"of {N_PAYLOADS:,} payloads: {bad}"


def test_cancelling_a_small_agency_reads_its_enrollments_not_every_agencys(db: Database) -> None:
    """Agency 4 holds 30 leads among 30,000 enrollments of others; each of the three statements
    that find its active enrollments (the lead lock in cancel_agency, the same in release_agency,
    and the UPDATE that ends them) read every enrollment: there is no index on
    enrollments(agency_id)."""
    big_world(db, events=False, payloads=False)
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO agencies (id, name) VALUES (4, 'small')"))
        c.execute(
            text(
                "INSERT INTO campaigns (id, agency_id, name, status, channels, icp, daily_quota) "
                "VALUES (4, 4, 'c4', 'active', ARRAY['email'], '{}'::jsonb, 100)"
            )
        )
        c.execute(text("UPDATE ownerships SET agency_id = 4 WHERE lead_id <= 30"))
        c.execute(text("UPDATE enrollments SET agency_id = 4, campaign_id = 4 WHERE lead_id <= 30"))
    analyze(db)
    with Capture(db.engine) as cap, session_scope(db) as s:
        result = cancel_agency(s, 4, at=datetime.now(UTC))
    assert result.enrollments_ended == 30 and len(result.released_lead_ids) == 30
    reads = _reads(db, cap, "FROM enrollments", "enrollments") + _reads(
        db, cap, "UPDATE enrollments", "enrollments"
    )
    bad = [(r, s) for r, s in reads if r > 1_000]
    assert not bad, f"of {N_LEADS:,} enrollments: {bad}"


def test_an_opt_out_finds_the_leads_listing_the_address_as_personal_without_reading_every_lead(
    db: Database,
) -> None:
    """An unsubscribe from a personal email also looks among the leads' personal emails (an array
    column): a filter no btree serves, so without its GIN index every opt-out read all leads."""
    big_world(db, events=False, payloads=False)
    with db.engine.begin() as c:
        c.execute(
            text("UPDATE leads SET personal_emails = ARRAY['home' || id || '@mail.example'] WHERE id % 3 = 0")
        )
    analyze(db)
    event = EventIn(
        type="unsubscribe",
        email="home300@mail.example",
        occurred_at=datetime.now(UTC),
        source="test",
        provider_event_id="u-300",
    )
    with Capture(db.engine) as cap, session_scope(db) as s:
        record_event(s, event)
    reads = _reads(db, cap, "personal_emails &&", "leads")
    bad = [(r, s) for r, s in reads if r > 1_000]
    assert not bad, f"of {N_LEADS:,} leads: {bad}"
    with db.engine.connect() as c:
        assert c.execute(text("SELECT unsubscribed_at IS NOT NULL FROM leads WHERE id = 300")).scalar_one()
