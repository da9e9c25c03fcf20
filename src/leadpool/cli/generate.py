"""``leadpool generate``: write Apollo-shaped sample people as JSON Lines."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadpool.apollo.generate import GenerateStats, generate_people
from leadpool.cli.common import JsonOption, console, err_console, fail, print_json


def generate(
    people: int = typer.Option(..., "--people", "-n", min=0, help="How many person records to write."),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed; the same seed writes the same file."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (.jsonl), one person object per line."),
    duplicate_rate: float = typer.Option(
        0.03,
        "--duplicate-rate",
        min=0.0,
        max=1.0,
        help="Share of records that re-describe an earlier person.",
    ),
    json_out: bool = JsonOption,
) -> None:
    """Generate deterministic Apollo-shaped people (people/match shape) into a JSON Lines file."""
    stats = GenerateStats()
    tmp = out.with_name(out.name + ".partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # written under a temporary name and renamed, so an interrupted run leaves no half file
        with (
            tmp.open("wb") as fh,
            Progress(
                TextColumn("generating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} rows/s"),
                TimeRemainingColumn(),
                console=err_console,
                transient=json_out,
                disable=people == 0,
            ) as progress,
        ):
            task = progress.add_task("generate", total=people, rate="-")
            buf: list[bytes] = []
            for i, person in enumerate(
                generate_people(people, seed, duplicate_rate=duplicate_rate, stats=stats)
            ):
                buf.append(orjson.dumps(person))
                if len(buf) == 2000:
                    fh.write(b"\n".join(buf) + b"\n")
                    buf.clear()
                    elapsed = progress.tasks[0].elapsed or 0.0
                    progress.update(
                        task, completed=i + 1, rate=f"{(i + 1) / elapsed:,.0f}" if elapsed else "-"
                    )
            if buf:
                fh.write(b"\n".join(buf) + b"\n")
            progress.update(task, completed=people)
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise fail(f"cannot write {out}: {e.strerror or e}") from e
    summary = {"out": str(out), "seed": seed, **stats.as_dict()}
    if json_out:
        print_json(summary)
    else:
        console.print(
            f"wrote {stats.people:,} people ({stats.distinct_people:,} distinct, "
            f"{stats.duplicates:,} duplicates) from {stats.companies_in_pool:,} companies to {out}"
        )
