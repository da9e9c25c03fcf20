"""SendGrid Event Webhook: ECDSA P-256 signature over timestamp + raw body; JSON array of events.

Mapping: ``bounce`` with type ``blocked`` is a sender block whatever its classification or status
(SendGrid's blocks are not suppressions: the receiving side refused the sender, its IP, domain or
content, and a deferral SendGrid gave up on after 72 hours becomes a block too; counting them as
soft bounces let three blocks suppress the recipient for every agency), and so is type bounce with
a reputation/content/volume classification or a 5.7.x status; otherwise type bounce is a hard
bounce unless its status code says otherwise (``status`` is sometimes absent: the enhanced code in
``reason``, the SMTP text, is read then);
``dropped`` for a bounced/invalid address is a hard bounce, for an unsubscribed address an
unsubscribe, for a spam-reporting address a complaint (other drop reasons say nothing about the
person), each marked ``detail.dropped``: nothing was sent, so the person is suppressed but no
campaign, mailbox or company counts it (reference sections 1.1, 3); ``spamreport`` a complaint; ``unsubscribe``/``group_unsubscribe`` an unsubscribe;
``delivered``/``open``/``click`` are stored. ``deferred`` is skipped (SendGrid is still retrying;
counting every retry would inflate soft bounces), as are ``processed`` and ``group_resubscribe``
(re-subscription is never automatic).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pydantic import ValidationError

from leadpool.errors import InvalidInput
from leadpool.events.bounces import smtp_status
from leadpool.events.schemas import EventIn
from leadpool.webhooks.common import (
    Unusable,
    epoch,
    first_error,
    header,
    load_json,
    require_dict,
    require_fresh,
)
from leadpool.webhooks.errors import WebhookUnauthorized
from leadpool.webhooks.settings import WebhookSettings

NAME = "sendgrid"
# authenticated by an ECDSA signature: nobody can guess it, so failures are not throttled
CHOSEN_SECRET = False
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

_SENDER_CLASSES = {"Reputation", "Content", "Frequency or Volume Too High"}
_DROPPED = {
    "Bounced Address": "hard_bounce",
    "Invalid": "hard_bounce",
    "Invalid Address": "hard_bounce",
    "Unsubscribed Address": "unsubscribe",
    "Spam Reporting Address": "complaint",
}
_SIMPLE = {
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
}


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: WebhookSettings, now: datetime) -> None:
    """Raise WebhookUnauthorized unless a configured key signed (timestamp + body) recently."""
    signature = header(headers, SIGNATURE_HEADER)
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookUnauthorized(
            f"sendgrid: unsigned delivery ({SIGNATURE_HEADER} and {TIMESTAMP_HEADER} required)"
        )
    if not secrets.sendgrid_public_keys:
        raise WebhookUnauthorized(
            "sendgrid: no verification key configured (LEADPOOL_WEBHOOK_SENDGRID_PUBLIC_KEYS)"
        )
    try:
        signed_at = epoch(timestamp, NAME, TIMESTAMP_HEADER)
    except InvalidInput as e:
        raise WebhookUnauthorized(e.message) from None
    require_fresh(signed_at, now, secrets.tolerance_seconds, NAME)
    try:
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookUnauthorized("sendgrid: signature is not base64") from None
    payload = timestamp.encode() + raw_body
    for key_b64 in secrets.sendgrid_public_keys:
        key = load_der_public_key(base64.b64decode(key_b64))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise WebhookUnauthorized("sendgrid: configured key is not an EC public key")
        try:
            key.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
            return
        except InvalidSignature:
            continue
    raise WebhookUnauthorized("sendgrid: signature does not match (forged or altered body)")


def replay_key(headers: Mapping[str, str], raw_body: bytes) -> str | None:
    # what was signed, not the signature: an ECDSA signature can be altered into another valid
    # one ((r, s) -> (r, n - s)), which would pass as a new delivery
    timestamp = header(headers, TIMESTAMP_HEADER) or ""
    return hashlib.sha256(timestamp.encode() + b":" + hashlib.sha256(raw_body).digest()).hexdigest()


def _message_id(sg_message_id: Any) -> str | None:
    # sg_message_id is the X-Message-Id returned at send time plus ".filter..." routing suffixes
    if not isinstance(sg_message_id, str) or not sg_message_id:
        return None
    return sg_message_id.split(".filter", 1)[0]


def _status(item: dict[str, Any]) -> str:
    """The enhanced code: ``status``, else the first one in ``reason`` (``status`` is sometimes absent)."""
    reason = item.get("reason")
    return str(item.get("status") or smtp_status(reason if isinstance(reason, str) else None) or "")


def _type(item: dict[str, Any]) -> str | None:
    event = item.get("event")
    if event == "bounce":
        # the reference: reputation and content classifications, 5.7.x and blocks go to the
        # sender's health, never to the recipient's suppression (not even counted as soft
        # bounces, which add up to a hard one)
        status = _status(item)
        if item.get("type") == "blocked":
            return "sender_block"
        if item.get("bounce_classification") in _SENDER_CLASSES or status.startswith("5.7."):
            return "sender_block"
        return "hard_bounce"
    if event == "dropped":
        return _DROPPED.get(str(item.get("reason") or ""))
    return _SIMPLE.get(str(event))


def parse(raw_body: bytes, headers: Mapping[str, str]) -> list[EventIn | Unusable]:
    """One EventIn per event in the batch that says something about a person; an item that cannot
    be read is ``Unusable`` (the others are still stored)."""
    body = load_json(raw_body, NAME)
    if not isinstance(body, list):
        raise InvalidInput("sendgrid: body must be a JSON array of events")
    out: list[EventIn | Unusable] = []
    for i, raw in enumerate(body):
        try:
            event = _event(i, raw)
        except InvalidInput as e:
            out.append(Unusable(f"event [{i}]", e.message))
        except ValidationError as e:
            out.append(Unusable(f"event [{i}]", f"sendgrid: event [{i}]: {first_error(e)}"))
        else:
            if event is not None:
                out.append(event)
    return out


def _event(i: int, raw: Any) -> EventIn | None:
    item = require_dict(raw, NAME, f"event [{i}]")
    etype = _type(item)
    if etype is None:
        return None
    event_id = item.get("sg_event_id")
    if not event_id or not item.get("email"):
        raise InvalidInput(f"sendgrid: event [{i}] lacks sg_event_id or email")
    detail = {
        k: item[k]
        for k in ("event", "type", "bounce_classification", "reason", "status", "smtp-id", "tenant_id")
        if item.get(k) is not None
    }
    status = _status(item)
    if status and etype in ("hard_bounce", "soft_bounce"):
        # recording lets a status code override the kind (a block, a sender block, never gets here)
        detail["smtp_status"] = status
    if item.get("event") == "dropped":
        detail["dropped"] = True
    return EventIn(
        type=etype,
        email=item["email"],
        channel="email",
        occurred_at=epoch(item.get("timestamp"), NAME, f"event [{i}] timestamp"),
        source=NAME,
        provider_event_id=str(event_id),
        provider_message_id=_message_id(item.get("sg_message_id")),
        detail=detail,
    )
