"""Insights jobs whose cost grew with the pool: checked by plan (EXPLAIN ANALYZE) and by how many
rows each statement hands to Python, never by time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from tests.scale import Capture, RowCounter, add_leads, add_sent_emails, analyze, explain, nodes, tenant

from leadpool.db import Database, session_scope
from leadpool.insights import facts, history, score
from leadpool.insights.reenrich import reenrichment_candidates

N = 60_000
START = datetime(2026, 1, 5, tzinfo=UTC)
COLUMNS = (
    "touch_id, lead_id, agency_id, campaign_id, channel, sequence_position, sent_at, local_hour, local_weekday, "
    "industry, seniority, department, size_band, revenue_band, country, email_status, data_age_band, bounced, "
    "replied, reply_category, positive, unsubscribed, complained, converted"
)


def test_reenrichment_candidates_leave_out_queued_leads_with_one_hashed_anti_join(db: Database) -> None:
    """Leaving out the leads waiting in a queued job was a per-lead NOT EXISTS over each job's
    array (``l.id = ANY(r.lead_ids)``): 60,000 leads each compared with 1,000 queued ids. The ids
    are unnested once now, and the pool is anti-joined against them by hash."""
    add_leads(db, N)
    with db.engine.begin() as c:
        job = c.execute(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
                "VALUES ('default', 'insights.reenrich', '{}', 'todo') RETURNING id"
            )
        ).scalar_one()
        first = c.execute(text("SELECT min(id) FROM leads")).scalar_one()
        c.execute(
            text(
                "INSERT INTO refill_jobs (kind, status, requested, lead_ids, procrastinate_job_id) "
                "SELECT 'reenrich', 'queued', 1000, array_agg(g), :j "
                "FROM generate_series(CAST(:first AS bigint), :first + 999) g"
            ),
            {"j": job, "first": first},
        )
    analyze(db)
    with Capture(db.engine) as cap, session_scope(db) as s:
        out = reenrichment_candidates(s, limit=100)
    # never enriched: all stale; the queued thousand (the first ids) are left out
    assert out["lead_ids"] == list(range(first + 1000, first + 1100))
    plan = explain(db, *cap.one("bounced_new_employer"))
    per_lead = [
        n
        for n in nodes(plan["Plan"])
        if float(n.get("Actual Loops", 1)) > 1
        and (n.get("Relation Name") in ("refill_jobs", "procrastinate_jobs") or n["Node Type"] == "CTE Scan")
    ]
    assert not per_lead, [(n["Node Type"], n.get("Actual Loops")) for n in per_lead]
    assert any(n["Node Type"] == "Hash Join" and n.get("Join Type") == "Anti" for n in nodes(plan["Plan"]))


def test_a_rebuild_passes_no_touch_id_through_python_and_no_statement_takes_the_whole_backlog(
    db: Database,
) -> None:
    """A rebuild (or the first refresh, or one after a long pause) inserted the facts of the
    whole backlog in one statement, returned every touch id to a Python set and sent them all
    back as one array to recompute the outcomes. Now: ranges of CHUNK_IDS touches, counts only."""
    w = tenant(db)
    add_sent_emails(db, w, N)
    with RowCounter(db.engine) as rc, Capture(db.engine) as cap, session_scope(db) as s:
        result = facts.rebuild_facts(s)
    assert result.new_facts == N
    assert rc.most_rows() <= 2 and rc.largest_array() == 0, (rc.most_rows(), rc.largest_array())
    inserts = [p for stmt, p in cap.calls if "INSERT INTO insight_facts" in stmt]
    assert len(inserts) == -(-N // facts.CHUNK_IDS)
    assert all(p["hi"] - p["lo"] <= facts.CHUNK_IDS for p in inserts)


@pytest.mark.parametrize("chunk", [7, 1_000_000])
def test_a_refresh_in_id_ranges_makes_the_facts_a_rebuild_in_one_range_makes(
    db: Database, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Ranges cut anywhere (here every 7 ids): events linked before their touch's fact exists,
    later events recomputing facts made by an earlier refresh, a touch's events in two ranges."""
    with session_scope(db) as s:
        h = history.generate_history(s, seed=5, leads=150, start=START, days=30)
    monkeypatch.setattr(facts, "CHUNK_IDS", chunk)
    with session_scope(db) as s:
        first = facts.refresh_facts(s)
    assert first.new_facts == h.touches and first.new_links > 0
    with session_scope(db) as s:
        # more events on touches that have facts now: by touch id, and by lead only
        s.execute(
            text(
                "INSERT INTO events (type, category, lead_id, touch_id, occurred_at, source, provider_event_id) "
                "SELECT CASE WHEN t.id % 3 = 0 THEN 'hard_bounce' ELSE 'reply' END, "
                "CASE WHEN t.id % 2 = 0 THEN 'interested' ELSE 'unsubscribe' END, t.lead_id, "
                "CASE WHEN t.id % 5 = 0 THEN NULL ELSE t.id END, t.at + interval '1 day', 'test', 'x' || t.id "
                "FROM touches t WHERE t.state = 'sent' AND t.id % 4 = 0"
            )
        )
    with session_scope(db) as s:
        second = facts.refresh_facts(s)
        assert second.new_facts == 0 and second.new_links > 0 and second.recomputed > 0
        ranged = s.execute(text(f"SELECT {COLUMNS} FROM insight_facts ORDER BY touch_id")).all()
    monkeypatch.setattr(facts, "CHUNK_IDS", 1_000_000)
    with session_scope(db) as s:
        facts.rebuild_facts(s)
        whole = s.execute(text(f"SELECT {COLUMNS} FROM insight_facts ORDER BY touch_id")).all()
    assert ranged == whole and any(r.replied for r in whole) and any(r.bounced for r in whole)


def test_scoring_reads_and_writes_the_pool_a_chunk_at_a_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """score_leads() read one row per lead of the whole pool in one result and wrote every score
    back as three arrays in one INSERT. Now SCORE_CHUNK leads per round trip; same scores."""
    n = 4 * score.SCORE_CHUNK
    add_leads(db, n)
    with db.engine.begin() as c:
        # an erased lead keeps no score; one scored by an older model gets the new one
        c.execute(
            text(
                "UPDATE leads SET insight_score = 0.5, erased_at = now() WHERE id = (SELECT min(id) + 7 FROM leads)"
            )
        )
        c.execute(text("UPDATE leads SET insight_score = 0.5 WHERE id = (SELECT max(id) FROM leads)"))
    model = score.SegmentModel(rates={(): 0.01, ("email",): 0.02}, version="fixed", cells=2)
    monkeypatch.setattr(score, "fit_model", lambda session: model)
    with RowCounter(db.engine) as rc, session_scope(db) as s:
        result = score.score_leads(s)
    assert (result.leads, result.scores) == (n - 1, 4 * (n - 1))  # email, linkedin, sms, phone
    assert rc.most_rows() <= score.SCORE_CHUNK, rc.most_rows()
    assert rc.largest_array() <= len(score.CHANNELS) * score.SCORE_CHUNK, rc.largest_array()
    with db.engine.connect() as c:
        best = dict(c.execute(text("SELECT insight_score, count(*) FROM leads GROUP BY 1")).all())
    assert best == {0.02: n - 1, None: 1}
