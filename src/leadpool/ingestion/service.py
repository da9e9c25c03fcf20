"""The ingestion entry points other parts of the service call: people from the API, files from the CLI.

Both commit as they go (one transaction per batch), because bulk loads cannot sit in one huge
transaction; callers must not expect them to join a transaction of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson
import psycopg
from sqlalchemy.exc import DBAPIError

from leadpool.config import get_settings
from leadpool.db import Database
from leadpool.errors import InvalidInput
from leadpool.ingestion.formats import RawPayloadRow, ReadStopped, SourceRecord, person_ids, read_file
from leadpool.ingestion.importer import BatchContext, ImportResult, Rejection, load

DEFAULT_BATCH_SIZE = 2000
#: rejections kept in ImportResult.rejected for file imports (all of them go to the rejects file)
MAX_REJECTIONS_KEPT = 1000


@contextmanager
def _connection(db: Database) -> Iterator[psycopg.Connection[Any]]:
    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        yield conn
    except psycopg.Error as e:
        # the importer's connection is psycopg's own: its errors reach the callers as every other
        # database error does (a lost lock wait or a statement timeout is a busy database, 503)
        raise DBAPIError.instance(None, None, e, psycopg.Error) from e
    finally:
        raw.close()


def _redact(cur: psycopg.Cursor[Any], payload_id: int, people: list[dict[str, Any]]) -> None:
    # privacy imports the ingestion package: imported here, once ingestion is loaded
    from leadpool.privacy.payloads import redact_people_rows

    redact_people_rows(cur, payload_id, people)


def import_people(
    db: Database,
    people: Iterable[dict[str, Any]],
    *,
    endpoint: str,
    raw_body: str | None = None,
    source_name: str | None = None,
    credits_consumed: Decimal | float | None = None,
    request: dict[str, Any] | None = None,
    response_headers: dict[str, Any] | None = None,
    raw_payload_id: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_leads: Callable[[psycopg.Cursor[Any], list[int]], None] | None = None,
) -> ImportResult:
    """Upsert Apollo person objects into the pool and keep the response they came in.

    ``raw_body`` (the response text exactly as received) is stored once in ``raw_payloads`` with
    ``endpoint``, ``credits_consumed``, ``request`` (never the API key) and ``response_headers``,
    listing the people it described; it is appended even when an identical body was stored before
    (each API call is a separate purchase). People are merged into existing leads by Apollo id,
    email or LinkedIn URL; ``enriched_at`` is set to now. ``lead_ids`` in the result holds the lead
    id of each accepted person in input order; ``rejected`` gives the index and reason of the others.
    Commits per batch. ``raw_payload_id``: the response is already stored (a purchase is kept
    before its people are imported, so no refused person can lose it); the leads are linked to it.
    An erased person in the response is refused and taken out of the stored body
    (``privacy.payloads.redact_people_rows``) in the batch's transaction. ``on_leads(cursor,
    lead_ids)`` is called in each batch's transaction with the leads it stored.
    """
    items = list(people)
    raw = None
    if raw_body is not None:
        raw = RawPayloadRow(
            endpoint=endpoint,
            body=raw_body,
            source_name=source_name,
            apollo_person_ids=person_ids(items),
            credits_consumed=credits_consumed,
            request=request,
            response_headers=response_headers,
            written=raw_payload_id is not None,
            id=raw_payload_id,
        )
    records: list[SourceRecord] = [
        SourceRecord(index=i, line_no=None, person=p, raw=raw) for i, p in enumerate(items)
    ]
    if not records and raw is not None:
        records.append(SourceRecord(index=0, line_no=None, raw=raw, placeholder=True))
    source = endpoint.removeprefix("file:") if endpoint.startswith("file:") else "api"
    ctx = BatchContext(
        source=source,
        key=get_settings().resolved_secret_key(),
        fresh=not endpoint.startswith("file:"),
        redact=_redact,
        on_leads=on_leads,
    )
    with _connection(db) as conn:
        return load(conn, iter(records), ctx, batch_size=batch_size)


class _RejectsFile:
    """The rejects file: one JSON object per line.

    Opened (for appending) before anything is imported, so a path that cannot be written is
    refused up front, not after the first batches were loaded; a file this import created and
    never wrote to is removed again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: IO[bytes] | None = None
        self._created = False
        self.used = False

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._created = not self.path.exists()
            self._f = self.path.open("ab")
        except OSError as e:
            # mkdir of a folder that is a file says "File exists": say what is wrong instead
            why = "a folder on its path is a file" if isinstance(e, FileExistsError) else e.strerror or e
            raise InvalidInput(
                f"cannot write the rejects file (--rejects) {self.path}: {why}; nothing was imported"
            ) from None

    def write(self, rejections: list[Rejection]) -> None:
        if self._f is None:
            self.open()
        assert self._f is not None
        for r in rejections:
            entry = {"file": r.source, "line": r.line_no, "record": r.index, "reason": r.reason}
            self._f.write(orjson.dumps(entry) + b"\n")
        self._f.flush()
        self.used = self.used or bool(rejections)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
            if self._created and not self.used:
                self.path.unlink(missing_ok=True)


def default_rejects_path() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return get_settings().resolved_home() / "rejects" / f"import-{stamp}.jsonl"


def import_files(
    db: Database,
    paths: Sequence[Path | str],
    *,
    progress: Callable[[int, int], None] | None = None,
    rejects_path: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    collect_lead_ids: bool = False,
) -> ImportResult:
    """Import Apollo JSON responses, JSON Lines and CSV exports (format detected per file).

    Streams each file in batches of ``batch_size`` records, one transaction per batch. Each line
    (JSONL/CSV) or whole document (JSON) is kept in ``raw_payloads`` exactly as read; a body already
    stored for the same ``file:<format>`` endpoint is not stored again, so re-running a file
    changes nothing. Rejected records are written to ``rejects_path`` (default: a new file under
    ``<home>/rejects/``), one JSON object per line with file, line, record and reason.
    ``progress(records, bytes)`` is called after each batch. Raises InvalidInput for a file that
    cannot be read at all (missing, unknown format, not UTF-8 JSON) and for a rejects file that
    cannot be written, before anything is imported. A CSV line that is not UTF-8 stops the import
    there, once every record before it is imported: the InvalidInput names the line and says what
    those records did (earlier files are imported in full, later ones not at all).
    """
    files = [Path(p) for p in paths]
    readers = [(path, *read_file(path)) for path in files]  # fail fast on unreadable files
    sink = _RejectsFile(rejects_path or default_rejects_path())
    sink.open()  # fail fast on a rejects file that cannot be written, before anything is imported
    total = ImportResult()
    stopped: tuple[int, ReadStopped] | None = None
    try:
        with _connection(db) as conn:
            for n, (_path, fmt, records) in enumerate(readers):
                ctx = BatchContext(
                    source=fmt,
                    key=get_settings().resolved_secret_key(),
                    fresh=False,
                    redact=_redact,
                    collect_lead_ids=collect_lead_ids,
                    max_rejections_kept=max(0, MAX_REJECTIONS_KEPT - len(total.rejected)),
                    on_rejects=sink.write,
                )
                try:
                    total.add(load(conn, records, ctx, batch_size=batch_size, progress=progress))
                except ReadStopped as e:
                    stopped = (n, e)
                    break
    finally:
        sink.close()
    if stopped is not None:
        at, error = stopped
        raise InvalidInput(
            _stopped_message(error, earlier=at, later=len(readers) - at - 1, sink=sink)
        ) from None
    if sink.used:
        total.rejects_path = str(sink.path)
    return total


def _stopped_message(e: ReadStopped, *, earlier: int, later: int, sink: _RejectsFile) -> str:
    """One line: where reading stopped, and what is now stored, so the person knows what to redo."""
    done = e.before or ImportResult()
    if done.records == 0:
        before = "no record came before it"
    else:
        accepted = done.records - done.rejected_count
        before = (
            f"{_count(done.records, 'record', 'records')} before it {'was' if done.records == 1 else 'were'} "
            f"read: {accepted:,} imported ({done.inserted:,} new, {done.updated:,} updated, "
            f"{done.unchanged:,} unchanged, {done.merged:,} merged) and {done.rejected_count:,} rejected"
        )
        if done.rejected_count and sink.used:
            before += f" (listed in {sink.path})"
    parts = [f"{e.message}, so the import stopped there", before]
    if earlier:
        parts.append(
            f"{_count(earlier, 'file', 'files')} named before it {'was' if earlier == 1 else 'were'} imported in full"
        )
    if later:
        parts.append(
            f"{_count(later, 'file', 'files')} named after it {'was' if later == 1 else 'were'} not imported"
        )
    parts.append("fix the line and import again: what is already stored is not stored twice")
    return "; ".join(parts)


def _count(n: int, one: str, many: str) -> str:
    return f"the {one}" if n == 1 else f"the {n:,} {many}"
