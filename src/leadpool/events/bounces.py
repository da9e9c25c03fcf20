"""Bounce classification from SMTP enhanced status codes (RFC 3463), shared by adapters and recording.

Policy (reference section 2): 4.x.x and 5.2.2 (mailbox full) are soft, counted but never
suppressing on their own; 5.7.x are policy rejections and 5.2.3, 5.3.4 and 5.6.x rejections of
the message itself (too large, bad content), which count against the sender, never the
recipient; other 5.x.x are hard. The provider's own severity wins upward: a code may lower a
bounce the provider called transient (to a sender block), never make it hard (SES ``Transient``
and Postmark's ``DnsError`` with 5.1.2 are a DNS failure that may pass; section 1.1, and 5.1.2:
"only act on permanent ones").

Free text without an enhanced code (Smartlead's and Instantly's DSN text) is read by wording, with
the addresses and host names in it left out (``pat@policygenius.example``, SpamExperts'
``mx1.spamexperts.com`` relay say nothing of policy): a 4xx reply code opening a line, or a full
mailbox / over quota / out of storage / "try again later" wording, is soft; unknown-user wording
(no such user, user unknown, address not found...) hard; policy words (blocked, spam,
reputation..., whole words) a sender block; an automatic reply
(out of office, on leave, away until...) that a tool filed as a bounce is no failure of the
address, so it is at most soft (``reads_as_auto_reply``; the Smartlead adapter records it as an
out-of-office reply instead); anything else is hard.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

# Permanent failures of the message, not of the address (the reference: 5.2.3 "content problem,
# not the recipient: do not suppress"; RFC 3463's 5.3.4 message too big for the system, 5.6.x
# media and content errors): they count against what was sent, like a policy block
_CONTENT = {("2", "3"), ("3", "4")} | {("6", str(d)) for d in range(10)}

BounceKind = Literal["hard_bounce", "soft_bounce", "sender_block"]

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# In free text, not inside a dotted quad: "host mx[212.5.7.10] said: 550 5.1.1" is 5.1.1, not 5.7.10
_ENHANCED_IN_TEXT = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")


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
        # a transient bounce stays soft: the provider saw the failure, the code alone is no proof
        return "hard_bounce" if reported == "hard_bounce" else reported
    return reported


_PLAIN = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u2013": "-", "\u2014": "-", "\u00a0": " "}
)


def _fold(text: str) -> str:
    """Lower case, plain quotes and dashes, no accents: the form the wordings below are matched on."""
    text = unicodedata.normalize("NFKD", text.translate(_PLAIN))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(rf"\b(?:{p})\b" for p in patterns), re.MULTILINE)


# A full mailbox in the providers' own words (RFC 3463 X.2.2, "persistent transient"): Outlook /
# Exchange "the recipient's mailbox is full", "mailbox size limit exceeded", "is over its size
# limit"; Gmail "inbox is out of storage space", "is over quota"; Yahoo "mailbox full", "quota
# exceeded"; RFC 5321's 452/552 texts "insufficient system storage", "exceeded storage allocation".
# "message size exceeds ..." (the message too large, a sender block) does not match.
_FULL = _words(
    r"(?:mail\s?box|inbox|mail\s?folder|mail\s?store|disk|storage|account)(?:\s+\w+){0,2}?\s+"
    r"(?:is\s+|was\s+|has\s+become\s+|currently\s+)?full(?!\s+name)",
    r"full\s+(?:mail\s?box|inbox)",
    r"(?:over)?quotas?",
    r"(?:insufficient|not\s+enough|out\s+of|no(?:\s+more)?|lack\s+of)\s+(?:\w+\s+)?(?:storage|disk\s+space|space)",
    r"(?:exceed(?:s|ed|ing)?|over|reached)\s+(?:\w+\s+){0,2}?storage(?:\s+(?:allocation|limit|quota))?",
    r"storage\s+(?:allocation|limit|quota|space)(?:\s+\w+){0,2}?\s+(?:exceeded|reached|full)",
    r"(?:mail\s?box|inbox|storage)(?:\s+\w+){0,3}?\s+(?:size\s+|storage\s+)?limit",
)
# The receiving side asks for a later retry (a temporary condition, not a refusal of the address)
_TEMPORARY = _words(
    r"temporar(?:y|ily)",
    r"deferred",
    r"(?:try|retry)(?:ing)?(?:\s+\S+){0,4}?\s+later",
)
# Policy wording, as whole words: "unblocked", "spamexperts" are no policy
_SENDER = _words(
    r"blocked",
    r"(?:anti-?)?spam(?:my|ming|med|mer|s)?",
    r"spamhaus|spamcop",
    r"polic(?:y|ies)",
    r"black\s?list(?:ed|ing)?",
    r"block\s?list(?:ed|ing)?",
    r"reputation",
)
# The address itself is unknown (checked before the policy words: an unknown user is hard
# whatever relay or address around it reads like a policy)
_UNKNOWN_USER = _words(
    r"no\s+such\s+(?:user|mailbox|address|recipient|account)",
    r"(?:user|recipient|address|mailbox|account)\s+(?:unknown|not\s+found|(?:does\s*n[o']?t|do\s+not)\s+exist)",
    r"unknown\s+(?:user|recipient|address|mailbox)",
    r"(?:user|recipient|address|mailbox|account)\s+(?:could\s*n[o']?t|can\s*n[o']?t|cannot)\s+be\s+found",
)
# Addresses and host names in a DSN (the recipient's, a relay's), taken out before the unknown-user
# and policy words are read: ``pat@policygenius.example``, ``spam.acme.example``. Read on the text
# as written: a host name is lower case, "blocked.Please" is two sentences run together. An
# address is taken from the start of its run of non-spaces (searched from every position inside
# a long run, ``\S+@`` was quadratic).
_ADDRESS_OR_HOST = re.compile(r"(?<!\S)[^\s@]*@\S*|\b(?:[a-z0-9][a-z0-9-]*\.)+[a-z]{2,63}\b")
# An automatic reply (out of office, leave, away until...) in English, German, French, Spanish
_AUTO_REPLY = _words(
    r"out\s+of\s+(?:the\s+)?office",
    r"ooo",
    r"auto(?:matic|mated)?[\s-]?(?:reply|replies|response|responder|antwort)",
    r"auto(?:reply|responder|antwort)",
    r"away\s+(?:from\s+(?:the\s+|my\s+)?(?:office|desk|e-?mail|work)|until|till|through|on)",
    r"(?:currently|presently)\s+(?:away|out|travell?ing|on\s+(?:leave|vacation|holiday))",
    r"out\s+(?:until|till|through|thru)",
    r"on\s+(?:(?:annual|parental|maternity|paternity|sick|medical|study)\s+)?"
    r"(?:leave|vacation|holidays?|pto|sabbatical)",
    r"(?:limited|no|intermittent)\s+access\s+to\s+(?:my\s+)?(?:e-?mails?|messages)",
    r"(?:i\s+will|i'll)\s+(?:be\s+)?(?:back|return)",
    r"(?:back|returning)\s+(?:(?:in|to)\s+the\s+office\s+)?on",
    r"abwesenheit\w*|abwesend|nicht\s+im\s+buro",
    r"reponse\s+automatique|absente?\s+du\s+bureau|en\s+conges?",
    r"respuesta\s+automatica|fuera\s+de\s+(?:la\s+)?oficina|de\s+vacaciones",
)
# What a delivery failure says (and an auto-reply does not): with any of it the text is a DSN
_FAILURE = _words(
    r"undeliver(?:able|ed)|non[\s-]?delivery",
    r"delivery\s+(?:has\s+|have\s+)?failed|failed\s+(?:to\s+deliver|delivery|recipients?)",
    r"(?:could\s*n[o']?t|can\s*n[o']?t|cannot|was\s*n[o']?t|were\s*n[o']?t|not|never)\s+(?:be\s+)?delivered",
    r"delivery\s+(?:status\s+)?notification|returned\s+mail|mailer[\s-]daemon",
    r"mail\s+delivery\s+(?:failed|failure|system|subsystem)",
    r"rejected|refused|bounced?",
    r"does\s*n[o']?t\s+exist|do\s+not\s+exist|no\s+such\s+(?:user|mailbox|address|recipient|account)",
    r"(?:user|recipient|address|mailbox|account)\s+(?:unknown|not\s+found|unavailable|disabled)",
    r"unknown\s+(?:user|recipient|address|mailbox)|invalid\s+(?:recipient|address|mailbox|user)",
    r"permanent(?:ly)?\s+(?:error|failure|failed)|fatal\s+error",
)
# A basic SMTP reply code opening a line ("550 ...", "smtp; 452 ..."), not a number in a sentence
# (spaces and tabs only: ``\s*`` ran over every following newline at each line start, quadratic)
_LEADING_CODE = re.compile(r"^[ \t]*(?:smtp;[ \t]*)?([245])\d\d\b", re.MULTILINE)
# ...or one a server's answer is quoted with ("host mx[ip] said: 421 ...", "responded: 450 ..."):
# after a colon, not a size ("size: 412 KB")
_QUOTED_CODE = re.compile(
    r":[ \t]*(?:smtp;[ \t]*)?([245])\d\d\b(?![ \t]*(?:[kmg]i?b|bytes?|kilobytes?|megabytes?)\b)"
)


def reads_as_auto_reply(text: str | None) -> bool:
    """True when a "bounce" text is an automatic reply (out of office, on leave, away until...): no
    SMTP status code (enhanced anywhere, or a reply code opening a line), no delivery-failure
    wording, and auto-reply wording. Sending tools that detect bounces by reading the mailbox file
    such replies as bounces; the address did not fail."""
    if not text or smtp_status(text) or _LEADING_CODE.search(text):
        return False
    folded = _fold(text)
    return bool(_AUTO_REPLY.search(folded)) and not _FAILURE.search(folded)


def classify_dsn(text: str | None) -> BounceKind:
    """Hard/soft/sender-block from free DSN text (Smartlead, Instantly): codes first, then words.

    An enhanced code decides (``classify_status``); else a 4xx reply code opening a line or quoted
    after a colon ("said: 421 ..."; a size, "412 KB", is no reply code), or full-mailbox, quota, storage or retry-later wording, is soft;
    unknown-user wording hard; policy words a sender block (words are read with the text's
    addresses and host names left out); an automatic reply (``reads_as_auto_reply``) soft,
    never hard; anything else hard."""
    status = smtp_status(text)
    if status:
        return classify_status(status, "hard_bounce")
    lowered = _fold(text or "")
    basic = _LEADING_CODE.search(lowered) or _QUOTED_CODE.search(lowered)
    if basic and basic.group(1) == "4":
        return "soft_bounce"
    if _FULL.search(lowered) or _TEMPORARY.search(lowered):
        return "soft_bounce"
    words = _fold(_ADDRESS_OR_HOST.sub(" ", text or ""))
    if _UNKNOWN_USER.search(words):
        return "hard_bounce"
    if _SENDER.search(words):
        return "sender_block"
    if reads_as_auto_reply(text):
        return "soft_bounce"
    return "hard_bounce"
