"""``leadpool send check|confirm|cancel|expire|prune-decisions|paused-senders|resume-sender|
sender-claims|claim-sender|release-sender|domain-guard|dead-domains|revive-domain|policy|reasons``: the pre-send gate on the command line.

``send check`` exits 0 when allowed and 3 when denied, so scripts can branch on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from leadpool.api.settings import ApiSettings
from leadpool.cli.common import (
    JsonOption,
    console,
    database,
    err_console,
    handle_errors,
    instant,
    print_json,
    spinner,
)
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.events import dead_domains, sender_claims, senders, sending_domains
from leadpool.events.settings import get_event_settings
from leadpool.gate import cancel, check, confirm_sent, resolve
from leadpool.gate.policy import CHANNELS
from leadpool.gate.reasons import REASON_CODES, REASON_SUMMARIES, GateDecision
from leadpool.gate.retention import PruneResult, count_denials, cutoff_for, prune_denials
from leadpool.gate.settings import MAX_DAYS, MIN_DAYS, get_retention_settings
from leadpool.gate.tasks import expire_all
from leadpool.limits import MAX_ID
from leadpool.models import Agency, Campaign
from leadpool.privacy import unsubscribe as one_click

app = typer.Typer(no_args_is_help=True, help="The pre-send gate: check, reserve, confirm, cancel.")

DENIED_EXIT = 3

# bounded as the database holds ids, so one too big is named here, not refused by PostgreSQL
_TOUCH_ID = typer.Argument(..., min=1, max=MAX_ID, help="The touch id a check reserved.")


def _print_decision(d: GateDecision) -> None:
    if d.allowed:
        touch = f" (reserved touch {d.touch_id})" if d.touch_id else ""
        console.print(Text.assemble(("allow", "green"), f"{touch}{' [replayed]' if d.replayed else ''}"))
        return
    when = f" (possible again from {d.retry_after.astimezone(UTC).isoformat()})" if d.retry_after else ""
    console.print(Text.assemble(("deny", "red"), when, " [replayed]" if d.replayed else ""))
    for r in d.reasons:
        retry = f"  (retry after {r.retry_after.astimezone(UTC).isoformat()})" if r.retry_after else ""
        console.print(f"  {r.code}: {r.message}{retry}")


@app.command("check")
def check_cmd(
    lead: int = typer.Option(..., "--lead", min=1, max=MAX_ID, help="Lead id."),
    campaign: int = typer.Option(..., "--campaign", min=1, max=MAX_ID, help="Campaign id."),
    channel: str = typer.Option(..., "--channel", help=f"One of: {', '.join(CHANNELS)}."),
    sender: str | None = typer.Option(None, "--sender", help="Mailbox, LinkedIn account or number."),
    at: str | None = typer.Option(None, "--at", help="ISO time with offset (default now)."),
    no_reserve: bool = typer.Option(False, "--no-reserve", help="Only ask; reserve nothing."),
    idempotency_key: str | None = typer.Option(
        None, "--idempotency-key", help="Asking again with the same key returns the same answer and touch."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Ask the gate whether a campaign may touch a lead on a channel now (and reserve the touch)."""
    with handle_errors():
        when = instant(at, "--at")
        # read before the check: a bad setting must fail before a touch is reserved
        public_url = ApiSettings().public_url if channel == "email" and not no_reserve else None
        with database() as db, session_scope(db) as s:
            d = check(
                s,
                lead_id=lead,
                campaign_id=campaign,
                channel=channel,
                sender=sender,
                at=when,
                reserve=not no_reserve,
                idempotency_key=idempotency_key,
            )
        # the API hands the link out with every allowed email, as here, when the public address is known
        link = one_click.link(public_url, d.touch_id) if public_url and d.allowed and d.touch_id else None
    if json_out:
        print_json(d.as_dict() | {"unsubscribe_url": link})  # null without one, as the API gives it
    else:
        _print_decision(d)
        if link:
            console.print(f"one-click unsubscribe link: {link}")
    if not d.allowed:
        raise typer.Exit(DENIED_EXIT)


@app.command("confirm")
def confirm_cmd(
    touch_id: int = _TOUCH_ID,
    provider_message_id: str = typer.Option(..., "--provider-message-id", help="The provider's message id."),
    at: str | None = typer.Option(None, "--at", help="When it was sent, ISO with offset (default now)."),
    json_out: bool = JsonOption,
) -> None:
    """Mark a reserved touch as sent."""
    with handle_errors():
        when = instant(at, "--at")
        with database() as db, session_scope(db) as s:
            t = confirm_sent(s, touch_id, provider_message_id, at=when)
    if json_out:
        print_json(t.as_dict())
    else:
        console.print(f"touch {t.id} is {t.state} (message {t.provider_message_id})")


@app.command("cancel")
def cancel_cmd(
    touch_id: int = _TOUCH_ID,
    json_out: bool = JsonOption,
) -> None:
    """Cancel a reserved touch so it stops counting against the caps."""
    with handle_errors(), database() as db, session_scope(db) as s:
        t = cancel(s, touch_id)
    if json_out:
        print_json(t.as_dict())
    else:
        console.print(f"touch {t.id} is {t.state}")


@app.command("expire")
def expire_cmd(
    at: str | None = typer.Option(None, "--at", help="ISO instant to expire as of (default now)."),
    json_out: bool = JsonOption,
) -> None:
    """Mark reservations past their TTL expired (they already stopped counting); the worker's
    job does this every minute."""
    with handle_errors(), database() as db:
        n = expire_all(db, at=instant(at, "--at"))
    if json_out:
        print_json({"expired": n})
    else:
        console.print(f"{n} reservation(s) marked expired")


@app.command("prune-decisions")
def prune_decisions_cmd(
    older_than_days: int | None = typer.Option(
        None,
        "--older-than-days",
        min=MIN_DAYS,
        max=MAX_DAYS,
        help=f"Delete denials older than this many days ({MIN_DAYS} to {MAX_DAYS}; default: the "
        "retention setting, 90 days unless set otherwise, see leadpool settings).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be deleted; delete nothing."),
    actor: str = typer.Option("cli", "--actor", help="Who runs it (kept in the audit log)."),
    json_out: bool = JsonOption,
) -> None:
    """Delete denied decisions older than the retention period, a chunk per transaction (allowed
    ones are kept); the worker's daily job does the same."""
    with handle_errors():
        # a bad setting is refused before the database is opened
        days = get_retention_settings().denials_days if older_than_days is None else older_than_days
        if not actor.strip():
            raise InvalidInput("--actor must not be empty")
        with database() as db:
            if dry_run:
                # counting a large table takes a while too
                with spinner(json_out) as progress:
                    progress.add_task("counting old denials", total=None)
                    result = prune_denials(db, older_than_days=days, dry_run=True)
            else:
                result = _prune_with_progress(db, days, actor.strip(), transient=json_out)
    if json_out:
        print_json(result.as_dict())
        return
    cutoff = f"{result.cutoff.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if result.dry_run:
        console.print(
            f"would delete {result.would_delete:,} denied decision(s) older than {result.older_than_days} "
            f"days (before {cutoff}), and {result.allocation_keys_would_delete or 0:,} allocation "
            "idempotency key(s); nothing was deleted"
        )
    else:
        console.print(
            f"deleted {result.deleted:,} denied decision(s) older than {result.older_than_days} days "
            f"(before {cutoff}) in {result.chunks} chunk(s); allowed decisions are kept; "
            f"{result.allocation_keys_deleted:,} allocation idempotency key(s) deleted"
        )


def _prune_with_progress(db: Database, days: int, actor: str, *, transient: bool) -> PruneResult:
    """The run, with a bar on stderr (wiped at the end under --json, never turned off: a machine's
    run is as long as a person's): counted first (an index range of the denials only), so the
    bar has an end; rows a run meanwhile finds beyond the count are deleted all the same."""
    now = datetime.now(UTC)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
    ) as progress:
        task = progress.add_task("counting", total=None, rate="-")
        with session_scope(db) as s:
            total = count_denials(s, cutoff_for(days, now))
        progress.update(task, description="deleting denials", total=total)

        def advance(n: int) -> None:
            elapsed = progress.tasks[0].elapsed or 0.0
            done = progress.tasks[0].completed + n
            progress.update(task, advance=n, rate=f"{done / elapsed:,.0f}" if elapsed else "-")

        return prune_denials(db, older_than_days=days, now=now, actor=actor, on_chunk=advance)


@app.command("paused-senders")
def paused_senders_cmd(json_out: bool = JsonOption) -> None:
    """List the sending accounts a sender guard paused (bounces, complaints, policy blocks), and why."""
    with handle_errors(), database() as db, session_scope(db) as s:
        rows = senders.paused_senders(s, at=datetime.now(UTC))
    if json_out:
        print_json([r.as_dict() for r in rows])
        return
    if not rows:
        console.print("no sender is paused")
        return
    for r in rows:  # one line each: a table of five columns wraps every cell at 80 columns
        until = f"until {r.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if r.until else "until resumed"
        counted = ", ".join(f"{k} {v}" for k, v in r.detail.items())
        since = f"{r.paused_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        console.print(f"{r.sender}: {r.reason} since {since}, {until} ({counted})", soft_wrap=True)


@app.command("resume-sender")
def resume_sender_cmd(
    sender: str = typer.Argument(
        ...,
        help="The sender as checks name it (a mailbox, an account, a number), @domain for a sending "
        "domain, or as `send paused-senders` lists it (email:sdr1@agency.example, domain:agency.example).",
    ),
    channel: str = typer.Option("email", "--channel", help=f"One of: {', '.join(CHANNELS)}."),
    actor: str = typer.Option(..., "--actor", help="Who resumes it (kept in the audit log)."),
    json_out: bool = JsonOption,
) -> None:
    """End a sender's pause, once its cause is dealt with (a list cleaned, a reputation restored)."""
    with handle_errors():
        if channel not in CHANNELS:
            raise InvalidInput(f"--channel: {channel!r} is not one of {', '.join(CHANNELS)}")
        if not sender.strip() or not actor.strip():
            raise InvalidInput("the sender and --actor must not be empty")
        with database() as db, session_scope(db) as s:
            ended = senders.resume_sender(s, channel, sender, actor=actor.strip(), at=datetime.now(UTC))
    if json_out:
        print_json({"resumed": ended is not None, "pause": ended.as_dict() if ended else None})
    elif ended is None:
        named = senders.spelled_keys(channel, sender)[0]  # the likeliest key it was looked up by
        console.print(f"{named} was not paused; nothing changed")
    else:
        console.print(f"{ended.sender} resumed (it was paused by the {ended.reason.replace('_', ' ')})")


_CLAIMED = typer.Argument(
    ...,
    help="The sender as checks name it (a mailbox, an account, a number), @domain for an email "
    "sending domain, or as `send sender-claims` lists it (email:sdr1@agency.example, domain:agency.example).",
)


def _whose(agency_id: int | None) -> str:
    return f"agency {agency_id}" if agency_id is not None else "shared (nobody's)"


@app.command("sender-claims")
def sender_claims_cmd(
    agency: int | None = typer.Option(None, "--agency", min=1, max=MAX_ID, help="Only this agency's."),
    json_out: bool = JsonOption,
) -> None:
    """List which agency each sending account and email sending domain belongs to (the first agency
    to name one in a reserving check over the API claims it; another agency naming it is denied
    sender_not_owned; a shared one is nobody's)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        if agency is not None and s.get(Agency, agency) is None:  # not an empty list
            raise NotFound(f"agency {agency} not found")
        rows = sender_claims.claims(s, agency_id=agency)
    if json_out:
        print_json([r.as_dict() for r in rows])
        return
    if not rows:
        console.print("no sender is claimed")
    for r in rows:
        console.print(
            f"{r.sender}: {_whose(r.agency_id)} (since {r.claimed_at.astimezone(UTC):%Y-%m-%d}, by {r.actor})",
            soft_wrap=True,
        )


@app.command("claim-sender")
def claim_sender_cmd(
    sender: str = _CLAIMED,
    agency: int | None = typer.Option(None, "--agency", min=1, max=MAX_ID, help="The agency it belongs to."),
    shared: bool = typer.Option(
        False, "--shared", help="Nobody's: every agency may name it (a sending domain several agencies use)."
    ),
    channel: str = typer.Option("email", "--channel", help=f"One of: {', '.join(CHANNELS)}."),
    actor: str = typer.Option(..., "--actor", help="Who moves it (kept in the audit log)."),
    json_out: bool = JsonOption,
) -> None:
    """Give a sending account (or @domain) to an agency, whoever held it (another agency that named
    it first loses it), or mark it --shared; audited as sender.claim."""
    with handle_errors():
        if (agency is None) == (not shared):
            raise InvalidInput("give exactly one of --agency ID and --shared")
        with database() as db, session_scope(db) as s:
            claim, before = sender_claims.assign(
                s, channel, sender, agency, actor=actor, at=datetime.now(UTC)
            )
    if json_out:
        print_json(
            {
                **claim.as_dict(),
                "agency_id_was": before.agency_id if before else None,
                "was_claimed": before is not None,
            }
        )
    elif before is not None and before.agency_id == agency:
        console.print(f"{claim.sender} is {_whose(agency)} already; nothing changed")
    else:
        was = f" (it was {_whose(before.agency_id)})" if before is not None else ""
        console.print(f"{claim.sender} is now {_whose(agency)}{was}")


@app.command("release-sender")
def release_sender_cmd(
    sender: str = _CLAIMED,
    channel: str = typer.Option("email", "--channel", help=f"One of: {', '.join(CHANNELS)}."),
    actor: str = typer.Option(..., "--actor", help="Who frees it (kept in the audit log)."),
    json_out: bool = JsonOption,
) -> None:
    """Free a sending account's (or @domain's) claim: the next agency to name it in a reserving
    check claims it (audited as sender.release)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        claim = sender_claims.release(s, channel, sender, actor=actor, at=datetime.now(UTC))
    if json_out:
        print_json({**claim.as_dict(), "released": True})
    else:
        console.print(f"{claim.sender} is no longer {_whose(claim.agency_id)}")


@app.command("domain-guard")
def domain_guard_cmd(json_out: bool = JsonOption) -> None:
    """Run the sending-domain guard now (the worker runs it hourly): each sending domain's window of
    email sends, its hard-bounce and complaint rates, and the domains it paused."""
    with handle_errors():
        settings = get_event_settings()
        with database() as db, session_scope(db) as s:
            rows = sending_domains.sweep(s, settings, now=datetime.now(UTC))
    if json_out:
        print_json([r.as_dict() for r in rows])
        return
    if not rows:
        console.print(
            f"no sending domain has {settings.sending_domain_guard_min_sends} email sends "
            f"in the last {settings.sending_domain_guard_days} days"
        )
        return
    for r in rows:
        d = r.as_dict()
        state = (
            "paused now"
            if r.paused
            else (f"over its limit ({r.over}), already paused or resumed" if r.over else "ok")
        )
        console.print(
            f"{r.domain}: {r.sends} sends, hard bounces {d['bounce_rate']:.2%}, "
            f"complaints {d['complaint_rate']:.3%}: {state}",
            soft_wrap=True,
        )


@app.command("dead-domains")
def dead_domains_cmd(
    limit: int | None = typer.Option(
        None, "--limit", min=1, max=MAX_ID, help="At most this many (default: all)."
    ),
    after: str | None = typer.Option(
        None, "--after", help="Only the domains after this one (a page's last)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """List the recipient domains closed to email because a bounce said they accept no mail."""
    with handle_errors(), database() as db, session_scope(db) as s:
        rows = dead_domains.dead_domains(s, at=datetime.now(UTC), after=after, limit=limit)
    if json_out:
        print_json([r.as_dict() for r in rows])
        return
    if not rows:
        console.print("no domain is closed to email")
        return
    for r in rows:
        console.print(
            f"{r.domain}: {r.smtp_status} since {r.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC, "
            f"until {r.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({r.bounces} bounce{'s' * (r.bounces != 1)})",
            soft_wrap=True,
        )


@app.command("revive-domain")
def revive_domain_cmd(
    domain: str = typer.Argument(..., help="The domain (acme.com), as in `send dead-domains`."),
    actor: str = typer.Option(..., "--actor", help="Who revives it (kept in the audit log)."),
    json_out: bool = JsonOption,
) -> None:
    """Open a domain a bounce closed to email again, once its mail works again (an MX restored)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        revived = dead_domains.revive_domain(s, domain, actor=actor, at=datetime.now(UTC))
    if json_out:
        print_json({"revived": revived is not None, "domain": revived.as_dict() if revived else None})
    elif revived is None:
        console.print(f"{domain.strip()} was not closed to email; nothing changed")
    else:
        console.print(f"{revived.domain} is open to email again (closed by a {revived.smtp_status} bounce)")


@app.command("policy")
def policy_cmd(
    campaign: int | None = typer.Option(
        None, "--campaign", min=1, max=MAX_ID, help="Show the policy merged for this campaign."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Show the gate policy in force: platform defaults, or merged for one campaign."""
    with handle_errors():
        agency_settings = campaign_settings = None
        if campaign is not None:
            with database() as db, session_scope(db) as s:
                c = s.get(Campaign, campaign)
                if c is None:
                    raise NotFound(f"campaign {campaign} not found")
                a = s.get(Agency, c.agency_id)
                agency_settings, campaign_settings = (a.settings if a else None), c.settings
        policy = resolve(agency_settings, campaign_settings)
    data = policy.model_dump(mode="json")
    if json_out:
        print_json(data)
        return
    table = Table("setting", "value")
    for key, value in data.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command("reasons")
def reasons_cmd(json_out: bool = JsonOption) -> None:
    """List every reason code the gate can give."""
    if json_out:
        print_json([{"code": c, "summary": REASON_SUMMARIES[c]} for c in REASON_CODES])
        return
    table = Table("code", "meaning")
    for c in REASON_CODES:
        table.add_row(c, REASON_SUMMARIES[c])
    console.print(table)
