"""A quote left open in a CSV export rejects its own line as invalid CSV; the lines it ran over are
read again on their own, so no person after it is lost. A quoted field that really holds a line
break is still one record. The rejects file is checked before anything is imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.ingestion import import_files
from leadpool.ingestion.formats import read_csv
from leadpool.models import Lead

HEADER = "First Name,Last Name,Title,Email,City\n"


def _read(
    tmp_path: Path, body: str, name: str = "export.csv"
) -> list[tuple[int | None, str | None, str | None]]:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    out = []
    for r in read_csv(path):
        if r.placeholder:
            continue
        email = r.person.get("email") if r.person else None
        out.append((r.line_no, email, r.error))
    return out


def test_an_open_quote_running_to_the_end_of_the_file_in_the_last_column(tmp_path: Path) -> None:
    # the swallowed lines leave the record with the header's number of cells: the odd quote tells
    records = _read(
        tmp_path,
        'Ann,One,CEO,ann@x.example,"Austin\n'
        "Ben,Two,CEO,ben@x.example,Austin\n"
        "Cid,Three,CEO,cid@x.example,Austin\n",
    )
    assert [(line, email) for line, email, _ in records] == [
        (2, None),
        (3, "ben@x.example"),
        (4, "cid@x.example"),
    ]
    reason = records[0][2]
    assert reason is not None and "invalid CSV" in reason and "line 2" in reason and "4" in reason
    assert "ann@x.example" not in reason  # the reason names lines, never cells


def test_an_open_quote_closed_by_a_later_quote(tmp_path: Path) -> None:
    records = _read(
        tmp_path,
        'Ann,"One,CEO,ann@x.example,Austin\n'
        'Ben,"Two",CEO,ben@x.example,Austin\n'
        "Cid,Three,CEO,cid@x.example,Austin\n",
    )
    assert records[0][0] == 2 and records[0][2] is not None and "invalid CSV" in records[0][2]
    assert [(line, email, error) for line, email, error in records[1:]] == [
        (3, "ben@x.example", None),
        (4, "cid@x.example", None),
    ]


def test_a_quoted_line_break_is_still_one_record(tmp_path: Path) -> None:
    records = _read(
        tmp_path,
        'Ann,One,"Chief\nExecutive",ann@x.example,Austin\n'
        'Ben,Two,"He said ""hi""\nand left",ben@x.example,Austin\n'
        "Cid,Three,CEO,cid@x.example,Austin\n",
    )
    assert records == [(2, "ann@x.example", None), (4, "ben@x.example", None), (6, "cid@x.example", None)]


def test_a_tsv_open_quote_is_handled_the_same(tmp_path: Path) -> None:
    path = tmp_path / "export.tsv"
    path.write_text(
        "First Name\tEmail\n" + 'Ann\t"ann@x.example\n' + "Ben\tben@x.example\n", encoding="utf-8"
    )
    records = [
        (r.line_no, r.person.get("email") if r.person else None) for r in read_csv(path) if not r.placeholder
    ]
    assert records == [(2, None), (3, "ben@x.example")]


def test_a_csv_without_a_header_names_the_expected_columns_not_the_cells(tmp_path: Path) -> None:
    path = tmp_path / "part-2.csv"
    path.write_text("Jane,Roofer,CEO,jane@roofco.example,Austin\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as e:
        list(read_csv(path))
    message = e.value.message
    assert "header" in message and "Email" in message and "Person Linkedin Url" in message
    assert "Jane" not in message and "jane@roofco.example" not in message and "Roofer" not in message


def test_an_open_quote_imports_the_people_after_it(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + 'Ann,"One,CEO,ann@x.example,Austin\n'
        + "Ben,Two,CEO,ben@x.example,Austin\n"
        + "Cid,Three,CEO,cid@x.example,Austin\n",
        encoding="utf-8",
    )
    result = import_files(db, [path], rejects_path=tmp_path / "rejects.jsonl")
    assert [(r.line_no, "invalid CSV" in r.reason) for r in result.rejected] == [(2, True)]
    with session_scope(db) as s:
        assert set(s.scalars(select(Lead.email))) == {"ben@x.example", "cid@x.example"}
    assert (tmp_path / "rejects.jsonl").read_text().count("\n") == 1


def test_a_rejects_file_is_checked_first_and_left_out_when_nothing_was_rejected(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "Ann,One,CEO,ann@x.example,Austin\n", encoding="utf-8")
    # a folder in place of the file: refused before anything is imported
    folder = tmp_path / "rejects-folder"
    folder.mkdir()
    with pytest.raises(InvalidInput, match="rejects file"):
        import_files(db, [path], rejects_path=folder)
    with session_scope(db) as s:
        assert s.scalars(select(Lead.email)).all() == []
    # nothing rejected: no empty rejects file is left behind, and none is reported
    rejects = tmp_path / "new" / "rejects.jsonl"
    result = import_files(db, [path], rejects_path=rejects)
    assert result.inserted == 1 and result.rejects_path is None and not rejects.exists()
    # an existing rejects file is appended to, never removed
    kept = tmp_path / "kept.jsonl"
    kept.write_text('{"earlier": true}\n')
    import_files(db, [path], rejects_path=kept)
    assert kept.read_text() == '{"earlier": true}\n'
