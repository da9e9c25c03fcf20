"""0025 rewrites stored personal emails in the importer's spelling, so an opt-out sent from one
finds its lead by an exact array match."""

from __future__ import annotations

from sqlalchemy import text
from tests.migrations_data._scratch import scratch_db

from leadpool.db.migrate import upgrade
from leadpool.ingestion.normalize import NotNormalisable, normalize_email

BEFORE = "0024_gate_zones_agree"
STORED = [
    " Jo.Home@Gmail.Example",
    "jo.home@gmail.example",
    "not an address",
    "email_not_unlocked@domain.com",
]


def _importer_spelling(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        try:
            n = normalize_email(v)
        except NotNormalisable:
            n = v
        if n is not None and n not in out:
            out.append(n)
    return out


def test_0025_stores_personal_emails_as_the_importer_now_does(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        with db.engine.begin() as c:
            c.execute(
                text("INSERT INTO leads (id, personal_emails) VALUES (1, :p), (2, NULL), (3, :q)"),
                {"p": STORED, "q": ["email_not_unlocked@domain.com"]},
            )
        upgrade(db)
        with db.engine.connect() as c:
            rows = dict(c.execute(text("SELECT id, personal_emails FROM leads ORDER BY id")).all())
    assert rows[1] == _importer_spelling(STORED) == ["jo.home@gmail.example", "not an address"]
    assert rows[2] is None and rows[3] is None
