"""``leadpool event record|classifier-eval`` and ``leadpool leads timeline|erase``."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table

from leadpool.cli.common import JsonOption, console, database, fail, handle_errors, print_json
from leadpool.cli.pool import leads_app
from leadpool.cli.timeline_output import AfterOption, LimitOption, NewestFirstOption, print_timeline
from leadpool.db import session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.events import EVENT_TYPES, REPLY_CATEGORIES, EventIn, record_event
from leadpool.events.classifier import RuleClassifier
from leadpool.events.evaluate import SHIPPED_SETS, evaluate, load_labelled
from leadpool.limits import MAX_ID
from leadpool.models import Lead
from leadpool.privacy import erase
from leadpool.timeline import lead_timeline

app = typer.Typer(no_args_is_help=True, help="Outreach events: bounces, complaints, unsubscribes, replies.")


def _when(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"--occurred-at {value!r} is not an ISO 8601 time (e.g. 2025-01-01T09:30:00Z)"
        ) from None


@app.command("record")
def record(
    type_: str = typer.Option(..., "--type", help=f"One of: {', '.join(EVENT_TYPES)}."),
    lead: int | None = typer.Option(None, "--lead", min=1, max=MAX_ID, help="Lead id."),
    email: str | None = typer.Option(None, "--email", help="Email address (the pool may not hold it)."),
    phone: str | None = typer.Option(
        None,
        "--phone",
        help="Phone number (E.164; a national number is read in the --lead's country, else the US).",
    ),
    linkedin: str | None = typer.Option(None, "--linkedin", help="LinkedIn profile URL."),
    channel: str | None = typer.Option(None, "--channel", help="email, linkedin, sms or phone."),
    occurred_at: str | None = typer.Option(None, "--occurred-at", help="ISO time with offset (default now)."),
    source: str = typer.Option("cli", "--source", help="Where the event comes from."),
    provider_event_id: str = typer.Option(
        ..., "--provider-event-id", help="Unique per source: recording it again changes nothing."
    ),
    category: str | None = typer.Option(
        None, "--category", help=f"Reply category: {', '.join(REPLY_CATEGORIES)}."
    ),
    text: str | None = typer.Option(None, "--text", help="Reply text (classified when no --category)."),
    sender: str | None = typer.Option(
        None, "--sender", help="Mailbox, LinkedIn account or number it concerns."
    ),
    provider_message_id: str | None = typer.Option(None, "--provider-message-id", help="Links the touch."),
    campaign: int | None = typer.Option(None, "--campaign", min=1, max=MAX_ID, help="Campaign id."),
    smtp_status: str | None = typer.Option(
        None,
        "--smtp-status",
        help="Enhanced status code (5.1.1), or the DSN line holding one (550 5.1.1 ...).",
    ),
    json_out: bool = JsonOption,
) -> None:
    """Record one event and apply what it means (idempotent on --source + --provider-event-id)."""
    with handle_errors():
        try:
            event = EventIn(
                type=type_,
                lead_id=lead,
                email=email,
                phone=phone,
                linkedin_url=linkedin,
                channel=channel,
                occurred_at=_when(occurred_at),
                source=source,
                provider_event_id=provider_event_id,
                category=category,
                text=text,
                sender=sender,
                provider_message_id=provider_message_id,
                campaign_id=campaign,
                detail={"smtp_status": smtp_status} if smtp_status else {},
            )
        except ValidationError as e:
            raise InvalidInput(_validation_message(e)) from None
        with database() as db, session_scope(db) as s:
            outcome = record_event(s, event)
    if json_out:
        print_json(asdict(outcome))
        return
    if outcome.duplicate:
        console.print(f"event {outcome.event_id} was already recorded: nothing changed")
        return
    what = f"{outcome.type}" + (f" ({outcome.category})" if outcome.category else "")
    who = f"lead {outcome.lead_id}" if outcome.lead_id else "an address the pool does not hold"
    console.print(f"recorded event {outcome.event_id}: {what} for {who}")
    for effect in outcome.effects:
        console.print(f"  {effect}")


# the event's fields as this command's options name them
_FLAGS = {
    "lead_id": "--lead",
    "linkedin_url": "--linkedin",
    "occurred_at": "--occurred-at",
    "provider_event_id": "--provider-event-id",
    "provider_message_id": "--provider-message-id",
    "campaign_id": "--campaign",
    "smtp_status": "--smtp-status",
    "type": "--type",
    "email": "--email",
    "phone": "--phone",
    "channel": "--channel",
    "source": "--source",
    "category": "--category",
    "text": "--text",
    "sender": "--sender",
}
_FIELD = re.compile(r"\b(" + "|".join(sorted(_FLAGS, key=len, reverse=True)) + r")\b")


def _validation_message(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        where = ".".join(_FLAGS.get(str(p), str(p)) for p in err["loc"] if p != "detail")
        # pydantic prefixes a validator's own words with "Value error, "
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not where:
            msg = _FIELD.sub(lambda m: _FLAGS[m.group(1)], msg)
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


@app.command("classifier-eval")
def classifier_eval(
    file: Path | None = typer.Option(
        None, "--file", help="Labelled replies (JSON Lines); default a shipped set (--set)."
    ),
    shipped: str = typer.Option(
        "dev", "--set", help=f"Shipped labelled set: {', '.join(SHIPPED_SETS)} (blind is the honest one)."
    ),
    mistakes: bool = typer.Option(False, "--mistakes", help="List every misclassified reply."),
    json_out: bool = JsonOption,
) -> None:
    """Accuracy of the rule-based reply classifier on a labelled set."""
    with handle_errors():
        report = evaluate(RuleClassifier(), load_labelled(file, shipped=shipped))
    summary: dict[str, Any] = {
        "replies": report.total,
        "correct": report.correct,
        "accuracy": round(report.accuracy, 4),
        "per_category": {c: {"correct": h, "total": n} for c, (h, n) in report.per_category.items()},
        "return_dates": {"correct": report.return_dates_correct, "total": report.return_dates_total},
        "confusion": [{"expected": e, "got": g, "count": n} for (e, g), n in report.confusion.items()],
    }
    if mistakes or json_out:
        summary["mistakes"] = report.mistakes
    if json_out:
        print_json(summary)
        return
    console.print(f"accuracy {report.accuracy:.1%} ({report.correct}/{report.total} replies)")
    table = Table("category", "correct", "total", "misread as")
    for c, (h, n) in report.per_category.items():
        misread = ", ".join(f"{g} {k}" for (e, g), k in report.confusion.items() if e == c and g != c)
        table.add_row(c, str(h), str(n), misread)
    console.print(table)
    console.print(
        f"return dates of out-of-office replies: {report.return_dates_correct}/{report.return_dates_total}"
    )
    if mistakes:
        for m in report.mistakes:
            console.print(f"  expected {m['expected']}, got {m['got']}: {m['text']}")


@leads_app.command("timeline")
def timeline(
    lead_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Lead id."),
    json_out: bool = JsonOption,
    limit: int | None = LimitOption,
    newest_first: bool = NewestFirstOption,
    after: str | None = AfterOption,
) -> None:
    """Everything that happened to a lead, in order: ownership, enrollments, decisions, touches, events
    (all of it unless --limit is given)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        print_timeline(
            lambda n, pos, newest: lead_timeline(s, lead_id, limit=n, after=pos, newest_first=newest),
            limit=limit,
            after=after,
            newest_first=newest_first,
            json_out=json_out,
            title=f"lead {lead_id}",
            timeline=f"lead:{lead_id}",
        )


@leads_app.command("erase")
def erase_cmd(
    lead_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Lead id."),
    actor: str = typer.Option(
        ...,
        "--actor",
        help=(
            "The operator who erases (kept in the audit log and the lead's history); the person's own "
            "addresses in it are kept only as keyed hashes."
        ),
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    json_out: bool = JsonOption,
) -> None:
    """Erase a person's data for good; only keyed hashes stay, so no import brings them back."""
    with handle_errors(), database() as db:
        if not yes:
            with session_scope(db) as s:
                if s.get(Lead, lead_id) is None:  # said before asking to confirm, not after
                    raise NotFound(f"lead {lead_id} not found")
            try:
                confirmed = typer.confirm(f"Erase lead {lead_id}? This cannot be undone.", err=True)
            except typer.Abort:  # no answer (stdin closed, a script without --yes): click printed "Aborted."
                typer.echo("", err=True)  # end the prompt's line, so the error is a line of its own
                raise fail(
                    "not erased: no answer to the confirmation (pass --yes to erase without asking)", 1
                ) from None
            if not confirmed:
                raise fail("not erased", 1)
        with session_scope(db) as s:
            result = erase(s, lead_id, actor=actor)
    if json_out:
        print_json(asdict(result))
        return
    if result.already_erased:
        console.print(f"lead {lead_id} was already erased")
        return
    console.print(
        f"erased lead {lead_id}: {result.suppressions_added} suppressions added, "
        f"{result.payloads_tombstoned} raw payloads tombstoned, {result.payloads_redacted} redacted, "
        f"{result.enrollments_ended} enrollments ended"
    )
    if result.same_person_erased:
        others = ", ".join(str(i) for i in result.same_person_erased)
        console.print(f"the same person's other leads erased too: {others}")
