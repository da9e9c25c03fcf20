"""``leadpool companies timeline``: what happened at one company, across its people and agencies."""

from __future__ import annotations

import typer
from rich.table import Table

from leadpool.cli.common import JsonOption, console, database, handle_errors, print_json
from leadpool.db import session_scope
from leadpool.timeline import company_timeline

app = typer.Typer(no_args_is_help=True, help="Companies: their timeline of touches, replies and pauses.")


@app.command("timeline")
def timeline(company_id: int = typer.Argument(..., help="Company id."), json_out: bool = JsonOption) -> None:
    """Touches to all the company's people, their replies and opt-outs, and the company's pauses."""
    with handle_errors(), database() as db, session_scope(db) as s:
        entries = company_timeline(s, company_id)
    if json_out:
        print_json([e.as_dict() for e in entries])
        return
    table = Table("at", "what", "detail", title=f"company {company_id}")
    for e in entries:
        shown = {k: v for k, v in e.detail.items() if v not in (None, [], {})}
        table.add_row(
            e.at.isoformat(timespec="seconds"), e.kind, ", ".join(f"{k}={v}" for k, v in shown.items())
        )
    console.print(table)
