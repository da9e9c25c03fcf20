"""Reading import files: format detection and streaming readers that yield one record at a time.

Formats:
  json   one Apollo API response saved as a file (people search page with ``people``/``contacts``,
         ``people/match`` ``{"person": ...}``, ``bulk_match`` ``{"matches": [...]}``, a bare person
         object, or a JSON array of persons). The whole body is one raw payload.
  jsonl  one JSON value per line: person objects (or whole responses). Each line is a raw payload.
  csv    Apollo's CSV export, parsed by header name (see ``csv_export``). Each record is a raw payload.

JSON documents are read whole (they are API pages); JSONL and CSV stream, so memory stays flat
in file size.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from leadpool.errors import InvalidInput
from leadpool.ingestion.csv_export import CsvMapper

if TYPE_CHECKING:
    from leadpool.ingestion.importer import ImportResult

ENVELOPE_KEYS = ("people", "contacts", "person", "matches")


class ReadStopped(InvalidInput):
    """A file that cannot be read past one line. Every record before the line is complete and
    is imported before this is raised (``importer.load`` sets ``before`` to what they did); the
    line and everything after it are not."""

    def __init__(self, path: Path, line_no: int, problem: str) -> None:
        super().__init__(f"{path}: line {line_no} {problem}")
        self.path = path
        self.line_no = line_no
        self.before: ImportResult | None = None


@dataclass(slots=True)
class RawPayloadRow:
    """A ``raw_payloads`` row waiting to be written with the records it carried."""

    endpoint: str
    body: str
    source_name: str | None = None
    line_no: int | None = None
    apollo_person_ids: list[str] | None = None
    credits_consumed: Decimal | float | None = None
    request: dict[str, Any] | None = None
    response_headers: dict[str, Any] | None = None
    dedupe: bool = False  # file records: skip when the same body was already stored for the endpoint
    written: bool = False  # set once committed, so a payload spanning batches is stored once
    id: int | None = None  # raw_payloads.id once stored (or found already stored)
    erased: list[dict[str, Any]] = field(default_factory=list)  # erased people in it, to take out
    sha256: str = field(init=False)
    _nul: bool | None = field(default=None, init=False, repr=False)

    @property
    def may_hold_nul(self) -> bool:
        """Whether the body holds a NUL, raw or as ``\\u0000``: looked for once per payload, not
        once for each of the (maybe thousands of) people of a document."""
        if self._nul is None:
            self._nul = "\x00" in self.body or "\\u0000" in self.body
        return self._nul

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.body.encode()).hexdigest()


@dataclass(slots=True)
class SourceRecord:
    """One input record: a parsed person (or the reason it could not be read) and its raw payload."""

    index: int  # 0-based position among the records of the input (of a JSON document: in its list)
    line_no: int | None  # line in the file where the record starts (JSONL/CSV)
    person: Any = None
    error: str | None = None
    raw: RawPayloadRow | None = None  # the payload this record brings (JSON documents: the first record)
    nbytes: int = 0  # file bytes consumed, for progress
    placeholder: bool = False  # carries only a raw payload (a response without people)
    row: Any = None  # the mapped PersonRow, once prepared (the parsed person is then dropped)
    source: str | None = None  # the file (or source name) the record came from


def people_of(doc: Any) -> list[Any] | None:
    """The person objects inside an Apollo response (None items of ``matches`` dropped).

    Returns None when ``doc`` is not a recognisable people response or person.
    """
    found = positioned_people_of(doc)
    return None if found is None else [p for _, p in found]


def positioned_people_of(doc: Any) -> list[tuple[int, Any]] | None:
    """``people_of`` with each person's position in the response: null matches keep their place,
    so a reason given for record 1 points at ``matches[1]`` (lists after the first one continue
    the count, e.g. ``contacts`` after ``people``).

    Raises InvalidInput naming the key when ``people``, ``contacts`` or ``matches`` is neither a
    list nor null: such a response is broken, and reading it as empty would report success.
    """
    if isinstance(doc, list):
        return [(i, p) for i, p in enumerate(doc) if p is not None]
    if not isinstance(doc, dict):
        return None
    if any(k in doc for k in ENVELOPE_KEYS):
        out: list[tuple[int, Any]] = []
        position = 0
        for key in ("people", "contacts", "matches"):
            items = doc.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                raise InvalidInput(f'"{key}" is {_json_kind(items)}, not a list of people (or null)')
            for p in items:
                if p is not None:
                    out.append((position, _contact_as_person(p) if key == "contacts" else p))
                position += 1
        person = doc.get("person")
        if person is not None:
            out.append((position, person))
        return out
    if "id" in doc or "email" in doc or "linkedin_url" in doc or "first_name" in doc:
        return [(0, doc)]
    return None


def _json_kind(value: Any) -> str:
    # the kind, never the value: a value may be a person's data
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an object" if isinstance(value, dict) else "not a list"


def _contact_as_person(contact: Any) -> Any:
    # a contacts[] row is the team's CRM contact: its "id" is the contact id, "person_id" the person
    if not isinstance(contact, dict):
        return contact
    person = dict(contact)
    person["contact_id"] = contact.get("id")
    person["id"] = contact.get("person_id")
    person.pop("person_id", None)
    return person


def person_ids(people: list[Any]) -> list[str] | None:
    # an id holding NUL cannot be stored (JSONB refuses it) and would sink the whole payload; its
    # record is rejected on its own (importer.prepare)
    ids = [
        p["id"]
        for p in people
        if isinstance(p, dict) and isinstance(p.get("id"), str) and "\x00" not in p["id"]
    ]
    return ids or None


def detect_format(path: Path) -> str:
    """``json``, ``jsonl`` or ``csv``, from the extension, else from the first bytes."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    with path.open("rb") as f:
        head = f.read(1 << 16)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise InvalidInput(f"{path}: file is empty")
    if text[:1] == b"[":
        return "json"
    if text[:1] == b"{":
        first_line = text.split(b"\n", 1)[0]
        try:
            orjson.loads(first_line)
        except orjson.JSONDecodeError:
            return "json"  # a pretty-printed document
        rest = text[len(first_line) :].strip()
        # one complete object per line; a single-line file is a JSON document either way
        return "jsonl" if rest else "json"
    if suffix == ".json":
        return "json"
    return "csv"


def read_json(path: Path) -> Iterator[SourceRecord]:
    """Reads and checks the document now (not lazily), so a bad file fails before anything lands."""
    records = list(_json_records(path))
    return iter(records)


def _json_records(path: Path) -> Iterator[SourceRecord]:
    data = path.read_bytes()
    try:
        body = data.decode("utf-8")
    except UnicodeDecodeError as e:
        # lines counted as an editor shows them (\n, \r\n or a lone \r), up to the bad byte
        line_start = max(data.rfind(b"\n", 0, e.start), data.rfind(b"\r", 0, e.start)) + 1
        line_no = len(data[:line_start].splitlines()) + 1
        where = _bad_byte(data, e.start, e.start - line_start, e.reason)
        raise InvalidInput(f"{path}: line {line_no} is not UTF-8 ({where}); nothing was imported") from None
    try:
        # a BOM is no part of the JSON text (RFC 8259 8.1) but editors save one; the stored body keeps it
        doc = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"{path}: not valid JSON ({e})") from None
    name = str(path)
    try:
        found = positioned_people_of(doc)
    except InvalidInput as e:
        raise InvalidInput(f"{path}: {e.message}; nothing was imported") from None
    if found is None:
        raise InvalidInput(
            f"{path}: not an Apollo people response (expected people/contacts/person/matches, "
            "a person object or an array of persons)"
        )
    raw = RawPayloadRow(
        endpoint="file:json",
        body=body,
        source_name=str(path),
        apollo_person_ids=person_ids([p for _, p in found]),
        dedupe=True,
    )
    if not found:
        yield SourceRecord(index=0, line_no=None, raw=raw, nbytes=len(data), placeholder=True, source=name)
        return
    for i, (position, person) in enumerate(found):
        yield SourceRecord(
            index=position,
            line_no=None,
            person=person,
            raw=raw,
            nbytes=len(data) if i == len(found) - 1 else 0,
            source=name,
        )


def read_jsonl(path: Path) -> Iterator[SourceRecord]:
    index = 0
    name = str(path)
    with path.open("rb") as f:
        for line_no, line in enumerate(f, start=1):
            nbytes = len(line)
            if line_no == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            content = line.rstrip(b"\n").rstrip(b"\r")
            if not content.strip():
                if nbytes:
                    yield SourceRecord(
                        index=-1, line_no=line_no, nbytes=nbytes, placeholder=True, source=name
                    )
                continue
            try:
                body = content.decode("utf-8")
            except UnicodeDecodeError:
                yield SourceRecord(
                    index, line_no, error="line is not valid UTF-8", nbytes=nbytes, source=name
                )
                index += 1
                continue
            try:
                doc = orjson.loads(content)
            except orjson.JSONDecodeError as e:
                yield SourceRecord(index, line_no, error=f"invalid JSON: {e}", nbytes=nbytes, source=name)
                index += 1
                continue
            if isinstance(doc, dict) and any(k in doc for k in ENVELOPE_KEYS):
                try:
                    people = people_of(doc) or []
                except InvalidInput as e:
                    yield SourceRecord(index, line_no, error=e.message, nbytes=nbytes, source=name)
                    index += 1
                    continue
            else:
                people = [doc]
            raw = RawPayloadRow(
                endpoint="file:jsonl",
                body=body,
                source_name=str(path),
                line_no=line_no,
                apollo_person_ids=person_ids(people),
                dedupe=True,
            )
            if not people:
                yield SourceRecord(index, line_no, raw=raw, nbytes=nbytes, placeholder=True, source=name)
                index += 1
            for j, person in enumerate(people):
                yield SourceRecord(
                    index,
                    line_no,
                    person=person,
                    raw=raw,
                    nbytes=nbytes if j == 0 else 0,
                    source=name,
                )
                index += 1


def _bad_byte(data: bytes, offset: int, column: int, reason: str) -> str:
    return f"byte {data[offset]:#04x} at byte {column + 1} of the line: {reason}"


# a line ends at \n, \r\n or a lone \r (text mode's newline=""): binary lines end at \n only
_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


def _physical_lines(f: IO[bytes]) -> Iterator[bytes]:
    for chunk in f:
        cr = chunk.find(b"\r")
        if cr == -1 or (cr == len(chunk) - 2 and chunk.endswith(b"\n")):
            yield chunk
        else:
            yield from (part for part in _LONE_CR.split(chunk) if part)


class _LineTap:
    """Iterates a file's lines for csv.reader while keeping the exact text of the current record.

    Each line is decoded on its own (UTF-8 never puts a line break inside a character), so a byte
    that is not UTF-8 stops reading at its own line, with every line before it read; a decoder
    over buffered chunks fails at a chunk, and the lines of the chunk before the bad byte are lost
    with it. Once a line failed, every later read raises the same error: nothing after it is read.
    """

    def __init__(self, f: IO[bytes], path: Path) -> None:
        self._lines = _physical_lines(f)
        self._path = path
        self._stopped: ReadStopped | None = None
        self.lines: list[str] = []
        self.line_no = 0

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        if self._stopped is not None:
            raise self._stopped
        data = next(self._lines)
        if self.line_no == 0:
            data = data.removeprefix(b"\xef\xbb\xbf")  # a BOM, as encoding="utf-8-sig" drops it
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError as e:
            where = _bad_byte(data, e.start, e.start, e.reason)
            self._stopped = ReadStopped(self._path, self.line_no + 1, f"is not UTF-8 ({where})")
            raise self._stopped from None
        self.lines.append(line)
        self.line_no += 1
        return line

    def take(self) -> str:
        text = "".join(self.lines)
        self.lines.clear()
        return text


#: the most lines one record's quoted line breaks may span when lines are read again on their own
MAX_RECORD_LINES = 20


def _strict_rows(text: str, dialect: type[csv.Dialect]) -> list[list[str]] | None:
    """The rows of ``text`` read by CSV's rules to the letter; None when a quote does not pair up
    (closed in mid-field, or never closed)."""
    try:
        return list(csv.reader(text.splitlines(keepends=True), dialect, strict=True))
    except csv.Error:
        return None


def _runaway_quote(lines: list[str], row: list[str] | None, width: int, dialect: type[csv.Dialect]) -> bool:
    """Whether a record read over several lines is a quote left open, not a quoted line break.

    A quoted field may hold line breaks (an address, a note): its quotes pair up by CSV's rules. An
    unclosed quote (a hand-edited ``"Bob``) runs on to the end of the file, or to a later quote
    that then closes in mid-field: read to the letter, the record does not parse. (A literal quote
    in an unquoted cell, ``12" pipes``, is legal and counts for nothing.) A stray quote that
    happens to close at a field's end is caught when the record has too many cells, or swallowed
    at least two lines that read alone as rows of the header's width.
    """
    if len(lines) < 2:
        return False
    if row is None or _strict_rows("".join(lines), dialect) is None or len(row) > width:
        return True
    if width < 3:
        return False  # a line of text could be a row by chance
    rows_alone = 0
    for line in lines[1:]:
        alone = _strict_rows(line, dialect)
        rows_alone += alone is not None and len(alone) == 1 and len(alone[0]) == width
    return rows_alone >= 2


def read_csv(path: Path) -> Iterator[SourceRecord]:
    name = str(path)
    with path.open("rb") as f:
        tap = _LineTap(f, path)
        dialect: type[csv.Dialect] = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
        reader = csv.reader(tap, dialect)
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidInput(f"{path}: file is empty") from None
        except csv.Error as e:
            raise InvalidInput(f"{path}: cannot read the CSV header ({e})") from None
        header_text = tap.take()
        mapper = CsvMapper(header)
        if not mapper.has_identity_column():
            # never the cells themselves: without its header line, line 1 is a person
            known = sum(1 for _, _, target, _, is_phone in mapper.plan if target is not None or is_phone)
            raise InvalidInput(
                f"{path}: line 1 is not an Apollo CSV header with an identity column (Email or Person "
                f"Linkedin Url); {known} of its {len(header)} cells are known column "
                "names. Is the header line missing? The first line must name the columns, as Apollo's "
                "export does (First Name, Last Name, Title, Company Name, Email, Email Status, "
                "Person Linkedin Url, ...)."
            )
        # the header is stored too, so every line of the file is kept
        yield SourceRecord(
            index=-1,
            line_no=1,
            raw=RawPayloadRow(
                endpoint="file:csv",
                body=_strip_eol(header_text),
                source_name=str(path),
                line_no=1,
                dedupe=True,
            ),
            nbytes=len(header_text.encode()),
            placeholder=True,
            source=name,
        )
        index = 0
        width = len(header)
        # lines a stray quote had swallowed, read again one by one (never by the reader, which
        # could swallow them again: each line is read at most twice)
        alone: list[tuple[int, str]] = []

        def record(row: list[str], text: str, start: int) -> SourceRecord:
            nonlocal index
            nbytes = len(text.encode())
            if not any(cell.strip() for cell in row):
                return SourceRecord(index=-1, line_no=start, nbytes=nbytes, placeholder=True, source=name)
            index += 1
            try:
                person = mapper.person(row)
            except ValueError as e:
                return SourceRecord(index - 1, start, error=str(e), nbytes=nbytes, source=name)
            raw = RawPayloadRow(
                endpoint="file:csv", body=_strip_eol(text), source_name=str(path), line_no=start, dedupe=True
            )
            return SourceRecord(index - 1, start, person=person, raw=raw, nbytes=nbytes, source=name)

        def runaway(start: int, error: csv.Error | None) -> SourceRecord:
            nonlocal index
            lines = tap.lines[:]
            tap.take()
            last = start + len(lines) - 1
            alone.extend((start + i, line) for i, line in enumerate(lines[1:], 1))
            rest = f"line {last}" if last == start + 1 else f"lines {start + 1}-{last}"
            if error is None:
                cause = f"a quote opened on line {start} is not closed within its record (it ran through line {last})"
            else:
                cause = f"{error} in the record starting on line {start} (read through line {last})"
            reason = f"invalid CSV: {cause}; line {start} is rejected and {rest} read again on their own"
            index += 1
            return SourceRecord(index - 1, start, error=reason, nbytes=len(lines[0].encode()), source=name)

        while True:
            while alone:
                start, line = alone.pop(0)
                # a record with a quoted line break among them is taken whole (a few lines at most)
                text, rows, more = line, _strict_rows(line, dialect), 0
                while rows is None and more < MAX_RECORD_LINES:
                    if more == len(alone):  # the record goes on past the swallowed lines
                        try:
                            alone.append((tap.line_no + 1, next(tap)))
                        except (StopIteration, ReadStopped):
                            # an unreadable line ends the record like the end of the file: the
                            # lines before it are still read, then the next read raises the error
                            break
                        tap.take()
                    text += alone[more][1]
                    more += 1
                    rows = _strict_rows(text, dialect)
                if rows is None or len(rows) != 1:
                    index += 1
                    yield SourceRecord(
                        index - 1,
                        start,
                        error=f"invalid CSV: a quote opened on line {start} is not closed",
                        nbytes=len(line.encode()),
                        source=name,
                    )
                    continue
                del alone[:more]
                yield record(rows[0], text, start)
            start = tap.line_no + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except ReadStopped:
                # inside a quote that ran over lines, the unreadable line ends it as the end of the
                # file would: the quote counts as not closed and the lines it swallowed are read
                # again on their own (the next read raises the error again). A record that started
                # on the line before it is incomplete and not imported.
                if len(tap.lines) > 1:
                    yield runaway(start, None)
                    continue
                raise
            except csv.Error as e:
                if _runaway_quote(tap.lines, None, width, dialect):
                    yield runaway(start, e)
                else:
                    text = tap.take()
                    index += 1
                    yield SourceRecord(
                        index - 1, start, error=f"invalid CSV: {e}", nbytes=len(text.encode()), source=name
                    )
                continue
            if _runaway_quote(tap.lines, row, width, dialect):
                yield runaway(start, None)
                continue
            yield record(row, tap.take(), start)


def _strip_eol(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\n", "\r")):
        return text[:-1]
    return text


def read_file(path: Path) -> tuple[str, Iterator[SourceRecord]]:
    """(format, records) for one import file."""
    if path.is_dir():
        raise InvalidInput(f"{path}: is a directory, not a file; name the files in it to import them")
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if not path.is_file():
        raise InvalidInput(f"{path}: not a regular file")
    fmt = detect_format(path)
    reader = {"json": read_json, "jsonl": read_jsonl, "csv": read_csv}[fmt]
    return fmt, reader(path)
