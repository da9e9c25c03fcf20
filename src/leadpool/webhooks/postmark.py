"""Postmark webhooks: no signature, so HTTP Basic auth on the webhook URL (compared in constant time).

Replays cannot be told from Postmark's own retries, so they are handled by the stored-event
dedupe: the same record has the same event id and changes nothing twice.
Mapping (``RecordType`` / bounce ``Type``): HardBounce and BadEmailAddress are hard bounces;
SoftBounce, Transient and DnsError soft; SpamComplaint (as a record type or a bounce type) a
complaint; SpamNotification, Blocked and DMARCPolicy are sender blocks (the receiving server
refused the mail, the person did nothing); Unsubscribe (bounce type 16) and a
SubscriptionChange with SuppressSending an unsubscribe (or the suppression's own reason);
AutoResponder an out-of-office reply; Delivery, Open and Click are stored; the rest is skipped.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadpool.errors import InvalidInput
from leadpool.events.bounces import smtp_status
from leadpool.events.schemas import EventIn
from leadpool.webhooks.common import header, iso, load_json, matches_any, require_dict
from leadpool.webhooks.errors import WebhookUnauthorized
from leadpool.webhooks.settings import WebhookSettings

NAME = "postmark"
# authenticated by an operator-chosen user:password (Basic auth): guessable, so wrong ones are throttled as sign-ins
CHOSEN_SECRET = True

_BOUNCE_TYPES = {
    "HardBounce": "hard_bounce",
    "BadEmailAddress": "hard_bounce",
    "SoftBounce": "soft_bounce",
    "Transient": "soft_bounce",
    "DnsError": "soft_bounce",
    "SpamComplaint": "complaint",
    "SpamNotification": "sender_block",
    "Blocked": "sender_block",
    "DMARCPolicy": "sender_block",
    "Unsubscribe": "unsubscribe",
    "AutoResponder": "reply",
}
_SUPPRESSION_REASONS = {"HardBounce": "hard_bounce", "SpamComplaint": "complaint"}


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: WebhookSettings, now: datetime) -> None:
    """Raise WebhookUnauthorized unless ``Authorization: Basic`` carries a configured user:password."""
    auth = header(headers, "Authorization")
    if not auth or not auth.lower().startswith("basic "):
        raise WebhookUnauthorized("postmark: unauthenticated delivery (Authorization: Basic required)")
    if not secrets.postmark_basic_auth:
        raise WebhookUnauthorized(
            "postmark: no credentials configured (LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH)"
        )
    try:
        given = base64.b64decode(auth[6:].strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        raise WebhookUnauthorized("postmark: Authorization header is not valid Basic auth") from None
    if not matches_any(given, secrets.postmark_basic_auth):
        raise WebhookUnauthorized("postmark: wrong credentials")


def replay_key(headers: Mapping[str, str], raw_body: bytes) -> str | None:
    return None


def parse(raw_body: bytes, headers: Mapping[str, str]) -> list[EventIn]:
    rec = require_dict(load_json(raw_body, NAME), NAME, "body")
    kind = rec.get("RecordType")
    detail: dict[str, Any] = {
        k: rec[k]
        for k in (
            "RecordType",
            "Type",
            "TypeCode",
            "Tag",
            "MessageStream",
            "ServerID",
            "Metadata",
            "Description",
        )
        if rec.get(k) is not None
    }
    message_id = rec.get("MessageID") if isinstance(rec.get("MessageID"), str) else None
    category: str | None = None
    text: str | None = None
    if kind in ("Bounce", "SpamComplaint"):
        etype = "complaint" if kind == "SpamComplaint" else _BOUNCE_TYPES.get(str(rec.get("Type")))
        if etype is None:
            return []
        # one ID, whichever record type carries it: Postmark sends a spam complaint to the bounce
        # webhook (Type SpamComplaint) and also as RecordType SpamComplaint
        email, at_field, event_id = rec.get("Email"), "BouncedAt", f"bounce:{rec.get('ID')}"
        if rec.get("ID") is None:
            raise InvalidInput(f"postmark: {kind} record lacks ID")
        code = smtp_status(str(rec.get("Details") or ""))
        if code and etype in ("hard_bounce", "soft_bounce"):
            # the server's words, read with the code: 5.1.10 closes a domain only for null MX
            detail |= {"smtp_status": code, "diagnostic_code": str(rec["Details"])}
        if etype == "reply":
            category, text = "out_of_office", str(rec.get("Content") or rec.get("Details") or "") or None
    elif kind == "SubscriptionChange":
        if not rec.get("SuppressSending"):
            return []  # a re-activation: suppressions only lift by an audited re-subscribe
        etype = _SUPPRESSION_REASONS.get(str(rec.get("SuppressionReason")), "unsubscribe")
        email, at_field = rec.get("Recipient"), "ChangedAt"
        event_id = f"SubscriptionChange:{message_id}:{email}:{rec.get('ChangedAt')}"
    elif kind in ("Delivery", "Open", "Click"):
        etype = {"Delivery": "delivered", "Open": "opened", "Click": "clicked"}[kind]
        email = rec.get("Recipient")
        at_field = "DeliveredAt" if kind == "Delivery" else "ReceivedAt"
        event_id = f"{kind}:{message_id}:{email}:{rec.get(at_field)}"
    else:
        return []
    if not isinstance(email, str) or not email:
        raise InvalidInput(f"postmark: {kind} record lacks the recipient address")
    return [
        EventIn(
            type=etype,
            email=email,
            channel="email",
            occurred_at=iso(rec.get(at_field), NAME, at_field),
            source=NAME,
            provider_event_id=event_id,
            provider_message_id=message_id,
            category=category,
            text=text,
            detail=detail,
        )
    ]
