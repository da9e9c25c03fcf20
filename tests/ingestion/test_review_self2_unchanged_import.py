"""Review of 0e9010b / 55a55f3: an import that changes nothing still writes no lead row.

Coverage (passes): the upsert's ``WHERE (old) IS DISTINCT FROM (new)`` leaves ``previous_emails``
out of the comparison, so it must only change when the email does; and a guessed zone given again
(same rank) must not count as a change. A rewrite of every unchanged lead on each refresh would
bloat the table and bump ``updated_at`` for nothing. The row's ``xmin`` shows whether it was
rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from leadpool.db import Database
from leadpool.ingestion import import_files

ALEX = {
    "id": "apollo-alex",
    "first_name": "Alex",
    "email": "alex@oldco.example",
    "email_status": "verified",
    "city": "Portland",
    "country": "United States",
}


def _row(db: Database, lead_id: int) -> tuple[str, list[str] | None, str | None]:
    with db.engine.connect() as c:
        r = c.execute(
            text("SELECT xmin::text, previous_emails, time_zone_source FROM leads WHERE id = :i"),
            {"i": lead_id},
        ).one()
    return r[0], r[1], r[2]


def _file(tmp_path: Path, name: str, person: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(person) + "\n", encoding="utf-8")
    return path


def test_a_file_import_that_changes_nothing_rewrites_no_row(db: Database, tmp_path: Path) -> None:
    """Files (not the API) leave enriched_at alone, so an unchanged record must change no row."""
    import_files(db, [_file(tmp_path, "a.jsonl", ALEX)])
    moved = dict(ALEX, email="alex@newco.example")
    import_files(db, [_file(tmp_path, "b.jsonl", moved)])
    with db.engine.connect() as c:
        lead_id = c.execute(text("SELECT id FROM leads WHERE apollo_id = 'apollo-alex'")).scalar_one()
    before = _row(db, lead_id)
    assert before[1:] == (["alex@oldco.example"], "guess")
    import_files(db, [_file(tmp_path, "c.jsonl", dict(moved, first_name="Alex"))])
    import_files(db, [_file(tmp_path, "d.jsonl", dict(moved, email=None))])  # no email: the old one stays
    assert _row(db, lead_id) == before
