"""How ``leads timeline`` and ``companies timeline`` print.

By default every entry, as the command always did, but read from the database a page at a time
and written out as it is read (``--json`` streams the array), so a long history never sits in
memory whole. ``--limit N`` prints one page and, when entries are left, the ``--after`` cursor to
continue from (on stderr, so ``--json`` output stays one JSON array; with ``--json`` the cursor is
``{"next_cursor": ...}`` on a line of its own). A cursor is sealed for its timeline and order, as
the API's are: given to another lead's or company's timeline, or with the other order, it is
refused (it used to print a page of that other timeline from the first one's position, exit 0).
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator

import typer
from rich.table import Table
from rich.text import Text

from leadpool.cli.common import _default, console, err_console
from leadpool.timeline import Fetch, Position, TimelineEntry, walk

PAGE = 1000

LimitOption = typer.Option(
    None,
    "--limit",
    min=1,
    help="Print at most N entries (default: all); when more are left, the --after cursor to go on from.",
)
NewestFirstOption = typer.Option(
    False, "--newest-first", help="Newest entries first (default: oldest first)."
)
AfterOption = typer.Option(
    None,
    "--after",
    help="Only entries after this cursor (printed by a --limit run of the same timeline, in the same order).",
)


def print_timeline(
    fetch: Fetch,
    *,
    limit: int | None,
    after: str | None,
    newest_first: bool,
    json_out: bool,
    title: str,
    timeline: str,
) -> None:
    """Print the timeline ``fetch`` reads (call it inside the command's session); ``timeline``
    names it (``lead:7``), bound into its cursors with the order."""
    context = f"cli:{timeline}:{'desc' if newest_first else 'asc'}"
    start = Position.from_cursor(after, context=context) if after is not None else None
    next_cursor: str | None = None
    entries: Iterator[TimelineEntry]
    if limit is None:
        entries = walk(fetch, PAGE, start, newest_first)
    else:
        page = fetch(limit + 1, start, newest_first)
        if len(page) > limit:
            page = page[:limit]
            next_cursor = page[-1].position.cursor(context=context)
        entries = iter(page)
    if json_out:
        _stream_json(entries)
    else:
        table = Table("at", "what", "detail", title=title)
        for e in entries:
            shown = {k: v for k, v in e.detail.items() if v not in (None, [], {})}
            table.add_row(
                e.at.isoformat(timespec="seconds"), e.kind, ", ".join(f"{k}={v}" for k, v in shown.items())
            )
        console.print(table)
    if next_cursor is not None and json_out:
        # stdout stays the one JSON array; a script reads where to go on from stderr, as JSON too
        sys.stderr.write(json.dumps({"next_cursor": next_cursor}) + "\n")
    elif next_cursor is not None:
        err_console.print(Text(f"more entries: --after {next_cursor}"))


def _stream_json(entries: Iterator[TimelineEntry]) -> None:
    """The same text as ``print_json`` of the list, written an entry at a time."""
    first = True
    for e in entries:  # the first read happens before anything is written (NotFound prints nothing)
        item = json.dumps(e.as_dict(), default=_default, indent=2, ensure_ascii=False)
        sys.stdout.write(("[\n" if first else ",\n") + textwrap.indent(item, "  "))
        first = False
    sys.stdout.write("[]\n" if first else "\n]\n")
