"""Dashboard queries cost what the page shows, not what the platform holds.

Plans checked with EXPLAIN ANALYZE after ANALYZE on tens of thousands of rows: how many rows each
statement pulls out of the big table. Plus the two answers that depended on the platform's size
or the server's settings: an agency's jobs page, and "enrolled today" on a server not in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import text
from tests.scale import Capture, add_decisions, analyze, campaign, explain, rows_read, tenant

from leadpool.allocation import pool
from leadpool.api.auth import hash_key
from leadpool.dashboard import queries
from leadpool.db import Database, session_scope


def test_campaign_and_agency_decision_charts_read_only_their_own_decisions(db: Database) -> None:
    """Our campaign has 200 decisions, another agency's 60,000. Without an index on
    decisions(campaign_id, ...) the campaign page scanned every decision, and its per-day chart
    took the last 30 days of the whole platform's (its latest decision) and then filtered."""
    w = tenant(db, agencies=2)
    with db.engine.begin() as c:
        other_agency = c.execute(
            text("SELECT id FROM agencies WHERE id <> :a"), {"a": w.agency_id}
        ).scalar_one()
    other = campaign(db, other_agency)
    add_decisions(db, lead_id=w.lead_id, campaign_id=w.campaign_id, agency_id=w.agency_id, n=200, days=60)
    add_decisions(db, lead_id=w.lead_id, campaign_id=other, agency_id=other_agency, n=60_000, days=20)
    analyze(db)
    with Capture(db.engine) as cap, session_scope(db) as s:
        detail = queries.campaign_detail(s, w.campaign_id, None)
        days, series = queries.decisions_per_day(s, agency_id=None, campaign_id=w.campaign_id, days=30)
        overview = queries.overview(s, w.agency_id)
    # the window is the campaign's own last 30 days (of its 60), counted by outcome and by day
    assert sum(n for _, n in detail["decision_codes"]) == sum(sum(v) for v in series.values())
    assert 90 <= sum(sum(v) for v in series.values()) < 200 and len(days) == 31
    assert sum(sum(v) for v in overview.decisions_by_reason.values()) == sum(sum(v) for v in series.values())
    for needle in (
        "WHERE d.campaign_id = %(c)s AND d.at >= %(since)s GROUP BY",  # decisions by outcome
        "d.at >= %(since)s AND d.campaign_id = %(c)s",  # the campaign's decisions per day
        "d.at >= %(since)s AND d.agency_id = %(a)s",  # the agency's, on its overview
        "SELECT max(at) FROM decisions WHERE campaign_id",
        "SELECT max(at) FROM decisions WHERE agency_id",
    ):
        calls = [c for c in cap.calls if needle in c[0]]
        assert calls, needle
        for stmt, params in calls:
            read = rows_read(explain(db, stmt, params), "decisions")
            assert read <= 1_000, f"{needle}: read {read:,.0f} decisions for a campaign with 200"


def test_the_agencies_page_reads_each_agencys_hard_bounces_in_its_window_only(db: Database) -> None:
    """25 agencies, 100,000 events (2% hard bounces, over 70 days): the hard bounces were counted
    by a subquery per agency that read the whole events table each time (2.5 million rows)."""
    w = tenant(db, agencies=25)
    with db.engine.begin() as c:
        camps = (
            c.execute(
                text(
                    "INSERT INTO campaigns (agency_id, name, status, channels, icp, daily_quota) "
                    "SELECT a.id, 'k' || a.id, 'active', ARRAY['email'], '{}'::jsonb, 10 FROM agencies a "
                    "ORDER BY a.id RETURNING id"
                )
            )
            .scalars()
            .all()
        )
        c.execute(
            text(
                "INSERT INTO events (type, lead_id, channel, occurred_at, source, provider_event_id, campaign_id) "
                "SELECT CASE WHEN g % 47 = 0 THEN 'hard_bounce' ELSE 'delivered' END, :l, 'email', "
                "now() - g * interval '1 minute', 'sendgrid', 'e' || g, (:cs)[1 + g % 25] "
                "FROM generate_series(1, 100000) g"
            ),
            {"l": w.lead_id, "cs": list(camps)},
        )
        c.execute(
            text(
                "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, local_date, sent_at) "
                "SELECT :l, a.id, c.id, 'email', 'sent', now() - g * interval '1 minute', current_date, now() "
                "FROM generate_series(1, 100000) g "
                "JOIN campaigns c ON c.id = (:cs)[1 + g % 25] JOIN agencies a ON a.id = c.agency_id"
            ),
            {"l": w.lead_id, "cs": list(camps)},
        )
        expected = dict(
            c.execute(
                text(
                    "SELECT c.agency_id, count(*) FROM events e JOIN campaigns c ON c.id = e.campaign_id "
                    "WHERE e.type = 'hard_bounce' AND e.occurred_at >= now() - interval '30 days' "
                    "GROUP BY c.agency_id"
                )
            ).all()
        )
    analyze(db)
    with Capture(db.engine) as cap, session_scope(db) as s:
        rows = queries.agencies(s, None)
    assert len(rows) == 25
    # each agency's own 30 days end at its latest touch (a minute or so ago here)
    for r in rows:
        assert abs(r["hard_bounces"] - expected.get(r["id"], 0)) <= 1, r
    plan = explain(db, *cap.one("hard_bounce"))
    read = rows_read(plan, "events")
    assert read <= 2 * sum(expected.values()), f"read {read:,.0f} events for {sum(expected.values())} bounces"


def test_enrolled_today_is_the_utc_day_allocation_counts_whatever_the_servers_time_zone(
    db: Database, database_uri: str
) -> None:
    """Allocation counts a campaign's quota per UTC day; the agencies page counted from
    date_trunc('day', now()), the session's time zone: on a server set to New York it showed
    another day's count than the one the quota is enforced on."""
    w = tenant(db)
    now = datetime.now(UTC)
    with db.engine.begin() as c:
        c.execute(
            text("INSERT INTO leads (email) SELECT 'e' || g || '@x.example' FROM generate_series(1, 30) g")
        )
        c.execute(
            text(
                "INSERT INTO enrollments (lead_id, campaign_id, agency_id, status, enrolled_at) "
                "SELECT l.id, :c, :a, 'ended', "
                "CAST(:now AS timestamptz) - (row_number() OVER (ORDER BY l.id)) * interval '1 hour' "
                "FROM leads l WHERE l.email LIKE 'e%@x.example'"
            ),
            {"c": w.campaign_id, "a": w.agency_id, "now": now},
        )
    new_york = Database.from_uri(database_uri, connect_args={"options": "-c timezone=America/New_York"})
    try:
        with session_scope(new_york) as s:
            enforced = pool.enrolled_today(s, [w.campaign_id], now).get(w.campaign_id, 0)
            (shown,) = [
                r["enrolled_today"] for r in queries.agencies(s, None, at=now) if r["id"] == w.agency_id
            ]
    finally:
        new_york.dispose()
    assert shown == enforced == now.hour  # one an hour back from now, within today (UTC)
    assert type(shown) is int


def test_an_agencys_jobs_page_lists_its_own_jobs_behind_a_thousand_newer_of_another_agency(
    api, db: Database
) -> None:
    """The page read the platform's newest 1,000 refill jobs and kept the agency's: once other
    agencies had queued 1,000 newer ones, its own vanished ("No refill job has run yet")."""
    w = tenant(db, agencies=2)
    key = "lpa_agency-zero-key-0123456789abcdef"
    with db.engine.begin() as c:
        c.execute(
            text("UPDATE agencies SET api_key_hash = :h WHERE id = :a"),
            {"h": hash_key(key), "a": w.agency_id},
        )
        other = c.execute(text("SELECT id FROM agencies WHERE id <> :a"), {"a": w.agency_id}).scalar_one()
        c.execute(
            text(
                "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested, error) "
                "VALUES (:c, :a, 'failed', 50, 'MINE-JOB-MARKER')"
            ),
            {"c": w.campaign_id, "a": w.agency_id},
        )
    other_campaign = campaign(db, other)
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO refill_jobs (campaign_id, agency_id, status, requested, error) "
                "SELECT :c, :a, 'done', 10, 'OTHER-JOB-MARKER' FROM generate_series(1, 1001)"
            ),
            {"c": other_campaign, "a": other},
        )
    with httpx.Client(base_url=api.url, follow_redirects=False) as b:
        assert b.post("/login", data={"token": key, "next": "/jobs"}).status_code == 303
        page = b.get("/jobs")
    assert page.status_code == 200
    assert "MINE-JOB-MARKER" in page.text and "OTHER-JOB-MARKER" not in page.text
