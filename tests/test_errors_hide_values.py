"""A database error's message carries no statement values (they are people's emails, numbers,
reply text): the gate and the API's error handler log such errors."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from leadpool.db import Database


def test_a_failed_statement_does_not_show_its_parameters(db: Database) -> None:
    with pytest.raises(DBAPIError) as e, db.engine.connect() as c:
        c.execute(text("SELECT length(:v) / 0"), {"v": "jo.private@example.com"})
    assert "division by zero" in str(e.value)
    assert "jo.private@example.com" not in str(e.value)
