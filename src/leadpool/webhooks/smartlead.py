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
for ``LEAD_CATEGORY_UPDATED``, Smartlead's category name. A reply (or bounce) with no plain text
is read from its HTML made plain (``html_to_text``): line breaks for ``<br>`` and block ends, no
styling or scripts, and no quoted history (Gmail's quote, ``<blockquote>``), which is not the
person's reply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any

from leadpool.errors import InvalidInput
from leadpool.events.bounces import classify_dsn, reads_as_auto_reply, smtp_status
from leadpool.events.schemas import EventIn
from leadpool.webhooks.common import iso, load_json, matches_any, obj, require_dict
from leadpool.webhooks.errors import WebhookUnauthorized
from leadpool.webhooks.settings import WebhookSettings

NAME = "smartlead"
# authenticated by an operator-chosen secret_key in the body: guessable, so wrong ones are throttled as sign-ins
CHOSEN_SECRET = True

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


# Elements whose content is never the person's words: code and styling, and quoted history
# (Gmail's quote container, Yahoo's, any <blockquote>); Gmail's signature is cut like a "--" one.
_HIDDEN_TAGS = frozenset({"style", "script", "head", "title", "template", "blockquote"})
_HIDDEN_CLASSES = frozenset(
    {"gmail_quote", "gmail_quote_container", "gmail_extra", "gmail_signature", "yahoo_quoted"}
)
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "section"}
)
_LOOKS_LIKE_HTML = re.compile(r"<(?:[a-zA-Z][\w-]*|/[a-zA-Z][\w-]*|!--)[^<>]*>")


class _HtmlText(HTMLParser):
    """The visible text of an HTML body, one line per block, without hidden or quoted elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hiding: str | None = None  # the tag whose content is being dropped
        self._depth = 0  # nested elements of that tag inside it
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hiding == "head" and tag == "body":
            self._hiding = None  # a <head> left open ends where the body starts
        if self._hiding is not None:
            self._depth += tag == self._hiding
            return
        classes = set(next((v or "" for k, v in attrs if k == "class"), "").split())
        if tag in _HIDDEN_TAGS or classes & _HIDDEN_CLASSES:
            self._hiding, self._depth = tag, 1
            self.parts.append("\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
            self._pre += tag == "pre"
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hiding is None and tag in ("br", "hr", "p", "div"):
            self.parts.append("\n")  # <br/>; a self-closed block is an empty line

    def handle_endtag(self, tag: str) -> None:
        if self._hiding is not None:
            if tag == self._hiding:
                self._depth -= 1
                if self._depth == 0:
                    self._hiding = None
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
            if tag == "pre" and self._pre:
                self._pre -= 1
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if self._hiding is None:
            # outside <pre>, a run of white space (a source line break included) is one space
            self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Plain text of an HTML email body: <br> and block ends become line breaks, entities are
    decoded, <style>/<script> and quoted history (Gmail's quote, <blockquote>) are dropped, so the
    classifier reads the person's own words as it would a text/plain part."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "\n".join(s for line in "".join(parser.parts).splitlines() if (s := line.strip()))


def _text(value: Any, *, html: bool = False) -> str | None:
    """A body's text: ``text`` of a {text, html} object, else its ``html`` made plain; a string
    as it is, or made plain when it is an HTML field (``html``) and holds tags."""
    if isinstance(value, dict):
        plain = value.get("text")
        if isinstance(plain, str) and plain.strip():
            return plain
        return _text(value.get("html"), html=True)
    if not isinstance(value, str):
        return None
    if html:
        value = html_to_text(value) if _LOOKS_LIKE_HTML.search(value) else unescape(value)
    return value if value.strip() else None


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
            if code and dsn:
                # the server's words, read with the code: 5.1.10 closes a domain only for null MX
                detail |= {"smtp_status": code, "diagnostic_code": dsn}
    elif kind == "reply":
        text = (
            _text(body.get("reply_message"))
            or _text(body.get("reply_body"), html=True)  # the deprecated name of reply_message.html
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
