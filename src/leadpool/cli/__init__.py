"""The ``leadpool`` command: a Typer root that mounts one sub-app per domain."""

from __future__ import annotations

import sys

import typer

from leadpool import __version__
from leadpool.cli import agency as agency_cli
from leadpool.cli import campaign as campaign_cli
from leadpool.cli import companies as companies_cli
from leadpool.cli import consent as consent_cli
from leadpool.cli import db as db_cli
from leadpool.cli import demo as demo_cli
from leadpool.cli import event as event_cli
from leadpool.cli import generate as generate_cli
from leadpool.cli import ingest as ingest_cli
from leadpool.cli import insights as insights_cli
from leadpool.cli import jobs as jobs_cli
from leadpool.cli import pool as pool_cli
from leadpool.cli import send as send_cli
from leadpool.cli import serve as serve_cli
from leadpool.cli import settings as settings_cli
from leadpool.cli import webhooks as webhooks_cli
from leadpool.cli.common import handle_errors, json_wanted

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The platform's lead pool.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leadpool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """The platform's lead pool."""
    json_wanted.set(False)  # a command run before in this process (tests) said nothing of this one


app.add_typer(db_cli.app, name="db")
app.add_typer(agency_cli.app, name="agency")
app.add_typer(campaign_cli.app, name="campaign")
app.command("allocate-round")(campaign_cli.allocate_round_cmd)
app.add_typer(jobs_cli.app, name="jobs")
app.command("worker")(jobs_cli.worker_cmd)
app.command("generate")(generate_cli.generate)
app.command("import")(ingest_cli.import_cmd)
app.add_typer(pool_cli.leads_app, name="leads")
app.add_typer(pool_cli.pool_app, name="pool")
app.add_typer(pool_cli.blocklist_app, name="blocklist")
app.add_typer(consent_cli.app, name="consent")
app.add_typer(event_cli.app, name="event")
app.add_typer(send_cli.app, name="send")
app.add_typer(companies_cli.app, name="companies")
app.add_typer(insights_cli.app, name="insights")
app.add_typer(webhooks_cli.app, name="webhooks")
app.command("demo")(demo_cli.demo)
app.command("serve")(serve_cli.serve)
app.command("settings")(settings_cli.settings_cmd)


def main() -> None:
    # a setting read outside a command's handle_errors (a bad value is the same mistake wherever
    # it is read): one line naming it, never a traceback printing its value
    try:
        with handle_errors():
            app()
    except typer.Exit as e:  # raised by handle_errors, outside the command (click handles those inside)
        sys.exit(e.exit_code)
