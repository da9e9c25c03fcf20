"""On-call: ``leadpool insights refresh`` scores the whole pool in ONE transaction (score_leads:
"all in the caller's transaction"), and every ``UPDATE leads SET insight_score`` keeps its row lock
until that commit. Meanwhile allocation (FOR UPDATE ... SKIP LOCKED) skips every rescored lead and
an unsubscribe/reply/bounce waits for the whole scoring run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from insights.factrows import add_facts
from leadpool.allocation.allocate import allocate
from leadpool.db import session_scope
from leadpool.events.record import record_event
from leadpool.events.schemas import EventIn
from leadpool.insights import score


def _world(db) -> tuple[int, list[int]]:
    with session_scope(db) as s:
        for a in (101, 102, 103):
            add_facts(
                s, 100, replies=20, positives=10, agency_id=a, industry="construction", seniority="owner"
            )
        co = make_company(s, industry="Construction", estimated_num_employees=120)
        leads = make_leads(s, 6, company_id=co, seniority="owner")
        camp = make_campaign(s, make_agency(s))
    return camp, leads


def test_allocation_during_a_scoring_run_still_gets_the_pools_leads(db):
    camp, _leads = _world(db)
    scorer = db.sessionmaker()
    try:
        score.score_leads(scorer)  # the run is still going (not committed): large pool, many chunks
        with session_scope(db) as s:
            res = allocate(s, camp, 4, at=NOW, refill_shortfall=False)
        assert len(res.lead_ids) == 4, (
            f"allocation got {res.lead_ids} of 6 free matching leads while scoring held their rows"
        )
    finally:
        scorer.rollback()
        scorer.close()


def test_an_unsubscribe_is_not_held_up_by_a_scoring_run(db):
    _camp, leads = _world(db)
    scorer = db.sessionmaker()
    try:
        score.score_leads(scorer)
        with session_scope(db) as s:
            s.execute(text("SET LOCAL lock_timeout = '3s'"))
            event = EventIn(
                type="unsubscribe",
                lead_id=leads[0],
                channel="email",
                occurred_at=datetime.now(UTC) - timedelta(minutes=1),
                source="api",
                provider_event_id="scoring-run-unsub-1",
            )
            try:
                record_event(s, event)
            except OperationalError as e:  # lock_timeout
                raise AssertionError(f"the unsubscribe waited on the scoring run's row lock: {e.orig}") from e
    finally:
        scorer.rollback()
        scorer.close()


def test_control_without_a_scoring_run_allocation_gets_them(db):
    camp, _leads = _world(db)
    with session_scope(db) as s:
        score.score_leads(s)
    with session_scope(db) as s:
        res = allocate(s, camp, 4, at=NOW, refill_shortfall=False)
    assert len(res.lead_ids) == 4
