"""``leadpool leads show``, ``leadpool pool stats``, ``leadpool blocklist add`` and the blocked
domains (``leadpool blocklist domain-add|domain-remove|domains``): what the pool holds."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from leadpool.cli.common import JsonOption, console, database, handle_errors, print_json
from leadpool.db import session_scope
from leadpool.errors import NotFound
from leadpool.limits import MAX_ID
from leadpool.models import Agency
from leadpool.pool import find_lead, lead_detail, pool_stats
from leadpool.privacy import domains
from leadpool.privacy.blocklist import blocklist

leads_app = typer.Typer(no_args_is_help=True, help="Leads in the pool.")
pool_app = typer.Typer(no_args_is_help=True, help="The pool as a whole.")
blocklist_app = typer.Typer(
    no_args_is_help=True, help="The platform blocklist (people never contacted again) and blocked domains."
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
        None,
        "--lead",
        min=1,
        max=MAX_ID,
        help="A lead: its email, LinkedIn URL, personal and previous emails (its phone only with --phone).",
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


_AGENCY = typer.Option(
    None,
    "--agency",
    min=1,
    max=MAX_ID,
    help="An agency's own list (default: the platform's, for every agency).",
)


def _known_agency(session: Session, agency: int | None) -> None:
    """NotFound for an agency that does not exist: its list would read as merely empty."""
    if agency is not None and session.get(Agency, agency) is None:
        raise NotFound(f"agency {agency} not found")


@blocklist_app.command("domain-add")
def domain_add(
    domain: str = typer.Argument(..., help="The domain (acme.com; a URL is read as its host)."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit log)."),
    actor: str = typer.Option(..., "--actor", help="Who asks (kept in the audit log)."),
    agency: int | None = _AGENCY,
    json_out: bool = JsonOption,
) -> None:
    """Contact nobody at a domain (its email domain or a parent, its company's domain): the gate
    denies `domain_blocked`, allocation skips them, and the enrollments it covers end."""
    with handle_errors(), database() as db, session_scope(db) as s:
        _known_agency(s, agency)
        done = domains.block_domain(s, domain, reason=reason, actor=actor, agency_id=agency)
    if json_out:
        print_json(done.as_dict())
    elif not done.created:
        console.print(
            f"{done.domain} was already blocked on that list (since {done.created_at:%Y-%m-%d}); nothing changed"
        )
    else:
        whose = f"agency {agency}'s list" if agency is not None else "the platform's list"
        console.print(
            f"{done.domain} blocked on {whose}; {done.enrollments_ended} active enrollment(s) ended"
        )


@blocklist_app.command("domain-remove")
def domain_remove(
    domain: str = typer.Argument(..., help="The domain to lift the block of."),
    actor: str = typer.Option(..., "--actor", help="Who asks (kept in the audit log)."),
    agency: int | None = _AGENCY,
    json_out: bool = JsonOption,
) -> None:
    """Lift a domain block: the gate no longer denies its leads domain_blocked (enrollments it ended
    stay ended, and the rest periods their ending started run their course)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        _known_agency(s, agency)
        done = domains.unblock_domain(s, domain, actor=actor, agency_id=agency)
    if json_out:
        print_json(done.as_dict())
    else:
        console.print(f"{done.domain} is no longer blocked on that list")


@blocklist_app.command("domains")
def domain_list(
    agency: int | None = typer.Option(None, "--agency", min=1, max=MAX_ID, help="Only this agency's list."),
    json_out: bool = JsonOption,
) -> None:
    """List the blocked domains (every list, or one agency's)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        _known_agency(s, agency)
        rows = domains.blocked_domains(s, agency_id=agency, platform=agency is None)
    if json_out:
        print_json([r.as_dict() for r in rows])
        return
    if not rows:
        console.print("no domain is blocked")
    for r in rows:
        whose = f"agency {r.agency_id}" if r.agency_id is not None else "platform"
        console.print(
            f"{r.domain} ({whose}, since {r.created_at:%Y-%m-%d}, by {r.actor}): {r.reason}", soft_wrap=True
        )
