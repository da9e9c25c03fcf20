"""Telling a value the database refused from a database that failed."""

from sqlalchemy.exc import DBAPIError


def refused_value(error: DBAPIError) -> bool:
    """SQLSTATE class 22 (data exception) or 23 (integrity constraint): the statement will never
    fit, whenever it is retried. Anything else (a statement cancelled by its timeout, a lock
    timeout, a deadlock, a lost connection) says nothing about the value and must not be taken
    for a refusal: the caller's transaction is failing, not its input."""
    if error.connection_invalidated:
        return False
    state = getattr(error.orig, "sqlstate", None) or ""
    return state[:2] in ("22", "23")
