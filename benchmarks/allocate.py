"""Allocation benchmark: allocate() against the bare-SQL floor, growth with pool size, and races.

For each pool size (default 100,000 and 1,000,000 leads) it builds a fresh database with set-based
``generate_series`` inserts (companies: one per 8 leads, 10 industries; leads: a spread of
seniorities, countries, email statuses, freshness and some suppressions), then times in the same
run, each inside a transaction that is rolled back so both see the same pool (median of
``--repeat``):

- ``allocate(campaign, N)`` for a typical ICP (three industries, five seniorities, an employee
  range, verified email): ranking, ownership, enrollment and history rows included;
- the floor: one ``UPDATE leads ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT N)`` with
  the very same predicate (compiled from the same ICP), no ranking and no bookkeeping.

It prints both times, their ratio (goal <= 3x) and the growth of allocate's time from the smallest
to the largest pool (goal < 2x); on the largest pool it also times allocate again after N matching
leads were taken (they must not slow the next allocation down). Then ``--allocators`` processes (default 20) race on one segment
of the smallest pool, each a different agency taking chunks until the segment is dry, and it
prints duplicates (a lead handed to two allocators; must be 0) and leads lost (matching leads left
unowned although every allocator stopped for lack of supply; must be 0).

    python benchmarks/allocate.py                      # 100k and 1M on the embedded server
    python benchmarks/allocate.py --sizes 20000,100000 --n 2000
    LEADPOOL_DATABASE_URL=postgresql://... python benchmarks/allocate.py
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, text, update
from sqlalchemy.engine import make_url

from leadpool.allocation import pool
from leadpool.allocation.agencies import create_agency
from leadpool.allocation.allocate import allocate
from leadpool.allocation.campaigns import MAX_DAILY_QUOTA, activate_campaign, create_campaign
from leadpool.allocation.icp import parse_icp
from leadpool.config import get_settings
from leadpool.db import Database, embedded, session_scope
from leadpool.db.migrate import upgrade
from leadpool.gate.policy import CHANNELS, platform_policy

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TYPICAL_ICP: dict[str, Any] = {
    "industries": ["construction", "real estate", "architecture & planning"],
    "seniorities": ["owner", "founder", "c_suite", "vp", "director"],
    "employee_count": {"min": 5, "max": 2000},
}

BUILD_COMPANIES = """
INSERT INTO companies (id, name, domain, industry, estimated_num_employees, country, founded_year,
                       keywords, technology_uids)
SELECT g, 'Company ' || g, 'company' || g || '.example.com',
       (ARRAY['construction', 'real estate', 'architecture & planning', 'banking', 'retail',
              'computer software', 'hospital & health care', 'logistics', 'education',
              'marketing & advertising'])[1 + (hashint(g, 1) % 10)],
       1 + (hashint(g, 2) % 2000), 'United States', 1950 + (hashint(g, 3) % 70),
       ARRAY['b2b'], ARRAY['salesforce']
FROM generate_series(1, :companies) AS g
"""

BUILD_LEADS = """
INSERT INTO leads (id, apollo_id, email, company_id, first_name, last_name, name, title, seniority,
                   email_status, extrapolated_email_confidence, country, state, city, enriched_at,
                   unsubscribed_at, email_bounced_at, cooling_until, departments)
SELECT g, 'ap' || g, 'person' || g || '@company' || (1 + (g % :companies)) || '.example.com',
       1 + (g % :companies), 'First' || g, 'Last' || g, 'First' || g || ' Last' || g,
       (ARRAY['CEO', 'Founder', 'VP Sales', 'Director of Operations', 'Project Manager',
              'Engineer', 'Owner', 'Head of Marketing'])[1 + (hashint(g, 4) % 8)],
       (ARRAY['owner', 'founder', 'c_suite', 'vp', 'director', 'manager', 'senior', 'entry'])
           [1 + (hashint(g, 5) % 8)],
       CASE WHEN hashint(g, 6) % 10 < 7 THEN 'verified' ELSE 'extrapolated' END,
       (hashint(g, 7) % 100) / 100.0,
       (ARRAY['United States', 'United States', 'United Kingdom', 'Canada'])[1 + (hashint(g, 8) % 4)],
       (ARRAY['Texas', 'California', 'Ohio', 'Florida'])[1 + (hashint(g, 9) % 4)],
       (ARRAY['Austin', 'Dallas', 'Columbus', 'Miami'])[1 + (hashint(g, 10) % 4)],
       CAST(:at AS timestamptz) - make_interval(days => (hashint(g, 11) % 500)::int),
       CASE WHEN hashint(g, 12) % 100 < 2 THEN CAST(:at AS timestamptz) END,
       CASE WHEN hashint(g, 13) % 100 < 2 THEN CAST(:at AS timestamptz) END,
       CASE WHEN hashint(g, 14) % 100 < 1 THEN CAST(:at AS timestamptz) + interval '300 days' END,
       ARRAY['master_sales']
FROM generate_series(1, :leads) AS g
"""

HASHINT = """
CREATE OR REPLACE FUNCTION hashint(g bigint, salt int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT abs(hashtext(g::text || ':' || salt))::bigint $$
"""


def admin_uri(home: Path) -> str:
    settings = get_settings()
    if settings.database_url:
        return make_url(settings.database_url).set(database="postgres").render_as_string(hide_password=False)
    home.mkdir(parents=True, exist_ok=True)
    return embedded.server_uri(home.resolve(), database="postgres")


def fresh_database(admin: str, name: str) -> Database:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database.from_uri(make_url(admin).set(database=name).render_as_string(hide_password=False))
    upgrade(db)
    return db


def build_pool(db: Database, size: int) -> float:
    t0 = time.perf_counter()
    companies = max(1, size // 8)
    with db.engine.begin() as conn:
        conn.execute(text(HASHINT))
        conn.execute(text(BUILD_COMPANIES), {"companies": companies})
        conn.execute(text(BUILD_LEADS), {"companies": companies, "leads": size, "at": AT})
        conn.execute(text("SELECT setval('companies_id_seq', :c)"), {"c": companies})
        conn.execute(text("SELECT setval('leads_id_seq', :l)"), {"l": size})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE companies"))
        conn.execute(text("VACUUM ANALYZE leads"))
    return time.perf_counter() - t0


def make_campaigns(db: Database, count: int, quota: int) -> list[int]:
    ids = []
    with session_scope(db) as s:
        for i in range(count):
            agency = create_agency(s, f"bench agency {i}-{time.time_ns()}")
            c = create_campaign(
                s,
                agency_id=agency.id,
                name=f"bench {i}",
                channels="email",
                icp=TYPICAL_ICP,
                daily_quota=quota,
            )
            activate_campaign(s, c.id)
            ids.append(c.id)
    return ids


def time_allocate(db: Database, campaign_id: int, n: int) -> tuple[float, int]:
    s = db.sessionmaker()
    try:
        t0 = time.perf_counter()
        res = allocate(s, campaign_id, n, at=AT, refill_shortfall=False)
        s.flush()
        elapsed = time.perf_counter() - t0
        s.rollback()
    finally:
        s.close()
    return elapsed, len(res.lead_ids)


def typical_target(campaign_id: int) -> pool.Target:
    """What allocate() asks of the pool for the benchmark's campaign, with the same predicate:
    the ICP, email reachable, and where the platform's policy asks for consent (a Canadian lead's
    email, by default), a consent the agency does not hold."""
    policy = platform_policy()
    return pool.Target(
        campaign_id=campaign_id,
        agency_id=0,
        icp=parse_icp(TYPICAL_ICP),
        channels=("email",),
        consent_required=tuple((ch, policy.consent_countries(ch)) for ch in CHANNELS),
    )


def time_floor(db: Database, campaign_id: int, n: int) -> tuple[float, int]:
    target = typical_target(campaign_id)
    picked = (
        pool.pool_candidates(target, AT, n, company_exclusive=False)
        .order_by(None)
        .with_only_columns(pool.leads.c.id)
    )
    stmt = update(pool.leads).where(pool.leads.c.id.in_(picked)).values(updated_at=func.now())
    with db.engine.connect() as conn:
        t0 = time.perf_counter()
        count = conn.execute(stmt).rowcount
        elapsed = time.perf_counter() - t0
        conn.rollback()
    return elapsed, count


def _race(uri: str, campaign_id: int, chunk: int, barrier: Any, out: Any) -> None:
    db = Database.from_uri(uri, pool_size=1)
    got: list[int] = []
    barrier.wait()
    t0 = time.time()
    try:
        while True:
            with session_scope(db) as s:
                ids = allocate(s, campaign_id, chunk, at=AT, refill_shortfall=False).lead_ids
            got += ids
            if not ids:
                break
    finally:
        db.dispose()
        out.put((got, t0, time.time()))


def race(db: Database, allocators: int, chunk: int) -> dict[str, Any]:
    campaigns = make_campaigns(db, allocators, quota=MAX_DAILY_QUOTA)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(allocators)
    out = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(db.uri, c, chunk, barrier, out)) for c in campaigns]
    for p in procs:
        p.start()
    outcomes = [out.get() for _ in procs]
    for p in procs:
        p.join()
    results = [o[0] for o in outcomes]
    elapsed = max(o[2] for o in outcomes) - min(o[1] for o in outcomes)  # from the start signal
    handed = Counter(lid for r in results for lid in r)
    duplicates = sum(1 for c in handed.values() if c > 1)
    target = typical_target(campaigns[0])
    free = pool.pool_candidates(target, AT, None, company_exclusive=False, lock=False).order_by(None)
    with session_scope(db) as s:
        lost = len(s.execute(free).all())
        double_owned = s.execute(
            text(
                "SELECT count(*) FROM (SELECT lead_id FROM ownerships GROUP BY lead_id HAVING count(*) > 1) x"
            )
        ).scalar_one()
        owned = s.execute(text("SELECT count(*) FROM ownerships")).scalar_one()
    return {
        "allocators": allocators,
        "seconds": elapsed,
        "handed_out": sum(handed.values()),
        "owned": owned,
        "duplicates": duplicates + double_owned,
        "lost": lost,
        "per_allocator": sorted(len(r) for r in results),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="Pool sizes, comma-separated.")
    ap.add_argument("--n", type=int, default=10_000, help="Leads allocated per timed call.")
    ap.add_argument("--repeat", type=int, default=3, help="Timed runs per measure (median shown).")
    ap.add_argument("--allocators", type=int, default=20, help="Concurrent processes in the race (0: skip).")
    ap.add_argument("--chunk", type=int, default=500, help="Leads per call in the race.")
    ap.add_argument("--home", type=Path, default=Path(".leadpool-bench"), help="Embedded server home.")
    ap.add_argument("--keep", action="store_true", help="Keep the benchmark databases.")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    admin = admin_uri(args.home)
    rows = []
    race_db: Database | None = None
    for size in sizes:
        name = f"leadpool_bench_alloc_{size}"
        db = fresh_database(admin, name)
        built = build_pool(db, size)
        (campaign,) = make_campaigns(db, 1, quota=args.n)
        with session_scope(db) as s:
            matching = s.execute(
                pool.pool_candidates(
                    typical_target(campaign),
                    AT,
                    None,
                    company_exclusive=False,
                    lock=False,
                )
                .order_by(None)
                .with_only_columns(func.count())
            ).scalar_one()
        time_allocate(db, campaign, args.n)  # warm caches for both
        alloc_times, floor_times = [], []
        got = floor_got = 0
        for _ in range(args.repeat):
            t, got = time_allocate(db, campaign, args.n)
            alloc_times.append(t)
            t, floor_got = time_floor(db, campaign, args.n)
            floor_times.append(t)
        a, f = statistics.median(alloc_times), statistics.median(floor_times)
        rows.append((size, matching, got, floor_got, a, f))
        print(
            f"pool {size:>9,}: built in {built:6.1f}s, {matching:,} match the ICP | "
            f"allocate({args.n:,}) {a * 1000:8.1f} ms ({got:,} leads) | floor {f * 1000:8.1f} ms "
            f"({floor_got:,}) | ratio {a / f:5.2f}x",
            flush=True,
        )
        if size == sizes[-1] and matching >= 2 * args.n:
            # taken leads leave the index (leads.owned): the next allocation must not walk past them
            (other,) = make_campaigns(db, 1, quota=args.n)
            with session_scope(db) as s:
                allocate(s, other, args.n, at=AT, refill_shortfall=False)
            t, again = time_allocate(db, campaign, args.n)
            print(
                f"pool {size:>9,}: after {args.n:,} matching leads were taken, allocate({args.n:,}) "
                f"{t * 1000:8.1f} ms ({again:,} leads)",
                flush=True,
            )
        if race_db is None and args.allocators:
            race_db = db
        elif not args.keep:
            db.dispose()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(
            f"growth {first[0]:,} -> {last[0]:,} leads: allocate x{last[4] / first[4]:.2f} "
            f"(goal < 2x), floor x{last[5] / first[5]:.2f}"
        )
    if race_db is not None:
        r = race(race_db, args.allocators, args.chunk)
        print(
            f"race: {r['allocators']} allocators on one segment of the {sizes[0]:,} pool took "
            f"{r['owned']:,} leads in {r['seconds']:.1f}s; duplicates {r['duplicates']} (must be 0), "
            f"lost {r['lost']} (must be 0); per allocator min {r['per_allocator'][0]:,} "
            f"max {r['per_allocator'][-1]:,}"
        )
        race_db.dispose()
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "leadpool_bench_alloc_{sizes[0]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
