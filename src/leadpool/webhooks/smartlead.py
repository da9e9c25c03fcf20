"""Smartlead webhooks: a shared ``secret_key`` in the JSON body (constant-time compare).

No signature binds the body, so there is no timestamp to check for staleness and no one-time
token: replays are handled by the stored-event dedupe on a composite id (event type, stats_id,
recipient, event time), so a replayed delivery changes nothing.

Both documented spellings of each event are accepted. Bounces carry no hard/soft field: the DSN
text in ``bounce_message`` is parsed (enhanced status code first, then wording: a full mailbox,
over quota or out of storage in the provider's words is soft). Smartlead detects bounces by reading
the sending mailbox, so an automatic reply can arrive as a bounce: a bounce text with no SMTP code
and no failure wording that reads as an auto-reply (out of office, on leave, away until...) is
recorded as what it is, an out-of-office reply (like Postmark's AutoResponder: the person is
paused until the return date, or is a wrong person if the text says they left; the address is
not suppressed), with ``detail.reported_as = "bounce"``. Replies carry the text (classified) and,
for ``LEAD_CATEGORY_UPDATED``, Smartlead's category name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadpool.errors import InvalidInput
from leadpool.events.bounces import classify_dsn, reads_as_auto_reply, smtp_status
from leadpool.events.schemas import EventIn
from leadpool.webhooks.common import iso, load_json, matches_any, obj, require_dict
from leadpool.webhooks.errors import WebhookUnauthorized
from leadpool.webhooks.settings import WebhookSettings

NAME = "smartlead"

_EVENT = {
    "EMAIL_BOUNCE": "bounce",
    "EMAIL_BOUNCED": "bounce",
    "LEAD_UNSUBSCRIBED": "unsubscribe",
    "EMAIL_UNSUBSCRIBED": "unsubscribe",
    "EMAIL_REPLY": "reply",
    "EMAIL_REPLIED": "reply",
    "LEAD_CATEGORY_UPDATED": "reply",
    "EMAIL_OPEN": "opened",
    "EMAIL_OPENED": "opened",
    "EMAIL_LINK_CLICK": "clicked",
    "EMAIL_CLICKED": "clicked",
}
# Smartlead's default lead categories, by lower-cased name
_CATEGORIES = {
    "interested": "interested",
    "meeting request": "interested",
    "meeting booked": "interested",
    "information request": "interested",
    "not interested": "not_interested",
    "do not contact": "unsubscribe",
    "unsubscribed": "unsubscribe",
    "out of office": "out_of_office",
    "wrong person": "wrong_person",
    "sender originated bounce": None,
}


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: WebhookSettings, now: datetime) -> None:
    """Raise WebhookUnauthorized unless the body's ``secret_key`` is a configured one."""
    try:
        body = load_json(raw_body, NAME)
    except InvalidInput as e:
        raise WebhookUnauthorized(f"smartlead: unauthenticated delivery ({e.message})") from None
    given = body.get("secret_key") if isinstance(body, dict) else None
    if not isinstance(given, str) or not given:
        raise WebhookUnauthorized("smartlead: unauthenticated delivery (secret_key required in the body)")
    if not secrets.smartlead_secret_keys:
        raise WebhookUnauthorized("smartlead: no secret configured (LEADPOOL_WEBHOOK_SMARTLEAD_SECRET_KEYS)")
    if not matches_any(given, secrets.smartlead_secret_keys):
        raise WebhookUnauthorized("smartlead: wrong secret_key")


def replay_key(headers: Mapping[str, str], raw_body: bytes) -> str | None:
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("text") or value.get("html")
    return value if isinstance(value, str) and value.strip() else None


def parse(raw_body: bytes, headers: Mapping[str, str]) -> list[EventIn]:
    body = require_dict(load_json(raw_body, NAME), NAME, "body")
    name = str(body.get("event_type") or "").upper()
    kind = _EVENT.get(name)
    if kind is None:
        return []
    email = body.get("to_email") or body.get("lead_email")
    if not isinstance(email, str) or not email:
        raise InvalidInput(f"smartlead: {name} lacks to_email")
    at_value = body.get("event_timestamp") or body.get("time_replied") or body.get("timestamp")
    occurred_at = iso(at_value, NAME, "event_timestamp")
    sent = obj(body.get("sent_message"))
    detail: dict[str, Any] = {
        k: body[k]
        for k in ("event_type", "campaign_id", "stats_id", "sequence_number", "client_id")
        if body.get(k) is not None
    }
    category: str | None = None
    text: str | None = None
    etype = kind
    if kind == "bounce":
        dsn = _text(body.get("bounce_message"))
        if reads_as_auto_reply(dsn):
            # an auto-reply Smartlead filed as a bounce: the address did not fail
            etype, category, text = "reply", "out_of_office", dsn
            detail["reported_as"] = "bounce"
        else:
            etype = classify_dsn(dsn)
            code = smtp_status(dsn)
            if code:
                detail["smtp_status"] = code
    elif kind == "reply":
        text = (
            _text(body.get("reply_message"))
            or _text(body.get("reply_body"))
            or _text(body.get("preview_text"))
        )
        lead_category = body.get("lead_category")
        label = lead_category.get("new_name") if isinstance(lead_category, dict) else lead_category
        if isinstance(label, str):
            detail["smartlead_category"] = label
            category = _CATEGORIES.get(label.strip().lower())
        if name == "LEAD_CATEGORY_UPDATED" and category is None:
            return []  # a custom category says nothing we act on
    event_id = ":".join(str(x) for x in (name, body.get("stats_id"), email.lower(), at_value))
    return [
        EventIn(
            type=etype,
            email=email,
            channel="email",
            occurred_at=occurred_at,
            source=NAME,
            provider_event_id=event_id,
            provider_message_id=sent.get("message_id") if isinstance(sent.get("message_id"), str) else None,
            sender=body.get("from_email") if isinstance(body.get("from_email"), str) else None,
            category=category,
            text=text,
            detail=detail,
        )
    ]
