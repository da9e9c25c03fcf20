"""Telling a value the database refused from a database that failed."""

from psycopg import errors as pg_errors
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


# the database answered, but the transaction lost a wait on another one's locks, or ran past a
# timeout: the same request works once the other is done, and the network is not to blame
_BUSY: tuple[tuple[type[Exception], str], ...] = (
    (pg_errors.LockNotAvailable, "lock timeout"),
    (pg_errors.DeadlockDetected, "deadlock"),
    (pg_errors.QueryCanceled, "statement timeout"),
    (pg_errors.SerializationFailure, "serialization failure"),
)


def busy(error: BaseException) -> str | None:
    """What the database was busy with, in words, when ``error`` is a lost wait or a timeout;
    None otherwise. Named, never quoted: a deadlock's detail tells rows and statements."""
    orig = getattr(error, "orig", None)
    return next((what for kind, what in _BUSY if isinstance(orig, kind)), None)


def failed(error: BaseException) -> str:
    """A database error in words fit to store or show: its class and SQLSTATE only (its message
    may quote a statement's values: emails, reply text). SQLAlchemy's or psycopg's own."""
    state = getattr(getattr(error, "orig", error), "sqlstate", None)
    return f"the database failed ({type(error).__name__}{f' {state}' if state else ''})"
