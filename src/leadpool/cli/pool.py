"""``leadpool leads show``, ``leadpool pool stats`` and ``leadpool blocklist add``: what the pool holds."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from leadpool.cli.common import JsonOption, console, database, handle_errors, print_json
from leadpool.db import session_scope
from leadpool.limits import MAX_ID
from leadpool.pool import find_lead, lead_detail, pool_stats
from leadpool.privacy.blocklist import blocklist

leads_app = typer.Typer(no_args_is_help=True, help="Leads in the pool.")
pool_app = typer.Typer(no_args_is_help=True, help="The pool as a whole.")
blocklist_app = typer.Typer(
    no_args_is_help=True, help="The platform blocklist: people never contacted again."
)


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


@blocklist_app.command("add")
def blocklist_add(
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit log)."),
    actor: str = typer.Option(..., "--actor", help="Who asks (kept in the audit log)."),
    lead: int | None = typer.Option(
        None, "--lead", min=1, max=MAX_ID, help="A lead: its email, LinkedIn URL, personal and previous emails (its phone only with --phone)."
    ),
    email: str | None = typer.Option(None, "--email", help="An email address (the pool may not hold it)."),
    phone: str | None = typer.Option(None, "--phone", help="A phone number in E.164 (+15551234567)."),
    linkedin: str | None = typer.Option(None, "--linkedin", help="A LinkedIn profile URL."),
    json_out: bool = JsonOption,
) -> None:
    """Put a person on the platform blocklist for good: every lead holding one of the addresses is
    denied `blocklisted` from now on, and a later import of them is born blocklisted."""
    with handle_errors(), database() as db, session_scope(db) as s:
        result = blocklist(
            s, reason=reason, actor=actor, lead_id=lead, email=email, phone=phone, linkedin=linkedin
        )
    if json_out:
        print_json(asdict(result))
        return
    leads = ", ".join(str(i) for i in result.lead_ids) or "none in the pool yet"
    console.print(
        f"blocklisted: {result.suppressions_added} addresses added to the list; leads {leads} "
        f"({result.newly_blocklisted} newly), {result.enrollments_ended} enrollments ended"
    )
