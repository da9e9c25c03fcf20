"""``leadpool leads show`` and ``leadpool pool stats``: what the pool holds."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from leadpool.cli.common import JsonOption, console, database, handle_errors, print_json
from leadpool.db import session_scope
from leadpool.pool import find_lead, lead_detail, pool_stats

leads_app = typer.Typer(no_args_is_help=True, help="Leads in the pool.")
pool_app = typer.Typer(no_args_is_help=True, help="The pool as a whole.")


@leads_app.command("show")
def show(
    ref: str = typer.Argument(..., help="Lead id, email, LinkedIn URL or Apollo person id."),
    json_out: bool = JsonOption,
) -> None:
    """Print one lead with every stored field, its company and its raw payload ids."""
    with handle_errors(), database() as db, session_scope(db) as s:
        detail = lead_detail(s, find_lead(s, ref))
    if json_out:
        print_json(detail)
        return
    company = detail.pop("company")
    table = Table(title=f"lead {detail['id']}", show_header=False)
    for key, value in detail.items():
        table.add_row(key, _cell(value))
    console.print(table)
    if company is not None:
        ctable = Table(title=f"company {company['id']}", show_header=False)
        for key, value in company.items():
            ctable.add_row(key, _cell(value))
        console.print(ctable)


def _cell(value: Any) -> str | Text:
    if value is None:
        return Text("-", style="dim")
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


@pool_app.command("stats")
def stats(
    top: int = typer.Option(15, "--top", min=1, help="Largest groups shown per breakdown (text output)."),
    json_out: bool = JsonOption,
) -> None:
    """Counts of leads by industry, country, seniority and email status, plus totals."""
    with handle_errors(), database() as db, session_scope(db) as s:
        result = pool_stats(s, top=None if json_out else top)
    if json_out:
        print_json(result)
        return
    print_stats(result)


def print_stats(result: dict[str, Any]) -> None:
    totals = Table(title="pool", show_header=False)
    for key, value in result["totals"].items():
        totals.add_row(key, f"{value:,}")
    console.print(totals)
    for name, rows in result.items():
        if name == "totals":
            continue
        table = Table(title=f"leads by {name}")
        table.add_column(name)
        table.add_column("leads", justify="right")
        for row in rows:
            table.add_row("(unknown)" if row["value"] is None else str(row["value"]), f"{row['leads']:,}")
        console.print(table)
