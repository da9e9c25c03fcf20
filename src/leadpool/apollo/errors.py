"""Errors from talking to Apollo; each names the endpoint and Apollo's HTTP status."""

from __future__ import annotations

from typing import Any

from leadpool.errors import LeadpoolError


class ApolloError(LeadpoolError):
    """Apollo answered something we cannot use."""

    status_code = 502

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.http_status = http_status
        # seconds Apollo asked us to stay away (Retry-After, or until its rate window reopens):
        # the job-level retry waits at least this long (leadpool.allocation.refill.retry_delay)
        self.retry_after = retry_after
        # set by leadpool.apollo.enrich when a run is interrupted: the EnrichResult so far, so the
        # caller can account for credits already spent (and already stored) before the failure
        self.partial: Any = None
        status = (
            f" (HTTP {http_status})"
            if http_status is not None and f"HTTP {http_status}" not in message
            else ""
        )
        super().__init__(f"apollo {endpoint}: {message}{status}")


class AuthError(ApolloError):
    """Apollo refused the api key (401 Invalid access credentials, or 403 not accessible)."""


class RateLimited(ApolloError):
    """Apollo kept answering 429 after every retry, or a window is spent (a day, or one that
    reopens later than the client's ``max_wait``): nothing is sent before ``retry_after``.

    ``retry_after``: seconds until Apollo should take calls again (its Retry-After, else the next
    day/hour/minute window by the ``x-*-requests-left`` headers), not capped by the client's
    ``max_wait``."""

    status_code = 503


class ApolloUnavailable(ApolloError):
    """Apollo kept failing with 5xx or could not be reached after every retry."""

    status_code = 503


class ApolloRequestError(ApolloError):
    """Apollo rejected the request itself (400/404/422), or we refused to send it."""

    status_code = 422


class ChargeUncertain(ApolloError):
    """A paid call failed after it may have reached Apollo (a read timeout, a dropped connection,
    a 5xx): Apollo may have charged for an answer we never got, so it is not sent again.

    Carries what was sent (``url``, ``request``) so the caller can book the worst case against the
    day's budget; calling again would pay again ("charged again on repeat calls", apollo.md 3).
    """

    status_code = 503

    def __init__(
        self, message: str, *, endpoint: str, url: str, request: Any, http_status: int | None = None
    ) -> None:
        super().__init__(message, endpoint=endpoint, http_status=http_status)
        self.url = url
        self.request = request


class PaidCallRefused(ApolloError):
    """A paid call Apollo answered (HTTP 200) with an error and no matches, but with the credits it
    charged (``credits_consumed``, apollo.md 2.4): the charge is known, so it is booked at that
    figure rather than at the worst case of a :class:`ChargeUncertain`, and not sent again.

    ``credits_consumed``: what the answer says Apollo charged; ``url``, ``request``: what was sent.
    """

    status_code = 502

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        url: str,
        request: Any,
        credits_consumed: float,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, http_status=http_status)
        self.url = url
        self.request = request
        self.credits_consumed = credits_consumed
