"""0034 lets a sender pause be the complaint guard's; its downgrade refuses while such a pause is
in force (deleting it would let the mailbox send again unasked) and keeps every pause stored."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db import Database
from leadpool.db.migrate import current, upgrade

REVISION = "0034_sender_complaint_guard"
# the revision before it, read from the migration (it is re-chained onto whatever head it lands on)
BEFORE = importlib.import_module(f"leadpool.migrations.versions.{REVISION}").down_revision


def _pause(db: Database, sender: str, reason: str) -> None:
    with db.engine.begin() as c:
        c.execute(
            text("INSERT INTO sender_pauses (sender, reason, paused_at) VALUES (:s, :r, now())"),
            {"s": sender, "r": reason},
        )


def _stored(db: Database) -> dict[str, str]:
    with db.engine.connect() as c:
        return dict(c.execute(text("SELECT sender, reason FROM sender_pauses ORDER BY sender")).all())


def test_0034_allows_the_complaint_guard_and_its_downgrade_keeps_such_pauses(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        _pause(db, "email:bounced@agency.example", "sender_bounce_guard")
        with pytest.raises(IntegrityError, match="ck_sender_pauses_reason"):
            _pause(db, "email:spammy@agency.example", "sender_complaint_guard")
        upgrade(db, REVISION)
        _pause(db, "email:spammy@agency.example", "sender_complaint_guard")
        with pytest.raises(IntegrityError, match="ck_sender_pauses_reason"):
            _pause(db, "email:other@agency.example", "sender_something_else")
        assert _stored(db) == {
            "email:bounced@agency.example": "sender_bounce_guard",
            "email:spammy@agency.example": "sender_complaint_guard",
        }

        with pytest.raises(RuntimeError, match=r"1 sender\(s\) are paused .*email:spammy@agency\.example"):
            downgrade(db, BEFORE)
        assert current(db) == [REVISION]  # nothing half-done: the pause and the schema are as they were
        assert len(_stored(db)) == 2

        with db.engine.begin() as c:  # resumed (as resume-sender does), the downgrade goes through
            c.execute(text("DELETE FROM sender_pauses WHERE reason = 'sender_complaint_guard'"))
        downgrade(db, BEFORE)
        assert _stored(db) == {"email:bounced@agency.example": "sender_bounce_guard"}
        with pytest.raises(IntegrityError, match="ck_sender_pauses_reason"):
            _pause(db, "email:spammy@agency.example", "sender_complaint_guard")
