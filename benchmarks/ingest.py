"""Ingestion benchmark: the importer against a plain COPY of the same JSON lines (the floor).

    python benchmarks/ingest.py [--people 200000] [--seed 7] [--database-url postgresql://...]

Generates N Apollo-shaped people as JSON Lines, creates a FRESH database (on the embedded server
by default, or on the server of --database-url), then on that same server:
  * floor: COPY of every line into a one-column jsonb table, timed (run before and after the
    importer, and averaged, so load drift on a shared machine hits both sides alike);
  * importer: ``leadpool import FILE`` in a child process, timed by the command itself, with the
    child's peak RSS (VmHWM of its own memory map).
Prints records/s for both, the ratio (goal >= 0.3) and the importer's peak RSS (goal < 300 MB at
1,000,000 records). ``--json`` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy.engine import make_url

FLOOR_COPY = "COPY floor_docs (doc) FROM STDIN WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"


def generate(path: Path, people: int, seed: int) -> None:
    from leadpool.apollo.generate import generate_people

    with path.open("wb") as f:
        buf: list[bytes] = []
        for person in generate_people(people, seed):
            buf.append(orjson.dumps(person))
            if len(buf) >= 5000:
                f.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            f.write(b"\n".join(buf) + b"\n")


def floor(uri: str, path: Path, lines: int) -> float:
    """records/s of COPY into a one-column jsonb table (created fresh each time)."""
    with psycopg.connect(uri) as conn:
        conn.execute("DROP TABLE IF EXISTS floor_docs")
        conn.execute("CREATE TABLE floor_docs (doc jsonb)")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(FLOOR_COPY) as cp, path.open("rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - start
        n = conn.execute("SELECT count(*) FROM floor_docs").fetchone()
        assert n is not None and n[0] == lines, f"floor loaded {n} rows, expected {lines}"
        conn.execute("DROP TABLE floor_docs")
        conn.commit()
    return lines / elapsed


def peak_rss_kb() -> int:
    """This process's peak RSS. VmHWM belongs to the current memory map, so unlike getrusage's
    ru_maxrss (which Linux carries across exec from the forked parent) it counts only this program."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_import(path: str, out: str, batch_size: int | None) -> None:
    """Runs in the child: the real CLI command, then its own peak RSS."""
    import contextlib
    import io

    from leadpool.cli import app

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        extra = ["--batch-size", str(batch_size)] if batch_size else []
        app(["import", path, "--json", *extra], standalone_mode=False)
    summary = json.loads(buf.getvalue())
    summary["maxrss_kb"] = peak_rss_kb()
    Path(out).write_text(json.dumps(summary))


def run_importer(uri: str, path: Path, workdir: Path, batch_size: int | None) -> dict[str, Any]:
    out = workdir / "import-result.json"
    env = {**os.environ, "LEADPOOL_DATABASE_URL": uri, "LEADPOOL_HOME": str(workdir / "home")}
    env.setdefault("LEADPOOL_SECRET_KEY", "benchmark-secret")
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-import",
            str(path),
            "--child-out",
            str(out),
            *(["--batch-size", str(batch_size)] if batch_size else []),
        ],
        env=env,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    result["wall_seconds"] = time.perf_counter() - start
    return result


def fresh_database(admin_uri: str) -> tuple[str, str]:
    name = f"leadpool_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    uri = make_url(admin_uri).set(database=name).render_as_string(hide_password=False)
    return name, uri


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="a server to create the fresh benchmark database on")
    parser.add_argument("--workdir", type=Path, help="where the JSONL file goes (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--batch-size", type=int, help="importer batch size (default: the CLI's)")
    parser.add_argument("--child-import", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(args.child_import, args.child_out, args.batch_size)
        return

    from leadpool.db import Database, embedded
    from leadpool.db.migrate import upgrade
    from leadpool.ingestion.timezone import _index

    _index()  # builds the GeoNames lookup cache once, outside the timed run

    if args.workdir:  # a --workdir not made yet is made (tempfile wants it to exist)
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="leadpool-bench-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        data = workdir / "people.jsonl"
        t0 = time.perf_counter()
        generate(data, args.people, args.seed)
        gen_seconds = time.perf_counter() - t0
        size = data.stat().st_size
        if args.database_url:
            admin = args.database_url
        else:
            (workdir / "embedded").mkdir()
            admin = embedded.server_uri(workdir / "embedded", database="postgres")
        name, uri = fresh_database(admin)
        try:
            db = Database.from_uri(uri)
            upgrade(db)
            db.dispose()
            floor_before = floor(uri, data, args.people)
            result = run_importer(uri, data, workdir, args.batch_size)
            floor_after = floor(uri, data, args.people)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    floor_rate = (floor_before + floor_after) / 2
    import_rate = result["records"] / result["seconds"]
    figures = {
        "people": args.people,
        "file_mb": round(size / 1e6, 1),
        "server": "external" if args.database_url else "embedded",
        "generate_seconds": round(gen_seconds, 1),
        "floor_records_per_s": round(floor_rate),
        "floor_runs_records_per_s": [round(floor_before), round(floor_after)],
        "import_records_per_s": round(import_rate),
        "import_seconds": result["seconds"],
        "ratio": round(import_rate / floor_rate, 3),
        "ratio_goal": 0.3,
        "importer_peak_rss_mb": round(result["maxrss_kb"] / 1024, 1),
        "rss_goal_mb_at_1m": 300,
        "inserted": result["inserted"],
        "merged": result["merged"],
        "unchanged": result["unchanged"],
        "rejected": result["rejected"],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.people:,} people, {figures['file_mb']} MB of JSON lines, {figures['server']} server")
    print(
        f"floor (COPY into jsonb): {floor_rate:,.0f} records/s  (runs: {floor_before:,.0f}, {floor_after:,.0f})"
    )
    print(f"importer:                {import_rate:,.0f} records/s  ({result['seconds']:.1f}s)")
    print(f"ratio: {figures['ratio']:.3f}  (goal >= 0.3)")
    print(f"importer peak RSS: {figures['importer_peak_rss_mb']} MB  (goal < 300 MB at 1,000,000 records)")
    print(
        f"inserted {result['inserted']:,}, merged {result['merged']:,}, "
        f"unchanged {result['unchanged']:,}, rejected {result['rejected']:,}"
    )


if __name__ == "__main__":
    main()
