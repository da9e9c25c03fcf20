"""One-click unsubscribe links (RFC 8058): a person stops every message with one POST, no login.

Gmail and Yahoo require bulk senders to carry ``List-Unsubscribe: <https://...>`` with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` and to honour the POST within two days;
CAN-SPAM wants an opt-out that works for at least 30 days after the send, CASL 60. So a link is
made for a touch (the gate hands it out with every allowed email) and never expires: it names
the touch and carries a keyed hash of its id, so it cannot be guessed from another one, and it
needs nothing but itself (RFC 8058: the POST carries no cookie or credential).

Using it is an ``unsubscribe`` event for the touch's lead, recorded once per touch (source
``one_click``): what every unsubscribe does, for every agency and every channel, at once. The
link keeps working after the lead was erased (the person is suppressed already; nothing more
to do) and says nothing about whom it concerns.

The hash key is derived from the platform secret key, like the suppression hashes: changing
that key ends every link already sent, as it would end every erased person's suppression.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from leadpool.config import get_settings
from leadpool.events import EventIn, record_event
from leadpool.limits import MAX_ID
from leadpool.models import Lead, Touch

SOURCE = "one_click"
#: where the service answers a link (outside ``/v1``: a link lives in mailboxes for years)
PATH = "/unsubscribe"
_TOKEN = re.compile(r"^([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{22})$")


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, b"leadpool one-click unsubscribe", hashlib.sha256).digest()


def _mac(key: bytes, touch_id: int) -> str:
    digest = hmac.new(key, f"touch:{touch_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]  # 132 bits


def token_for(touch_id: int, secret: bytes | None = None) -> str:
    """The link's last segment for a touch: its id and a keyed hash of it."""
    key = _key(secret if secret is not None else get_settings().resolved_secret_key())
    return f"{touch_id}.{_mac(key, touch_id)}"


def touch_of(token: str, secret: bytes | None = None) -> int | None:
    """The touch a token names, or None when it is not one this platform made."""
    m = _TOKEN.match(token)
    if m is None or int(m.group(1)) > MAX_ID:
        return None
    touch_id = int(m.group(1))
    key = _key(secret if secret is not None else get_settings().resolved_secret_key())
    return touch_id if hmac.compare_digest(_mac(key, touch_id), m.group(2)) else None


def link(base_url: str, touch_id: int, secret: bytes | None = None) -> str:
    """The full link for a touch, at ``base_url`` (the address people reach this service at)."""
    return f"{base_url.rstrip('/')}{PATH}/{token_for(touch_id, secret)}"


@dataclass(frozen=True)
class Unsubscribed:
    touch_id: int
    event_id: int | None  # None when the lead had been erased (nothing to record)
    duplicate: bool  # the link was used before


def unsubscribe(session: Session, touch_id: int, *, at: datetime | None = None) -> Unsubscribed | None:
    """Record the one-click unsubscribe of a touch's lead (once per touch). None for a touch that
    does not exist. Flushes, never commits."""
    touch = session.get(Touch, touch_id)
    if touch is None:
        return None
    lead = session.get(Lead, touch.lead_id)
    if lead is None or lead.erased_at is not None:
        # an erased person's addresses are suppressed for good already; an event would keep
        # nothing more, and a tombstone has no address to suppress again
        return Unsubscribed(touch_id, None, duplicate=False)
    now = at or datetime.now(UTC)
    event = EventIn(
        type="unsubscribe",
        lead_id=touch.lead_id,
        channel=touch.channel,
        campaign_id=touch.campaign_id,
        source=SOURCE,
        provider_event_id=f"touch:{touch_id}",
        occurred_at=now,
    )
    outcome = record_event(session, event, at=now)
    return Unsubscribed(touch_id, outcome.event_id, outcome.duplicate)
