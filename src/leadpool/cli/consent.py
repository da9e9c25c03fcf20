"""``leadpool consent grant|revoke|list``: a person's permission to one agency, where the gate's
policy asks for it (``consent_required``; without a live one the gate denies ``no_consent``)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from leadpool.cli.common import JsonOption, console, database, handle_errors, instant, print_json
from leadpool.db import session_scope
from leadpool.errors import InvalidInput
from leadpool.limits import EARLIEST, LATEST, MAX_ID
from leadpool.models import CHANNELS, CONSENT_BASES
from leadpool.privacy import consent
from leadpool.privacy.consent import ConsentRecord

app = typer.Typer(
    no_args_is_help=True,
    help="Consents: a person's permission to one agency, where the gate's policy asks for one.",
)

_ACTOR = typer.Option("cli", "--actor", help="Who records it (kept on the consent and in the audit log).")


def _instant(value: str | None, option: str) -> datetime | None:
    at = instant(value, option)
    if at is not None and not EARLIEST <= at < LATEST:  # every gate check of the lead reads it back
        raise InvalidInput(f"{option} {value!r} is not between 1970 and 2999")
    return at


def _json(record: ConsentRecord) -> dict[str, object]:
    return record.as_dict() | {"changed": record.changed}


def _utc(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else "-"


def _day(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d}" if value else "-"


def _state(record: ConsentRecord, now: datetime) -> Text:
    if record.revoked_at is not None:
        return Text("revoked", style="red")
    if record.live_at(now):
        return Text("live", style="green")
    if record.granted_at > now:
        return Text("not yet", style="yellow")
    return Text("expired", style="dim")


@app.command("grant")
def grant(
    lead_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Lead id."),
    agency: int = typer.Option(..., "--agency", min=1, max=MAX_ID, help="The agency it is given to."),
    basis: str = typer.Option(..., "--basis", help=f"One of: {', '.join(CONSENT_BASES)} (CASL's two kinds)."),
    source: str = typer.Option(
        ..., "--source", help="Where it was given: a form, a call, a reply (kept as proof)."
    ),
    channel: str | None = typer.Option(
        None, "--channel", help=f"One of: {', '.join(CHANNELS)} (default: every channel)."
    ),
    evidence: str | None = typer.Option(None, "--evidence", help="A reference to the proof, for audits."),
    granted_at: str | None = typer.Option(
        None, "--granted-at", help="When it was given: ISO time with offset (default now)."
    ),
    expires_at: str | None = typer.Option(
        None, "--expires-at", help="When it lapses: ISO time with offset (default: until revoked)."
    ),
    actor: str = _ACTOR,
    json_out: bool = JsonOption,
) -> None:
    """Record that the person agreed to be contacted by the agency: where the policy asks for
    consent (by default email to Germany and Canada, texts to Canada) the gate allows it again."""
    with handle_errors():
        start = _instant(granted_at, "--granted-at")
        end = _instant(expires_at, "--expires-at")
        with database() as db, session_scope(db) as s:
            done = consent.grant_consent(
                s,
                lead_id=lead_id,
                agency_id=agency,
                basis=basis,
                source=source,
                actor=actor,
                channel=channel,
                evidence=evidence,
                granted_at=start,
                expires_at=end,
            )
    if json_out:
        print_json(_json(done))
        return
    until = f"until {_utc(done.expires_at)}" if done.expires_at else "until revoked"
    console.print(
        f"consent {done.id} recorded: lead {done.lead_id} to agency {done.agency_id}, "
        f"{done.channel or 'every channel'}, {done.basis}, from {_utc(done.granted_at)} {until}",
        soft_wrap=True,
    )


@app.command("revoke")
def revoke(
    consent_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Consent id (see leadpool consent list)."),
    reason: str = typer.Option(..., "--reason", help="Why (kept on the consent and in the audit log)."),
    agency: int | None = typer.Option(
        None, "--agency", min=1, max=MAX_ID, help="Only if it is this agency's consent."
    ),
    actor: str = _ACTOR,
    json_out: bool = JsonOption,
) -> None:
    """Revoke a consent (the person withdrew it); the gate denies `no_consent` again where the
    policy asks for one. Revoking one revoked already changes nothing."""
    with handle_errors(), database() as db, session_scope(db) as s:
        done = consent.revoke_consent(s, consent_id, actor=actor, reason=reason, agency_id=agency)
    if json_out:
        print_json(_json(done))
    elif not done.changed:
        console.print(f"consent {done.id} was already revoked (on {_utc(done.revoked_at)}); nothing changed")
    else:
        console.print(f"consent {done.id} revoked: lead {done.lead_id}, agency {done.agency_id}")


@app.command("list")
def list_cmd(
    lead_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Lead id."),
    agency: int | None = typer.Option(None, "--agency", min=1, max=MAX_ID, help="Only this agency's."),
    json_out: bool = JsonOption,
) -> None:
    """The lead's consents, oldest first, revoked and expired ones too."""
    with handle_errors(), database() as db, session_scope(db) as s:
        rows = consent.consents_of(s, lead_id, agency_id=agency)
    now = datetime.now(UTC)
    if json_out:
        print_json([r.as_dict(now) for r in rows])
        return
    if not rows:
        whose = f" to agency {agency}" if agency is not None else ""
        console.print(f"lead {lead_id} has no consent{whose}")
        return
    console.print(_table(lead_id, rows, now))


def _table(lead_id: int, rows: list[ConsentRecord], now: datetime) -> Table:
    # dates (UTC) only and no borders, so the source keeps a readable width at 80 columns
    table = Table(
        title=f"consents of lead {lead_id}",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("agency", justify="right", no_wrap=True)
    for name in ("channel", "basis", "from", "until", "state"):
        table.add_column(name, no_wrap=True)
    table.add_column("source", overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id),
            str(r.agency_id),
            r.channel or "all",
            r.basis,
            _day(r.granted_at),
            _day(r.expires_at),
            _state(r, now),
            r.source,
        )
    return table
