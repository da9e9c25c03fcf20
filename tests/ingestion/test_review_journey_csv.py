"""An operator's journey: importing an Apollo CSV export whose file has one broken line."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.models import Lead

HEADER = (
    "First Name,Last Name,Title,Company Name,Email,Email Status,Person Linkedin Url,Website,City,Country\n"
)


def test_an_unclosed_quote_does_not_silently_swallow_the_people_after_it(
    db: Database, tmp_path: Path
) -> None:
    """A CSV line with an unbalanced quote (a hand-edited export, a name like ``"Bob``) is read by
    the csv module as one field running to the end of the file: every later line becomes part of
    that one cell. The import then reports ``records: 2`` for a file of four people, rejects line 3
    as "missing identity" (not as malformed CSV) and says nothing at all about lines 4 and 5, whose
    people are neither in the pool nor in the rejects file. An operator reading the summary cannot
    tell that two valid people were lost. Expected: the broken record is named as invalid CSV, and
    the people after it are either imported or accounted for in the rejects."""
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + "Ann,One,CEO,Co1,ann@co1.example,Verified,,co1.example,Austin,United States\n"
        + 'Ben,"Two,CEO,Co2,ben@co2.example,Verified,,co2.example,Austin,United States\n'
        + "Cid,Three,CEO,Co3,cid@co3.example,Verified,,co3.example,Austin,United States\n"
        + "Dee,Four,CEO,Co4,dee@co4.example,Verified,,co4.example,Austin,United States\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.jsonl"
    res = CliRunner().invoke(app, ["import", str(path), "--rejects", str(rejects), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    with session_scope(db) as s:
        emails = set(s.scalars(select(Lead.email)).all())
    assert "ann@co1.example" in emails
    rejected = {r["line"]: r["reason"] for r in summary["rejections"]}
    # the broken line is reported as what it is
    assert 3 in rejected and "csv" in rejected[3].lower(), rejected
    # and the two good people after it are not lost without a word: imported, rejected on their
    # own line, or covered by the broken record's reason (which then says where it stopped)
    lost = [
        (line, email)
        for line, email in ((4, "cid@co3.example"), (5, "dee@co4.example"))
        if email not in emails and line not in rejected
    ]
    if lost:
        reason = rejected.get(3, "")
        assert "5" in reason or "end of" in reason.lower(), f"lost without a word: {lost}; {summary}"


def test_a_rejects_path_that_cannot_be_written_is_one_line_and_imports_nothing(
    db: Database, tmp_path: Path
) -> None:
    """`leadpool import FILE --rejects PATH` with a PATH whose folder cannot be made (a typo, a
    read-only mount, a parent that is a file) ends in a full traceback (FileNotFoundError /
    NotADirectoryError from ``ingestion/service.py`` ``_RejectSink.write``), and only when the
    first rejected record is met, after the batch's good records were loaded: the operator sees a
    crash, does not know what was imported, and the rejections are lost. The path should be
    checked before anything is imported: one line naming it, exit 2, nothing stored."""
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + "Ann,One,CEO,Co1,ann@co1.example,Verified,,co1.example,Austin,United States\n"
        + "Nobody,Atall,CEO,Co2,,,,co2.example,Austin,United States\n",
        encoding="utf-8",
    )
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    rejects = blocker / "rejects.jsonl"
    res = CliRunner().invoke(app, ["import", str(path), "--rejects", str(rejects)])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    # the error console wraps at 80 columns (a long tmp path is folded mid-word): unfold it
    assert res.exit_code == 2 and str(rejects) in res.output.replace("\n", ""), res.output[-1500:]
    assert "--rejects" in res.output and "Traceback" not in res.output, res.output[-1500:]
    with session_scope(db) as s:
        assert s.scalars(select(Lead.email)).all() == []


def test_a_csv_without_its_header_line_is_refused_without_printing_the_first_person(
    db: Database, tmp_path: Path
) -> None:
    """A CSV whose header line is missing (the second chunk of an export cut with ``split -l``, an
    export saved without headers) is refused, rightly, but the one-line error quotes the first
    eight cells of the file as the header it "got": ``got: Jane, Roofer, CEO, Roofco,
    jane.private@roofco.example, Verified...``. That line lands in terminals, cron mails and CI
    logs. The importer's own rule (docs/apollo.md: reasons "name the column and the expected type,
    never the cell") and the errors' (tests/test_errors_hide_values.py: no people's emails in error
    messages) are that a person's data is not echoed into messages; the error should say the
    header is missing without quoting the row."""
    path = tmp_path / "export-part-2.csv"
    path.write_text(
        "Jane,Roofer,CEO,Roofco,jane.private@roofco.example,Verified,,roofco.example,Austin,United States\n"
        "Bob,Builder,CEO,Buildit,bob.private@buildit.example,Verified,,buildit.example,Dallas,United States\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["import", str(path)])
    assert res.exit_code == 2, res.output
    assert "header" in res.output.lower()
    for private in ("jane.private@roofco.example", "Roofer"):
        assert private not in res.output, res.output
