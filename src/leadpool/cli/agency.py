"""``leadpool agency``: create, list, cancel and reactivate agencies."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from leadpool.allocation import agencies
from leadpool.cli.common import JsonOption, console, database, handle_errors, print_json
from leadpool.cli.policy import ActorOption, ClearOption, PolicyArgument, set_policy
from leadpool.db import session_scope
from leadpool.limits import MAX_ID
from leadpool.models import Agency

app = typer.Typer(no_args_is_help=True, help="Agencies: the platform's customers.")

# bounded as the database holds ids, so one too big is named here, not refused by PostgreSQL
_AGENCY_ID = typer.Argument(..., min=1, max=MAX_ID, help="Agency id.")


def agency_json(a: Agency) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "status": a.status,
        "cancelled_at": a.cancelled_at,
        "created_at": a.created_at,
    }


@app.command("create")
def create_cmd(
    name: str = typer.Argument(..., help="Unique agency name."), json_out: bool = JsonOption
) -> None:
    """Create an active agency and its API key (shown this once; only its hash is stored)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        out = _with_new_key(s, agencies.create_agency(s, name))
    _print_keyed(out, json_out, f"agency {out['id']} created: {out['name']}")


@app.command("rotate-key")
def rotate_key_cmd(agency_id: int = _AGENCY_ID, json_out: bool = JsonOption) -> None:
    """Give the agency a new API key (shown this once); the old one stops working at once."""
    with handle_errors(), database() as db, session_scope(db) as s:
        out = _with_new_key(s, agencies.get_agency(s, agency_id))
    _print_keyed(out, json_out, f"agency {agency_id}: new API key; the old one no longer works")


def _with_new_key(session: Session, row: Agency) -> dict[str, Any]:
    from leadpool.api.auth import issue_agency_key

    return {**agency_json(row), "api_key": issue_agency_key(session, row)}


def _print_keyed(out: dict[str, Any], json_out: bool, headline: str) -> None:
    if json_out:
        print_json(out)
        return
    console.print(headline)
    console.print("API key (shown only now; only its hash is stored):")
    console.print(Text.assemble("  ", (out["api_key"], "bold")), soft_wrap=True)


@app.command("list")
def list_cmd(
    status: str | None = typer.Option(None, help="Only agencies in this status (active, cancelled)."),
    json_out: bool = JsonOption,
) -> None:
    """List agencies."""
    with handle_errors(), database() as db, session_scope(db) as s:
        rows = [agency_json(a) for a in agencies.list_agencies(s, status)]
    if json_out:
        print_json(rows)
        return
    table = Table("id", "name", "status", "cancelled at")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["status"], str(r["cancelled_at"] or ""))
    console.print(table)


@app.command("cancel")
def cancel_cmd(agency_id: int = _AGENCY_ID, json_out: bool = JsonOption) -> None:
    """Cancel an agency: end its enrollments and release its leads (converted leads stay)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        res = agencies.cancel_agency(s, agency_id, actor="cli")
    out = {
        "id": agency_id,  # the API's names (id, kept) alongside the CLI's first ones
        "agency_id": agency_id,
        "status": "cancelled",
        "released": len(res.released_lead_ids),
        "kept": res.kept_converted,
        "kept_converted": res.kept_converted,
        "enrollments_ended": res.enrollments_ended,
        "companies_released": res.companies_released,
        "quarantine_until": res.quarantine_until,
    }
    if json_out:
        print_json(out)
    else:
        console.print(
            f"agency {agency_id} cancelled: {out['released']} leads released "
            f"(quarantined until {res.quarantine_until:%Y-%m-%d}), {res.kept_converted} converted kept, "
            f"{res.enrollments_ended} enrollments ended"
        )


@app.command("reactivate")
def reactivate_cmd(agency_id: int = _AGENCY_ID, json_out: bool = JsonOption) -> None:
    """Make a cancelled agency active again (released leads are not given back)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        out = agency_json(agencies.reactivate_agency(s, agency_id))
    if json_out:
        print_json(out)
    else:
        console.print(f"agency {agency_id} is active again; its campaigns stay paused until resumed")


@app.command("set-policy")
def set_policy_cmd(
    agency_id: int = _AGENCY_ID,
    policy: str | None = PolicyArgument,
    clear: bool = ClearOption,
    actor: str = ActorOption,
    json_out: bool = JsonOption,
) -> None:
    """Set the agency's gate policy override (caps, windows, allowed email statuses...), validated
    against the levels above and its campaigns' own; it holds from the next check. `send policy --campaign ID` shows it merged."""
    set_policy("agency", agency_id, policy, clear, actor, json_out)
