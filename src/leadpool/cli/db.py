"""``leadpool db``: schema migrations."""

from __future__ import annotations

import typer

from leadpool.cli.common import JsonOption, console, database, print_json
from leadpool.db.migrate import current

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command("upgrade")
def upgrade_cmd(json_out: bool = JsonOption) -> None:
    """Apply every pending migration."""
    with database(migrate=True) as db:
        heads = current(db)
    if json_out:
        print_json({"revisions": heads})
    else:
        console.print(f"database at revision {', '.join(heads)}")


@app.command("current")
def current_cmd(json_out: bool = JsonOption) -> None:
    """Show the applied revision."""
    with database(migrate=False) as db:
        heads = current(db)
    if json_out:
        print_json({"revisions": heads})
    else:
        console.print(", ".join(heads) or "(empty database)")
