"""Instantly webhooks: no signature scheme, so a shared secret in a header you configure on the webhook.

The header (``LEADPOOL_WEBHOOK_INSTANTLY_HEADER``, default ``Authorization``) carries
``Bearer <secret>`` or the bare secret; when workspaces are configured the body's ``workspace``
must be one of them. Replays are handled by the stored-event dedupe on (event type, email id or
recipient, timestamp).

Instantly's own lead labels map to reply categories (``lead_interested``, ``lead_not_interested``,
``lead_out_of_office``, ``lead_wrong_person``; ``lead_meeting_booked`` is interested);
``reply_received`` is classified from its text; ``auto_reply_received`` too, and counts as
out-of-office unless its text says unsubscribe or wrong person (an auto-reply is not the person
answering). ``email_bounced`` has no documented hard/soft field: the optional ``bounce_type`` /
``reason`` fields are read when present, else it is a hard bounce (failing closed: Instantly learns
of a bounce from the report the sending mailbox's server writes once it stops retrying; see
docs/events.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadpool.errors import InvalidInput
from leadpool.events.bounces import classify_dsn, smtp_status
from leadpool.events.classifier import default_classifier
from leadpool.events.schemas import EventIn
from leadpool.webhooks.common import header, iso, load_json, matches_any, require_dict
from leadpool.webhooks.errors import WebhookUnauthorized
from leadpool.webhooks.settings import WebhookSettings

NAME = "instantly"
# authenticated by an operator-chosen secret in a header: guessable, so wrong ones are throttled as sign-ins
CHOSEN_SECRET = True

_LABELS = {
    "lead_interested": "interested",
    "lead_meeting_booked": "interested",
    "lead_not_interested": "not_interested",
    "lead_out_of_office": "out_of_office",
    "lead_wrong_person": "wrong_person",
}
_SIMPLE = {
    "lead_unsubscribed": "unsubscribe",
    "email_opened": "opened",
    "link_clicked": "clicked",
    "email_link_clicked": "clicked",
}


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: WebhookSettings, now: datetime) -> None:
    """Raise WebhookUnauthorized unless the configured header carries a configured secret."""
    value = header(headers, secrets.instantly_header)
    if not value:
        raise WebhookUnauthorized(
            f"instantly: unauthenticated delivery ({secrets.instantly_header} header required)"
        )
    if not secrets.instantly_secrets:
        raise WebhookUnauthorized("instantly: no secret configured (LEADPOOL_WEBHOOK_INSTANTLY_SECRETS)")
    given = value[7:].strip() if value.lower().startswith("bearer ") else value.strip()
    if not matches_any(given, secrets.instantly_secrets):
        raise WebhookUnauthorized("instantly: wrong secret")
    if secrets.instantly_workspaces:
        try:
            body = load_json(raw_body, NAME)
        except InvalidInput as e:
            raise WebhookUnauthorized(f"instantly: {e.message}") from None
        workspace = body.get("workspace") if isinstance(body, dict) else None
        if workspace not in secrets.instantly_workspaces:
            raise WebhookUnauthorized(f"instantly: workspace {workspace!r} is not allowed")


def replay_key(headers: Mapping[str, str], raw_body: bytes) -> str | None:
    return None


def _reply_text(body: dict[str, Any]) -> str | None:
    for key in ("reply_text", "reply_text_snippet", "reply_body", "text"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def parse(raw_body: bytes, headers: Mapping[str, str]) -> list[EventIn]:
    body = require_dict(load_json(raw_body, NAME), NAME, "body")
    name = str(body.get("event_type") or "").lower()
    email = body.get("lead_email") or body.get("email")
    detail: dict[str, Any] = {
        k: body[k]
        for k in ("event_type", "workspace", "campaign_id", "step", "variant")
        if body.get(k) is not None
    }
    category: str | None = None
    text: str | None = None
    etype: str
    if name == "email_bounced":
        hint = " ".join(str(body.get(k) or "") for k in ("bounce_type", "reason"))
        etype = "soft_bounce" if "soft" in str(body.get("bounce_type") or "").lower() else classify_dsn(hint)
        code = smtp_status(hint)
        if code:
            # the server's words, read with the code: 5.1.10 closes a domain only for null MX
            detail |= {"smtp_status": code, "diagnostic_code": hint.strip()}
    elif name in _LABELS:
        etype, category, text = "reply", _LABELS[name], _reply_text(body)
    elif name == "reply_received":
        etype, text = "reply", _reply_text(body)
    elif name == "auto_reply_received":
        etype, text = "reply", _reply_text(body)
        guess = default_classifier().classify(text or "").category
        category = guess if guess in ("unsubscribe", "wrong_person") else "out_of_office"
    elif name in _SIMPLE:
        etype = _SIMPLE[name]
    else:
        return []
    if not isinstance(email, str) or not email:
        raise InvalidInput(f"instantly: {name} lacks lead_email")
    at_value = body.get("timestamp")
    event_id = ":".join(str(x) for x in (name, body.get("email_id") or email.lower(), at_value))
    return [
        EventIn(
            type=etype,
            email=email,
            channel="email",
            occurred_at=iso(at_value, NAME, "timestamp"),
            source=NAME,
            provider_event_id=event_id,
            provider_message_id=str(body["email_id"]) if body.get("email_id") else None,
            sender=body.get("email_account") if isinstance(body.get("email_account"), str) else None,
            category=category,
            text=text,
            detail=detail,
        )
    ]
