"""``leadpool companies timeline``: what happened at one company, across its people and agencies."""

from __future__ import annotations

import typer

from leadpool.cli.common import JsonOption, database, handle_errors
from leadpool.cli.timeline_output import AfterOption, LimitOption, NewestFirstOption, print_timeline
from leadpool.db import session_scope
from leadpool.limits import MAX_ID
from leadpool.timeline import company_timeline

app = typer.Typer(no_args_is_help=True, help="Companies: their timeline of touches, replies and pauses.")


@app.command("timeline")
def timeline(
    company_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Company id."),
    json_out: bool = JsonOption,
    limit: int | None = LimitOption,
    newest_first: bool = NewestFirstOption,
    after: str | None = AfterOption,
) -> None:
    """Touches to all the company's people, their replies and opt-outs, and the company's pauses
    (all of it unless --limit is given)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        print_timeline(
            lambda n, pos, newest: company_timeline(s, company_id, limit=n, after=pos, newest_first=newest),
            limit=limit,
            after=after,
            newest_first=newest_first,
            json_out=json_out,
            title=f"company {company_id}",
            timeline=f"company:{company_id}",
        )
