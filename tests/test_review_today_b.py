"""Review of e51cb74 (blocked domains): each test fails on that commit and names a problem."""

from __future__ import annotations

import threading
import time

import psycopg
from sqlalchemy import select, text
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import check
from leadpool.models import Company, Enrollment
from leadpool.privacy.domains import block_domain

T0 = MONDAY_OPEN


def _codes(db: Database, lead: int, campaign: int, channel: str = "linkedin") -> list[str]:
    with session_scope(db) as s:
        return check(s, lead_id=lead, campaign_id=campaign, channel=channel, at=T0, reserve=False).codes


def test_a_public_suffix_cannot_be_blocked(db: Database) -> None:
    # 'co.uk' is a parent of every UK company's email domain: one typo ends every UK enrollment
    # of every agency, and 'the enrollments it ended stay ended' even after the block is lifted
    with session_scope(db) as s:
        w_agency = f.agency(s)
        campaign = f.campaign(s, w_agency)
        lead = f.lead(s, email="ann@acme.co.uk")
        f.enroll(s, lead, campaign, w_agency)
    with session_scope(db) as s:
        try:
            done = block_domain(s, "www.co.uk", reason="typo for www.rival.co.uk", actor="ops")
        except InvalidInput:
            return
    raise AssertionError(f"blocked {done.domain!r}: {done.enrollments_ended} enrollment(s) ended")


def _wait_for_lock_wait(dsn: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            n = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            if n and n[0]:
                return
            time.sleep(0.05)
    raise AssertionError("block_domain never waited on a lead lock")


def test_an_agency_block_never_ends_another_agencys_enrollment(db: Database, database_uri: str) -> None:
    """block_domain reads the covered leads before locking them, then ends *any* active enrollment
    of each lead: a lead whose enrollment moved to another agency while it waited for the lock
    loses that other agency's enrollment."""
    with session_scope(db) as s:
        a, b = f.agency(s), f.agency(s)
        camp_a, camp_b = f.campaign(s, a), f.campaign(s, b)
        first = f.lead(s, email="one@client.example")
        second = f.lead(s, email="two@client.example")
        for lead in (first, second):
            f.own(s, lead, a)
            f.enroll(s, lead, camp_a, a)
    assert first < second
    dsn = database_uri.replace("postgresql+psycopg://", "postgresql://")
    holder = psycopg.connect(dsn)  # some writer (an event) holds the first lead's row
    holder.execute("SELECT id FROM leads WHERE id = %s FOR NO KEY UPDATE", (first,))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with session_scope(db) as s:
                block_domain(s, "client.example", reason="our client", actor="agency:a", agency_id=a)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    try:
        _wait_for_lock_wait(dsn)
        # meanwhile agency A's enrollment of the second lead ends, the lead is released and
        # agency B is given it (separate, committed transactions)
        with session_scope(db) as s:
            s.execute(
                text(
                    "UPDATE enrollments SET status='ended', ended_at=now(), end_reason='finished' WHERE lead_id=:l"
                ),
                {"l": second},
            )
            s.execute(text("DELETE FROM ownerships WHERE lead_id=:l"), {"l": second})
        with session_scope(db) as s:
            f.own(s, second, b)
            f.enroll(s, second, camp_b, b)
    finally:
        holder.commit()
        holder.close()
        t.join(30)
    assert not errors, errors
    with session_scope(db) as s:
        row = s.execute(
            select(Enrollment.status, Enrollment.end_reason).where(
                Enrollment.lead_id == second, Enrollment.agency_id == b
            )
        ).one()
    assert tuple(row) == ("active", None), (
        f"agency B's enrollment was ended by agency A's block: {tuple(row)}"
    )


def test_company_domain_column_is_what_the_block_compares(db: Database) -> None:
    """Sanity for the IDN test: a plain ASCII company domain is covered."""
    with session_scope(db) as s:
        agency = f.agency(s)
        campaign = f.campaign(s, agency)
        company = f.company(s)
        lead = f.lead(s, company_id=company, email="kim@gmail.com")
        f.enroll(s, lead, campaign, agency)
        domain = s.get(Company, company).domain  # type: ignore[union-attr]
    with session_scope(db) as s:
        assert block_domain(s, domain, reason="r", actor="ops").enrollments_ended == 1


def test_an_enrollment_a_block_ends_rests_the_lead_like_any_other_ending(db: Database) -> None:
    """allocation/rest.py: 'an enrollment can never end without its rest' (only the permanent
    endings, replies, opt-outs, erasure, start none). A block is lifted again (a client leaves):
    then the agency that was mid-sequence yesterday starts a new sequence on the person at once."""
    from leadpool.allocation.allocate import allocate
    from leadpool.privacy.domains import unblock_domain

    with session_scope(db) as s:
        agency = f.agency(s)
        first = f.campaign(s, agency, channels=("email", "linkedin"))
        second = f.campaign(s, agency, channels=("email", "linkedin"))
        lead = f.lead(s, email="cto@client.example")
        f.own(s, lead, agency)
        f.enroll(s, lead, first, agency)
    with session_scope(db) as s:
        assert block_domain(s, "client.example", reason="a client", actor="ops").enrollments_ended == 1
    with session_scope(db) as s:
        unblock_domain(s, "client.example", actor="ops")
    with session_scope(db) as s:
        rests = s.execute(
            text("SELECT count(*) FROM rest_periods WHERE lead_id = :l"), {"l": lead}
        ).scalar_one()
        got = allocate(s, second, 10, refill_shortfall=False).lead_ids
    assert rests == 1 and lead not in got, f"rest rows {rests}; re-allocated at once: {lead in got}"


def test_a_block_added_while_allocation_runs_leaves_no_lead_enrolled_at_the_domain(db: Database) -> None:
    """block_domain ends the enrollments it can see; one an allocation round is writing at the same
    moment (committed just after) stayed active: enrolled, denied by the gate for good, holding
    the campaign's quota. The block now waits for running allocations (pool.locks)."""
    import threading

    from leadpool.allocation.allocate import allocate

    with session_scope(db) as s:
        agency = f.agency(s)
        campaign = f.campaign(s, agency, channels=("email", "linkedin"))
        lead = f.lead(s, email="x@rival.example")
    allocated, blocked = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def operator() -> None:
        try:
            allocated.wait(10)
            with session_scope(db) as s:  # another connection: the operator's block
                block_domain(s, "rival.example", reason="competitor", actor="ops")
            blocked.set()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    thread = threading.Thread(target=operator)
    thread.start()
    with session_scope(db) as alloc:
        assert lead in allocate(alloc, campaign, 10, refill_shortfall=False).lead_ids
        allocated.set()
        assert not blocked.wait(1.0)  # the block waits for this allocation to commit
    thread.join(30)
    assert errors == [] and blocked.is_set()
    with session_scope(db) as s:
        active = s.execute(
            text("SELECT count(*) FROM enrollments WHERE lead_id = :l AND status = 'active'"), {"l": lead}
        ).scalar_one()
    assert active == 0, "the lead sits enrolled at a blocked domain"
