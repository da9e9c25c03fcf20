"""Review of 901f808's CSV stray-quote recovery (``ingestion.formats._runaway_quote`` and the
``alone`` list of ``read_csv``).

Pure reading tests (no database): ``read_csv`` over files written to ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

from leadpool.ingestion.formats import read_csv


def _records(path: Path) -> list[tuple[int, dict | None, str | None]]:
    return [(r.line_no, r.person, r.error) for r in read_csv(path) if not r.placeholder]


def test_a_valid_quoted_line_break_whose_second_line_has_commas_is_not_a_stray_quote(tmp_path: Path) -> None:
    """A well-formed record is rejected and its person lost because a line of its quoted cell
    holds commas.

    ``Ann,Lee,ann@x.example,"Head of Sales\\nEMEA, APAC, LATAM, NA"`` is valid CSV (quotes paired,
    four cells like the header; the csv module reads it whole). ``_runaway_quote`` now calls a
    record a quote left open when any of its later lines, read alone, has the header's number of
    cells, and ``EMEA, APAC, LATAM, NA"`` has four. Ann is rejected ("a quote opened on line 2 is
    not closed") and the text line is imported as a person whose email is `` LATAM``. A text
    line's commas are no evidence of an open quote; the csv module closed this field itself.
    """
    path = tmp_path / "export.csv"
    path.write_text(
        "First Name,Last Name,Email,Title\n"
        'Ann,Lee,ann@x.example,"Head of Sales\nEMEA, APAC, LATAM, NA"\n'
        "Bo,Ng,bo@x.example,CEO\n",
        encoding="utf-8",
    )
    got = [(line, (p or {}).get("email"), err) for line, p, err in _records(path)]
    assert got == [(2, "ann@x.example", None), (4, "bo@x.example", None)], got


def test_a_valid_quoted_line_break_after_a_stray_quote_is_read_whole(tmp_path: Path) -> None:
    """After a stray quote, a valid record with a quoted line break that the stray quote ran into
    is cut in two.

    Line 2 opens a quote it never closes; the csv module's field runs to the next quote, the one
    that opens Dan's quoted title on line 4. The recovery rejects line 2 and reads lines 3-4 "on
    their own", one line at a time, so Dan's record loses the rest of its title (``Head`` instead
    of ``Head\\nof Ops``), and line 5 (``of Ops"``, the title's second line) is read by the main
    reader as a person of its own (first name ``of Ops"``). Before 901f808 the swallowed lines
    were given back to the reader, which read Dan's record whole. Expected: Bob's line rejected,
    Cy, Dan (whole title) and Ed imported, no record made of a fragment of Dan's cell.
    """
    path = tmp_path / "export.csv"
    path.write_text(
        "First Name,Last Name,Email,Title\n"
        '"Bob,Smith,bob@x.example,CEO\n'
        "Cy,Dee,cy@x.example,CTO\n"
        'Dan,Eve,dan@x.example,"Head\nof Ops"\n'
        "Ed,Fay,ed@x.example,COO\n",
        encoding="utf-8",
    )
    records = _records(path)
    people = [p for _, p, err in records if p is not None and err is None]
    assert [p.get("email") for p in people] == ["cy@x.example", "dan@x.example", "ed@x.example"], records
    dan = people[1]
    assert dan.get("title") == "Head\nof Ops", dan


def test_a_stray_quote_over_rows_shorter_than_the_header_loses_no_one(tmp_path: Path) -> None:
    """A stray quote swallows the rest of the file into one cell, and nothing is rejected, when the
    rows leave out their trailing empty cells.

    Rows shorter than the header (trailing empty cells left out) are accepted on their own (see
    ``test_review_self_csv_quotes``). ``_runaway_quote`` now recognises a stray quote only by a
    swallowed line that, read alone, has exactly the header's number of cells; a short row never
    has. Here ``"Al,...`` on line 2 opens a quote nothing closes: the csv module returns one record
    whose first cell is lines 2-4 (no error at the end of the file outside strict mode), and it is
    taken as one person, first name ``Al,Bee,Owner,al@x.example\\nCy,Dee,...``, with no error. Cy
    and Dan are lost without a word in the rejects file. Before 901f808 the odd quote count caught
    it: line 2 rejected, Cy and Dan imported. A quote still open when the file ends is always a
    stray quote.
    """
    path = tmp_path / "export.csv"
    path.write_text(
        "First Name,Last Name,Title,Email,City\n"
        '"Al,Bee,Owner,al@x.example\n'
        "Cy,Dee,CTO,cy@x.example\n"
        "Dan,Eve,COO,dan@x.example\n",
        encoding="utf-8",
    )
    records = _records(path)
    imported = [(p or {}).get("email") for _, p, err in records if err is None]
    assert imported == ["cy@x.example", "dan@x.example"], records
    assert [line for line, _, err in records if err is not None] == [2], records
