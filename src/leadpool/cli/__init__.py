"""The ``leadpool`` command: a Typer root that mounts one sub-app per domain."""

from __future__ import annotations

import typer

from leadpool.cli import db as db_cli

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The platform's lead pool.")
app.add_typer(db_cli.app, name="db")


def main() -> None:
    app()
