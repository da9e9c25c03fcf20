"""Insights benchmark: an agency's ``GET /v1/insights`` against a plain grouped count (the floor).

    python benchmarks/insights.py [--facts 500000] [--agencies 25] [--repeat 1] [--json]
    python benchmarks/insights.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

Builds a FRESH database (on the embedded server by default, or on the server of
--database-url), migrates it and fills ``insight_facts`` with set-based ``generate_series``
inserts: five touches per lead, leads spread over agencies, industries, seniorities and countries
with a skew (some cells thin, some one agency's, so the privacy checks withdraw cells), outcomes
at a few percent. Then, for one agency and 1, 2 and 3 dimensions, it times in the same run:

- the request: ``insights_report(session, agency_id=..., dims=...)``, what ``GET /v1/insights``
  and the client call return for an agency (own view + privacy-safe platform view);
- the floor: one plain ``SELECT dims, count(*) FROM insight_facts GROUP BY dims`` over the same
  facts (measured before and after each request and averaged, so load drift hits both alike).

Each request starts with no credible interval kept from an earlier one (a server process keeps
them). It prints each request's time, how many statements it sent that read ``insight_facts``, and its
ratio to the floor (the machine is noisy: compare ratios, not absolute times). The database is
dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Self

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from leadpool.db import Database, embedded, session_scope
from leadpool.db.migrate import upgrade
from leadpool.insights import stats
from leadpool.insights.report import insights_report

DIM_SETS: tuple[tuple[str, ...], ...] = (
    ("industry",),
    ("industry", "seniority"),
    ("industry", "seniority", "country"),
)

HASHINT = """
CREATE OR REPLACE FUNCTION hashint(g bigint, salt int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT abs(hashtext(g::text || ':' || salt))::bigint $$
"""

# one row per lead: its agency and segment, skewed (the square of a uniform fraction) so a few
# values are common and many are thin
BUILD_LEADS = """
CREATE TEMP TABLE bench_leads AS
SELECT g AS lead_id,
       1 + floor(:agencies * power((hashint(g, 1) % 10000) / 10000.0, 2))::int AS agency_id,
       'industry ' || floor(40 * power((hashint(g, 2) % 10000) / 10000.0, 2))::int AS industry,
       (ARRAY['owner', 'founder', 'c_suite', 'vp', 'director', 'manager', 'senior', 'entry'])
           [1 + (hashint(g, 3) % 8)] AS seniority,
       (ARRAY['master_sales', 'master_marketing', 'master_engineering_technical', 'master_finance',
              'master_operations'])[1 + (hashint(g, 4) % 5)] AS department,
       (ARRAY['1-10', '11-50', '51-200', '201-1000', '1001+'])[1 + (hashint(g, 5) % 5)] AS size_band,
       (ARRAY['<1M', '1M-10M', '10M-100M', '100M+'])[1 + (hashint(g, 6) % 4)] AS revenue_band,
       'country ' || floor(25 * power((hashint(g, 7) % 10000) / 10000.0, 3))::int AS country,
       (ARRAY['verified', 'verified', 'verified', 'extrapolated', 'guessed'])
           [1 + (hashint(g, 8) % 5)] AS email_status
FROM generate_series(1, :leads) AS g
"""

BUILD_FACTS = """
INSERT INTO insight_facts (touch_id, lead_id, agency_id, campaign_id, channel, sequence_position,
                           sent_at, local_hour, local_weekday, industry, seniority, department,
                           size_band, revenue_band, country, email_status, data_age_band, bounced,
                           replied, positive, unsubscribed, converted)
SELECT t, l.lead_id, l.agency_id, l.agency_id * 10 + (l.lead_id % 3),
       CASE WHEN hashint(t, 11) % 10 < 8 THEN 'email' ELSE 'linkedin' END,
       1 + (t - 1) % :per_lead,
       timestamptz '2026-01-05 00:00+00' + ((hashint(t, 12) % 7776000) || ' seconds')::interval,
       hashint(t, 13) % 24, 1 + hashint(t, 14) % 7,
       l.industry, l.seniority, l.department, l.size_band, l.revenue_band, l.country,
       l.email_status,
       (ARRAY['<30d', '30-90d', '90-180d', '180-365d', '>365d'])[1 + (hashint(t, 15) % 5)],
       hashint(t, 16) % 100 < 3, hashint(t, 17) % 100 < 6, hashint(t, 17) % 100 < 2,
       hashint(t, 18) % 1000 < 5, hashint(t, 19) % 1000 < 3
FROM generate_series(1, :facts) AS t
JOIN bench_leads l ON l.lead_id = 1 + (t - 1) / :per_lead
"""


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fresh_database(admin: str) -> tuple[str, str]:
    name = f"leadpool_bench_insights_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, make_url(admin).set(database=name).render_as_string(hide_password=False)


def build(db: Database, facts: int, agencies: int, per_lead: int) -> None:
    leads = -(-facts // per_lead)
    with db.engine.begin() as c:
        c.execute(text(HASHINT))
        c.execute(text(BUILD_LEADS), {"leads": leads, "agencies": agencies})
        c.execute(text(BUILD_FACTS), {"facts": facts, "per_lead": per_lead})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE insight_facts"))


class FactReads:
    """Counts the statements that read insight_facts (each is at least one pass over it)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self.n = 0

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "insight_facts" in statement:
            self.n += 1

    def __enter__(self) -> Self:
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)


def time_floor(db: Database, dims: tuple[str, ...]) -> float:
    cols = ", ".join(dims)
    with session_scope(db) as s:
        start = time.perf_counter()
        s.execute(text(f"SELECT {cols}, count(*) FROM insight_facts GROUP BY {cols}")).all()
        return time.perf_counter() - start


def time_request(db: Database, agency_id: int, dims: tuple[str, ...]) -> tuple[float, int, int]:
    cached = getattr(stats.credible_interval, "cache_clear", None)
    if cached is not None:
        cached()  # each request starts cold: no interval kept from the one before
    with FactReads(db) as reads, session_scope(db) as s:
        start = time.perf_counter()
        report = insights_report(s, agency_id=agency_id, dims=dims)
        elapsed = time.perf_counter() - start
    published = sum(1 for c in report["platform"]["segments"] if len(c["segment"]) == len(dims))
    return elapsed, reads.n, published


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--facts", type=int, default=500_000)
    parser.add_argument("--agencies", type=int, default=25)
    parser.add_argument("--per-lead", type=int, default=5, help="touches per lead")
    parser.add_argument("--agency", type=int, default=1, help="the agency asking (1 is the largest)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per request (median)")
    parser.add_argument("--database-url", help="a server to create the fresh benchmark database on")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="leadpool-bench-insights-") as tmp:
        if args.database_url:
            admin = args.database_url
        else:
            (Path(tmp) / "embedded").mkdir()
            admin = embedded.server_uri(Path(tmp) / "embedded", database="postgres")
        name, uri = fresh_database(admin)
        db = Database.from_uri(uri)
        rows: list[dict[str, Any]] = []
        try:
            progress(f"database {name}: migrating")
            upgrade(db)
            progress(f"building {args.facts:,} facts ({args.agencies} agencies)")
            t0 = time.perf_counter()
            build(db, args.facts, args.agencies, args.per_lead)
            progress(f"built in {time.perf_counter() - t0:.1f}s")
            time_floor(db, DIM_SETS[-1])  # warm the cache once
            for dims in DIM_SETS:
                floors: list[float] = []
                runs: list[float] = []
                reads = published = 0
                for _ in range(args.repeat):
                    floors.append(time_floor(db, dims))
                    elapsed, reads, published = time_request(db, args.agency, dims)
                    runs.append(elapsed)
                    floors.append(time_floor(db, dims))
                    progress(f"  {','.join(dims)}: request {elapsed:.2f}s, floor {floors[-1]:.3f}s")
                floor_s = statistics.mean(floors)
                request_s = statistics.median(runs)
                rows.append(
                    {
                        "dims": list(dims),
                        "request_seconds": round(request_s, 3),
                        "floor_seconds": round(floor_s, 4),
                        "ratio": round(request_s / floor_s, 1),
                        "fact_reads": reads,
                        "published_cells": published,
                    }
                )
        finally:
            db.dispose()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    figures = {"facts": args.facts, "agencies": args.agencies, "agency": args.agency, "requests": rows}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.facts:,} facts, {args.agencies} agencies, asked as agency {args.agency}")
    print(f"{'dims':<34} {'request':>9} {'floor':>8} {'ratio':>7} {'fact reads':>11} {'published':>10}")
    for r in rows:
        print(
            f"{','.join(r['dims']):<34} {r['request_seconds']:>8.2f}s {r['floor_seconds']:>7.3f}s "
            f"{r['ratio']:>6.1f}x {r['fact_reads']:>11} {r['published_cells']:>10}"
        )


if __name__ == "__main__":
    main()
