"""Bounce classification from SMTP enhanced status codes (RFC 3463), shared by adapters and recording.

Policy (reference section 2): 4.x.x and 5.2.2 (mailbox full) are soft, counted but never
suppressing on their own; 5.7.x are policy rejections and 5.2.3, 5.3.4 and 5.6.x rejections of
the message itself (too large, bad content), which count against the sender, never the
recipient; other 5.x.x are hard.
"""

from __future__ import annotations

import re
from typing import Literal

# Permanent failures of the message, not of the address (the reference: 5.2.3 "content problem,
# not the recipient: do not suppress"; RFC 3463's 5.3.4 message too big for the system, 5.6.x
# media and content errors): they count against what was sent, like a policy block
_CONTENT = {("2", "3"), ("3", "4")} | {("6", str(d)) for d in range(10)}

BounceKind = Literal["hard_bounce", "soft_bounce", "sender_block"]

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# In free text, not inside a dotted quad: "host mx[212.5.7.10] said: 550 5.1.1" is 5.1.1, not 5.7.10
_ENHANCED_IN_TEXT = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_BASIC = re.compile(r"\b([45])\d\d\b")


def smtp_status(text: str | None) -> str | None:
    """The first enhanced status code (``5.1.1``) in a DSN or provider message, if any."""
    if not text:
        return None
    m = _ENHANCED_IN_TEXT.search(text)
    return f"{m.group(1)}.{m.group(2)}.{m.group(3)}" if m else None


def classify_status(status: str | None, reported: BounceKind) -> BounceKind:
    """The bounce kind an enhanced status code implies; ``reported`` when the code says nothing."""
    if not status:
        return reported
    m = _ENHANCED.fullmatch(status.strip())
    if not m:
        return reported
    cls, subject, detail = m.groups()
    if cls == "4":
        return "soft_bounce"
    if cls == "5" and subject == "7":
        return "sender_block"
    if cls == "5" and subject == "2" and detail == "2":
        return "soft_bounce"
    if cls == "5" and (subject, detail) in _CONTENT:
        return "sender_block"
    if cls == "5":
        return "hard_bounce"
    return reported


def classify_dsn(text: str | None) -> BounceKind:
    """Hard/soft/sender-block from free DSN text (Smartlead, Instantly): codes first, then words."""
    status = smtp_status(text)
    if status:
        return classify_status(status, "hard_bounce")
    lowered = (text or "").lower()
    basic = _BASIC.search(lowered)
    if basic and basic.group(1) == "4":
        return "soft_bounce"
    if any(w in lowered for w in ("mailbox full", "quota", "try again later", "temporar", "deferred")):
        return "soft_bounce"
    if any(w in lowered for w in ("blocked", "spam", "policy", "blacklist", "blocklist", "reputation")):
        return "sender_block"
    return "hard_bounce"
