"""``leadpool webhooks reconcile``: read the providers' suppression lists and record what webhooks missed."""

from __future__ import annotations

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from leadpool.cli.common import JsonOption, console, database, err_console, handle_errors, print_json
from leadpool.webhooks.reconcile import PROVIDERS, ProviderSummary, reconcile

app = typer.Typer(no_args_is_help=True, help="Provider webhooks and suppression reconciliation.")


@app.command("reconcile")
def reconcile_cmd(
    provider: list[str] = typer.Option(
        [],
        "--provider",
        help=f"Only this provider ({', '.join(PROVIDERS)}); repeat for several. Default: every configured one.",
    ),
    full: bool = typer.Option(False, "--full", help="Read every list whole, ignoring the high-water marks."),
    json_out: bool = JsonOption,
) -> None:
    """Record the entries of the providers' suppression lists (bounces, complaints, unsubscribes) as events.

    Idempotent: what was recorded before, by a webhook or an earlier run, changes nothing.

    Exits 1 when a provider failed (the others still ran)."""
    with (
        handle_errors(),
        database() as db,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[read]:,} entries"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar,
    ):
        tasks: dict[str, TaskID] = {}

        def advance(name: str, scope: str, read: int) -> None:
            label = f"{name} {scope}"
            if label not in tasks:
                tasks[label] = bar.add_task(label, read=0)
            bar.update(tasks[label], read=read)

        summaries = reconcile(db, providers=provider or None, full=full, progress=advance)
    if json_out:
        print_json({"providers": [s.as_dict() for s in summaries]})
    else:
        _print(summaries)
    if any(s.error for s in summaries):
        raise typer.Exit(1)


def _print(summaries: list[ProviderSummary]) -> None:
    if not summaries:
        console.print("no provider configured (LEADPOOL_RECONCILE_*; see `leadpool settings`)")
        return
    for s in summaries:
        console.print(
            Text.assemble(
                (f"{s.provider}: ", "bold"),
                f"{s.entries_read:,} entries read, ",
                (f"{s.events_recorded:,} events recorded", "green"),
                f", {s.duplicates:,} duplicates, {s.skipped:,} skipped, {s.older:,} before the mark, ",
                (f"{len(s.rejected):,} rejected", "red" if s.rejected else ""),
            )
        )
        for reason in s.rejected[:10]:
            console.print(f"  rejected: {reason}")
        if len(s.rejected) > 10:
            console.print(f"  ... and {len(s.rejected) - 10:,} more (--json lists them all)")
        if s.error:
            err_console.print(Text.assemble(("error:", "red"), " ", s.error))
