"""Which database errors say "this value will never fit" (one event or one body is skipped) and
which say "the transaction is failing" (the whole request fails and is retried): a statement
cancelled by its timeout once read as a bad payload body, and as an event to skip."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from leadpool.db import Database
from leadpool.db.refusals import refused_value


def _error_of(db: Database, *statements: str) -> DBAPIError:
    with db.engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            for statement in statements:
                conn.execute(text(statement))
        conn.rollback()
    return caught.value


@pytest.mark.parametrize(
    "statements",
    [
        ("SELECT CAST('{not json' AS jsonb)",),
        ("SELECT CAST('\\u0000' AS jsonb)",),
        ("CREATE TEMP TABLE t (k int PRIMARY KEY)", "INSERT INTO t VALUES (1), (1)"),
        ("CREATE TEMP TABLE t (k int NOT NULL)", "INSERT INTO t VALUES (NULL)"),
    ],
    ids=["not-json", "nul-in-json", "duplicate-key", "not-null"],
)
def test_a_value_the_database_refuses_is_a_refusal(db: Database, statements: tuple[str, ...]) -> None:
    assert refused_value(_error_of(db, *statements))


@pytest.mark.parametrize(
    "statements",
    [
        ("SET LOCAL statement_timeout = '50ms'", "SELECT pg_sleep(2)"),
        ("SELECT pg_terminate_backend(pg_backend_pid())",),
    ],
    ids=["statement-timeout", "lost-connection"],
)
def test_a_failing_transaction_is_not_a_refusal(db: Database, statements: tuple[str, ...]) -> None:
    assert not refused_value(_error_of(db, *statements))
