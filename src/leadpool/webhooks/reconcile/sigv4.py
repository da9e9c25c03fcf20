"""AWS Signature Version 4 for the few GET requests the SES reconciliation makes (no SDK needed).

``signature`` is the algorithm (checked against AWS's published test-suite vectors);
``SigV4Auth`` applies it to each httpx request as sent, after httpx has built its URL.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

import httpx

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signature(
    *,
    method: str,
    host: str,
    path: str,
    query: str,
    amz_date: str,
    region: str,
    service: str,
    access_key: str,
    secret_key: str,
    session_token: str | None = None,
) -> str:
    """The ``Authorization`` header value of a request with an empty body.

    ``query`` is the query string as sent (percent-encoded); ``amz_date`` is ``YYYYMMDDTHHMMSSZ``."""
    pairs = sorted((_enc(k), _enc(v)) for k, v in parse_qsl(query, keep_blank_values=True))
    headers = {"host": host.strip(), "x-amz-date": amz_date}
    if session_token:
        headers["x-amz-security-token"] = session_token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method.upper(),
            quote(path or "/", safe="/-_.~%"),
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            signed,
            EMPTY_SHA256,
        ]
    )
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={sig}"


class SigV4Auth(httpx.Auth):
    """Signs each request (GET, empty body) for ``service`` in ``region``."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        region: str,
        *,
        service: str = "ses",
        session_token: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._token = session_token
        self.region = region
        self.service = service
        self._clock = clock

    def __repr__(self) -> str:  # the keys never show up in logs or tracebacks
        return f"SigV4Auth(region={self.region!r}, service={self.service!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        amz_date = self._clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        request.headers["x-amz-date"] = amz_date
        if self._token:
            request.headers["x-amz-security-token"] = self._token
        request.headers["Authorization"] = signature(
            method=request.method,
            host=request.headers["host"],
            path=request.url.raw_path.decode("ascii").split("?", 1)[0],
            query=request.url.query.decode("ascii"),
            amz_date=amz_date,
            region=self.region,
            service=self.service,
            access_key=self._access_key,
            secret_key=self._secret_key,
            session_token=self._token,
        )
        yield request
