"""``leadpool import FILE...``: load Apollo JSON responses, JSON Lines and CSV exports into the pool."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from leadpool.cli.common import JsonOption, console, database, err_console, handle_errors, print_json
from leadpool.ingestion import ImportResult, import_files
from leadpool.ingestion.service import DEFAULT_BATCH_SIZE


def import_cmd(
    files: list[Path] = typer.Argument(..., help="Apollo JSON responses, JSON Lines or CSV exports."),
    rejects: Path | None = typer.Option(
        None,
        "--rejects",
        help="Where to write rejected records (default: <home>/rejects/import-<time>.jsonl).",
    ),
    batch_size: int = typer.Option(
        DEFAULT_BATCH_SIZE, "--batch-size", min=1, help="Records per transaction."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Import people into the pool: dedupe, merge, keep every raw record; bad records go to a rejects file."""
    total_bytes = sum(p.stat().st_size for p in files if p.is_file())
    with (
        handle_errors(),
        database() as db,
        Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=json_out,
        ) as progress,
    ):
        task = progress.add_task("import", total=total_bytes or None, rows=0, rate="-")
        rows = 0

        def advance(records: int, nbytes: int) -> None:
            nonlocal rows
            rows += records
            elapsed = progress.tasks[0].elapsed or 0.0
            rate = f"{rows / elapsed:,.0f}" if elapsed else "-"
            progress.update(task, advance=nbytes, rows=rows, rate=rate)

        result = import_files(db, files, progress=advance, rejects_path=rejects, batch_size=batch_size)
        elapsed = progress.tasks[0].elapsed or 0.0
    _report(result, elapsed, json_out)


def _report(result: ImportResult, elapsed: float, json_out: bool) -> None:
    summary = result.summary()
    summary["seconds"] = round(elapsed, 3)
    summary["records_per_second"] = round(result.records / elapsed) if elapsed else None
    if json_out:
        summary["rejections"] = [
            {"file": r.source, "line": r.line_no, "record": r.index, "reason": r.reason}
            for r in result.rejected
        ]
        summary["conflicts"] = [
            {
                "file": c.source,
                "line": c.line_no,
                "record": c.index,
                "lead_id": c.lead_id,
                "other_lead_id": c.other_lead_id,
                "identity": c.identity,
            }
            for c in result.conflicts
        ]
        print_json(summary)
        return
    console.print(
        Text.from_markup(
            f"[bold]{result.records:,}[/bold] records in {elapsed:.1f}s: "
            f"[green]{result.inserted:,} inserted[/green], {result.updated:,} updated, "
            f"{result.merged:,} merged into another record's lead, {result.unchanged:,} unchanged, "
            f"[red]{result.rejected_count:,} rejected[/red]"
        )
    )
    console.print(
        f"companies: {result.companies_inserted:,} inserted, {result.companies_updated:,} updated; "
        f"raw payloads stored: {result.raw_payloads:,}"
    )
    if result.conflicts:
        console.print(
            f"{len(result.conflicts):,} records matched two leads; they merged into the strongest match "
            "(apollo id > email > linkedin) and left the other lead's identity in place"
        )
    if result.rejects_path:
        console.print(f"rejected records (line and reason): {result.rejects_path}")
