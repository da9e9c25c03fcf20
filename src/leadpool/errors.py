"""One error base class carrying an HTTP-style status; the API and CLI render it the same way."""

from __future__ import annotations


class LeadpoolError(Exception):
    """Something went wrong."""

    status_code = 500

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.message = message or (self.__doc__ or "").strip()


class NotFound(LeadpoolError):
    """Not found."""

    status_code = 404


class Conflict(LeadpoolError):
    """The request conflicts with the current state."""

    status_code = 409


class InvalidInput(LeadpoolError):
    """The input is not valid."""

    status_code = 422


class DatabaseUnavailable(LeadpoolError):
    """The database cannot be reached."""

    status_code = 503
