"""Helpers every command shares: opening the database, printing for people or for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text
from sqlalchemy.exc import ArgumentError, DataError, InterfaceError, OperationalError

from leadpool.config import get_settings, settings_error_message
from leadpool.db import Database, open_database
from leadpool.db.refusals import busy
from leadpool.errors import InvalidInput, LeadpoolError
from leadpool.startup import prepare_database

# no markup and no emoji codes: what commands print includes stored text (names, titles, reasons,
# senders) that may hold brackets or colons (rich read "email:email:sdr9@..." as the ":email:"
# emoji); styling is given explicitly (rich.text.Text), never parsed out of the strings. Soft
# wrap: a line is never broken by rich (piped output was cut at 80 columns mid-word, paths
# included); a terminal wraps it for the eye.
console = Console(markup=False, emoji=False, soft_wrap=True)
err_console = Console(stderr=True, markup=False, emoji=False, soft_wrap=True)

# Whether the running command was given --json, for its error line (fail): set as the option is
# parsed, so it also holds for an error raised after the command's own frame has gone (main's)
json_wanted: ContextVar[bool] = ContextVar("leadpool_json_wanted", default=False)


def _note_json(value: bool) -> bool:
    json_wanted.set(bool(value))
    return value


JsonOption = typer.Option(
    False, "--json", callback=_note_json, help="Print machine-readable JSON instead of text."
)


@contextmanager
def database(migrate: bool = True) -> Iterator[Database]:
    """Open the configured database for one command, applying migrations first."""
    db = open_database(get_settings())
    try:
        if migrate:
            prepare_database(db)
        yield db
    finally:
        db.dispose()


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, Decimal):
        return int(o) if o == o.to_integral_value() else float(o)
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def spinner(json_out: bool) -> Progress:
    """Progress with no known total, on stderr so stdout holds the answer alone; under ``--json``
    still shown, then wiped (as generate's and import's bars)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=json_out,
    )


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=_default, indent=2, ensure_ascii=False) + "\n")


def print_fields(obj: dict[str, Any], prefix: str = "") -> None:
    """A mapping as ``key: value`` lines for people (nested mappings as dotted keys, lists joined)."""
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            print_fields(value, f"{name}.")
            continue
        if isinstance(value, list | tuple | set | frozenset):
            value = ", ".join(str(v) for v in value) or "-"
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        console.print(Text.assemble((f"{name}: ", "bold"), str("-" if value is None else value)))


def instant(value: str | None, option: str) -> datetime | None:
    """An option's ISO 8601 instant (None when not given); InvalidInput naming the option when it
    is not one or has no UTC offset."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} {value!r} is not an ISO 8601 time (e.g. 2026-03-02T15:00:00Z)"
        ) from None
    if at.tzinfo is None:
        raise InvalidInput(f"{option} {value!r} has no offset; add Z or +HH:MM")
    return at


def fail(message: str, code: int = 1) -> typer.Exit:
    """One line on stderr: ``error: ...`` for people; under ``--json`` a JSON object
    (``{"error": ..., "exit_code": ...}``), so a machine reading the command's output need not
    parse prose to tell a refusal from a crash. Stdout stays empty either way."""
    if json_wanted.get():
        sys.stderr.write(json.dumps({"error": message, "exit_code": code}, ensure_ascii=False) + "\n")
    else:
        err_console.print(Text.assemble(("error:", "red"), " ", message))
    return typer.Exit(code)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn expected errors into one readable line and a non-zero exit, not a traceback."""
    try:
        yield
    except LeadpoolError as e:
        raise fail(e.message, 2 if e.status_code < 500 else 1) from e
    except (ValidationError, SettingsError) as e:
        message = settings_error_message(e)
        if message is None:
            raise
        raise fail(message, 2) from None
    except ArgumentError as e:
        # a database URL that is not one; SQLAlchemy's message names no password
        raise fail(f"LEADPOOL_DATABASE_URL is not a database URL: {str(e).splitlines()[0]}", 2) from None
    except (OperationalError, InterfaceError) as e:
        what = busy(e)
        if what is not None:  # the database answered: the network is not to blame
            raise fail(f"the database is busy ({what}); retry", 1) from None
        first = str(e.orig).strip().splitlines()[0] if e.orig is not None else type(e).__name__
        raise fail(f"cannot reach the database: {first}", 1) from None
    except DataError as e:
        # a value the database cannot hold (an id beyond bigint, a NUL character): bad input
        raise fail(f"the database refused a value: {str(e.orig).splitlines()[0]}", 2) from e
