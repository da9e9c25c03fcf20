"""Mailgun webhooks: HMAC-SHA256(signing key, timestamp + token) in the body; one event per POST.

A subaccount's event carries ``signature.parent-signature`` too, the same HMAC made with the
parent account's key: either signature made with a configured key is accepted, so the parent's
operator configures one key for all its subaccounts. The token is one-time: a second delivery with a token already seen is refused as a replay.
Mapping: ``failed`` with severity permanent is a hard bounce (``suppress-unsubscribe`` and
``suppress-complaint`` drops are an unsubscribe and a complaint; every ``suppress-*`` reason is a
drop, marked ``detail.dropped``: Mailgun sent nothing, so the person is suppressed but no campaign,
mailbox or company counts it, reference sections 1.1, 3), severity temporary a soft bounce,
and the enhanced status code, when present, can turn either into a sender block (5.7.x) or a soft
bounce (5.2.2, 4.x.x). A permanent failure whose ``delivery-status.code`` is a 4xx (and whose text
has no enhanced code) is a soft bounce: Mailgun retries 4xx answers for hours and then reports the
message ``failed``/``permanent`` (reason ``generic``, "reached retry limit") with the last 4xx
answer; the receiving server never refused the address. ``complained``, ``unsubscribed``,
``delivered``, ``opened`` and ``clicked`` map one to one; ``accepted`` and ``rejected`` are skipped.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadpool.errors import InvalidInput
from leadpool.events.bounces import smtp_status
from leadpool.events.schemas import EventIn
from leadpool.webhooks.common import epoch, load_json, mailbox, obj, require_dict, require_fresh
from leadpool.webhooks.errors import WebhookUnauthorized
from leadpool.webhooks.settings import WebhookSettings

NAME = "mailgun"
# authenticated by an HMAC with the account's signing key: nobody can guess it, so failures are not throttled
CHOSEN_SECRET = False

_SIMPLE = {
    "complained": "complaint",
    "unsubscribed": "unsubscribe",
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
}


def _signature(raw_body: bytes) -> dict[str, Any]:
    try:
        body = load_json(raw_body, NAME)
    except InvalidInput as e:
        raise WebhookUnauthorized(f"mailgun: unsigned delivery ({e.message})") from None
    sig = body.get("signature") if isinstance(body, dict) else None
    if not isinstance(sig, dict) or not all(
        isinstance(sig.get(k), str | int) for k in ("timestamp", "token", "signature")
    ):
        raise WebhookUnauthorized("mailgun: unsigned delivery (signature.timestamp/token/signature required)")
    return sig


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: WebhookSettings, now: datetime) -> None:
    """Raise WebhookUnauthorized unless a configured signing key produced the body's signature."""
    sig = _signature(raw_body)
    if not secrets.mailgun_signing_keys:
        raise WebhookUnauthorized(
            "mailgun: no signing key configured (LEADPOOL_WEBHOOK_MAILGUN_SIGNING_KEYS)"
        )
    try:
        signed_at = epoch(sig["timestamp"], NAME, "signature.timestamp")
    except InvalidInput as e:
        raise WebhookUnauthorized(e.message) from None
    require_fresh(signed_at, now, secrets.mailgun_tolerance_seconds, NAME)
    message = f"{sig['timestamp']}{sig['token']}".encode()
    # a subaccount's event is signed with its own key and, as parent-signature, with the parent's
    given = [
        str(s).lower() for s in (sig["signature"], sig.get("parent-signature")) if isinstance(s, str | int)
    ]
    ok = False
    for key in secrets.mailgun_signing_keys:
        expected = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
        for g in given:
            ok |= hmac.compare_digest(expected.encode(), g.encode())  # str: ASCII only
    if not ok:
        raise WebhookUnauthorized("mailgun: signature does not match (forged, or signed with another key)")


def replay_key(headers: Mapping[str, str], raw_body: bytes) -> str | None:
    return str(_signature(raw_body)["token"])


def _type(data: dict[str, Any]) -> str | None:
    event = data.get("event")
    if event == "failed":
        reason = data.get("reason")
        if reason == "suppress-unsubscribe":
            return "unsubscribe"
        if reason == "suppress-complaint":
            return "complaint"
        return "hard_bounce" if data.get("severity") == "permanent" else "soft_bounce"
    return _SIMPLE.get(str(event))


def _basic_code(status: dict[str, Any]) -> int | None:
    """``delivery-status.code``, the basic SMTP reply code (an int; a digit string is read too)."""
    code = status.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit() and len(code.strip()) == 3:
        return int(code.strip())
    return None


def parse(raw_body: bytes, headers: Mapping[str, str]) -> list[EventIn]:
    body = require_dict(load_json(raw_body, NAME), NAME, "body")
    data = require_dict(body.get("event-data"), NAME, "event-data")
    etype = _type(data)
    if etype is None:
        return []
    if not data.get("id") or not data.get("recipient"):
        raise InvalidInput("mailgun: event-data lacks id or recipient")
    occurred_at = epoch(data.get("timestamp"), NAME, "event-data.timestamp")
    status = obj(data.get("delivery-status"))
    msg_headers = obj(obj(data.get("message")).get("headers"))
    detail: dict[str, Any] = {
        k: data[k]
        for k in ("event", "severity", "reason", "user-variables", "tags")
        if data.get(k) is not None
    }
    if data.get("event") == "failed" and str(data.get("reason") or "").startswith("suppress-"):
        detail["dropped"] = True  # on the suppression list already: never sent
    if status:
        detail["delivery_status"] = {
            k: status.get(k) for k in ("code", "message", "description") if k in status
        }
        code = smtp_status(f"{status.get('message') or ''} {status.get('description') or ''}")
        if code and etype in ("hard_bounce", "soft_bounce"):
            detail["smtp_status"] = code
        basic = _basic_code(status)
        if not code and etype == "hard_bounce" and basic is not None and 400 <= basic <= 499:
            # given up after temporary answers: the last one was a 4xx, not a refusal of the address
            etype = "soft_bounce"
    sender = mailbox(msg_headers.get("from"))
    return [
        EventIn(
            type=etype,
            email=data["recipient"],
            channel="email",
            occurred_at=occurred_at,
            source=NAME,
            # Mailgun ids are unique within a day only; with the event time they are unique for good
            provider_event_id=f"{data['id']}:{data.get('timestamp')}",
            provider_message_id=msg_headers.get("message-id"),
            sender=sender,
            detail=detail,
        )
    ]
