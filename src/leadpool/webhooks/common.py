"""Helpers the provider adapters share: secret comparison, freshness, JSON and time parsing."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from pydantic import ValidationError

from leadpool.errors import InvalidInput
from leadpool.webhooks.errors import WebhookUnauthorized


@dataclass(frozen=True)
class Unusable:
    """One item of a provider's batch that cannot be read: reported in ``rejected``, the rest stored.

    Failing the whole delivery instead would have the provider retry it, identical, until it gives
    up (SendGrid: 24 hours), losing every good event in it."""

    ref: str
    reason: str


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    for k, v in headers.items():
        if k.lower() == wanted:
            return v
    return None


def matches_any(given: str, secrets: Iterable[str]) -> bool:
    """Constant-time comparison against every valid secret (rotation keeps two)."""
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given.encode(), secret.encode())
    return found


def require_fresh(ts: datetime, now: datetime, tolerance_seconds: int, provider: str) -> None:
    tolerance = timedelta(seconds=tolerance_seconds)
    if ts < now - tolerance:
        raise WebhookUnauthorized(
            f"{provider}: stale delivery (signed at {ts.isoformat()}, now {now.isoformat()})"
        )
    if ts > now + tolerance:
        raise WebhookUnauthorized(f"{provider}: timestamp {ts.isoformat()} is in the future")


def load_json(raw_body: bytes, provider: str) -> Any:
    try:
        return json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"{provider}: body is not JSON ({e})") from None


def epoch(value: Any, provider: str, field: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{provider}: {field} {value!r} is not a unix timestamp") from None


def iso(value: Any, provider: str, field: str) -> datetime:
    """ISO 8601 with Z or offset; Postmark's seven fractional digits are cut to six."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{provider}: {field} is missing or not a string")
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tail = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tail}" if digits else head + tail
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{provider}: {field} {value!r} is not an ISO 8601 time") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def mailbox(value: Any) -> str | None:
    """The address of a From header ("Agent <agent@mg.example.com>" -> agent@mg.example.com),
    lower-cased: the sending mailbox as the gate's sender caps and blocks know it."""
    if not isinstance(value, str) or not value.strip():
        return None
    _name, address = parseaddr(value)
    return address.strip().lower() if "@" in address else value.strip()


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (optional nested objects)."""
    return value if isinstance(value, dict) else {}


def require_dict(value: Any, provider: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{provider}: {what} must be a JSON object")
    return value


def first_error(e: ValidationError) -> str:
    """A pydantic error's first problem, with where it is."""
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])
