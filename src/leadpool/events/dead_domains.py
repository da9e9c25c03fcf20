"""Dead domains: a permanent bounce saying the recipient's domain accepts no mail closes it to email.

SMTP 5.1.2 ("bad destination system": the domain does not exist or cannot accept mail) and
5.1.10 (null MX, RFC 7505) fail the whole domain, not one mailbox; the compliance reference:
"suppress, ideally with a domain-level flag", "suppress the domain". A company that shut down
leaves every one of its people in bought data: without the flag each colleague was emailed and
bounced in turn, and each bounce counted against the mailbox's and the campaign's bounce guards.

* Only a hard bounce (a 5.x.x code; a provider's temporary "No MX" is a soft bounce and never
  closes anything, nor does a bounce the provider called transient whatever its code, nor a
  provider's drop) whose enhanced status is one of ``DEAD_DOMAIN_STATUSES``; not when the
  server's text says the recipient was not found (RecipientNotFound), and 5.1.10 only with null-MX
  or domain wording in the text (``closing_domain``).
* Not for the big mailbox providers (``MAILBOX_PROVIDERS``): their domains always accept mail, so
  such a code for them is a misreport (a DNS failure on the sending side), and trusting it would
  stop email to a large share of the pool. The bounced address itself is suppressed as any hard
  bounce is.
* The domain stays closed for ``LEADPOOL_EVENTS_DEAD_DOMAIN_DAYS`` (90) after the latest such
  bounce: a lapsed domain may be registered and configured again, and a domain's mail set-up may
  be fixed. ``0`` turns the flag off. An operator who knows the domain works again revives it
  (``revive_domain``, audited).
* The gate denies ``email_bounced`` (with ``retry_after``, the row's ``until``) to an email whose
  address is at a closed domain, exactly (a subdomain has its own mail set-up); LinkedIn, texts and
  calls stay open. Addresses the pool does not hold yet are covered too: the gate reads the
  domain at check time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from leadpool.errors import InvalidInput
from leadpool.events import effects as fx
from leadpool.ingestion.normalize import NotNormalisable, normalize_email
from leadpool.models import AuditLog, DeadDomain

#: enhanced status codes that fail the domain (RFC 3463 X.1.2, RFC 7505 X.1.10)
DEAD_DOMAIN_STATUSES = frozenset({"5.1.2", "5.1.10"})

# the receiving server says the mailbox is unknown (Microsoft 365: RESOLVER.ADR.RecipientNotFound)
_RECIPIENT_NOT_FOUND = re.compile(r"recipient\s*not\s*found", re.IGNORECASE)
# the domain accepts no mail: RFC 7505 null MX ("nullMX", "null MX"), "domain does not accept mail"
_NULL_MX = re.compile(
    r"\bnull[\s-]?mx\b|\bdomain\b(?:\s+\S+){0,3}?\s+(?:does\s*n[o']?t|do\s+not|cannot|can\s*n[o']?t|will\s+not)"
    r"\s+(?:accept|receive)",
    re.IGNORECASE,
)
# a text of codes only ("smtp; 550 5.1.10"): no words to read
_WORDLESS = re.compile(r"(?:smtp;|[\d.\s;:])*", re.IGNORECASE)

#: the kind of ``effects.guard_lock`` key a domain's row is written under
DOMAIN_LOCK = "dead-domain"

#: mailbox providers whose domains always accept mail: a 5.1.2 for one is the sender's DNS failing
MAILBOX_PROVIDERS = frozenset(
    {
        # Google, Microsoft, Yahoo, Apple, AOL and their country domains
        "gmail.com", "googlemail.com", "google.com",
        "outlook.com", "outlook.de", "outlook.fr", "outlook.es", "outlook.it", "outlook.jp",
        "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es",
        "hotmail.nl", "hotmail.be", "hotmail.ca", "hotmail.com.br", "hotmail.com.ar", "hotmail.co.jp",
        "live.com", "live.co.uk", "live.fr", "live.de", "live.it", "live.nl", "live.be", "live.ca",
        "live.com.au", "msn.com", "microsoft.com", "office365.com", "passport.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.es", "yahoo.ca",
        "yahoo.com.au", "yahoo.co.in", "yahoo.co.jp", "yahoo.com.br", "yahoo.com.ar", "yahoo.com.mx",
        "ymail.com", "rocketmail.com", "icloud.com", "me.com", "mac.com", "apple.com",
        "aol.com", "aol.co.uk", "aim.com", "verizon.net",
        # privacy and independent providers
        "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "tuta.io",
        "zoho.com", "zohomail.com", "fastmail.com", "fastmail.fm", "mail.com", "email.com", "hey.com",
        # European ISPs and portals
        "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "web.de", "t-online.de", "freenet.de",
        "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "laposte.net", "libero.it", "virgilio.it",
        "tiscali.it", "alice.it", "btinternet.com", "sky.com", "virginmedia.com", "talktalk.net",
        "ntlworld.com", "blueyonder.co.uk", "bluewin.ch", "seznam.cz", "wp.pl", "o2.pl", "onet.pl",
        "interia.pl", "telenet.be", "skynet.be", "ziggo.nl", "kpnmail.nl", "home.nl", "planet.nl",
        "telia.com", "online.no",
        # Russia, Asia, the Americas, Oceania
        "yandex.com", "yandex.ru", "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru",
        "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sohu.com", "aliyun.com",
        "naver.com", "daum.net", "hanmail.net", "rediffmail.com",
        "uol.com.br", "bol.com.br", "terra.com.br", "ig.com.br",
        "comcast.net", "att.net", "sbcglobal.net", "bellsouth.net", "charter.net", "cox.net",
        "earthlink.net", "optonline.net", "shaw.ca", "rogers.com", "sympatico.ca", "videotron.ca",
        "bigpond.com", "bigpond.net.au", "optusnet.com.au", "xtra.co.nz",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Dead:
    """One closed domain, as listed and as revived."""

    domain: str
    smtp_status: str
    since: datetime
    until: datetime
    cause_event_id: int
    bounces: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "smtp_status": self.smtp_status,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "cause_event_id": self.cause_event_id,
            "bounces": self.bounces,
        }


def closing_domain(smtp_status: object, email: str | None, days: int, *, text: str = "") -> str | None:
    """The domain a hard bounce of ``email`` (normalised, as events carry it) with this enhanced
    status closes; None when it closes none (another code, a mailbox provider, the flag off, a
    text saying the recipient was not found, a 5.1.10 whose text says nothing of the domain).

    ``text``: the receiving server's words, as the event has them. Microsoft 365 answers an
    unknown mailbox ``550 5.1.10 RESOLVER.ADR.RecipientNotFound``: the recipient, not the domain.
    So a 5.1.10 with words closes only with null-MX or domain wording (RFC 7505's "Recipient
    address has null MX", "domain does not accept mail"); 5.1.2 is "bad destination system"
    whatever its words. A bare code (the API's and CLI's ``smtp_status``, an adapter that keeps no
    text) is read as the code says."""
    if days <= 0 or not email or not (isinstance(smtp_status, str) and smtp_status in DEAD_DOMAIN_STATUSES):
        return None
    if _RECIPIENT_NOT_FOUND.search(text):
        return None
    if smtp_status == "5.1.10" and not _WORDLESS.fullmatch(text) and not _NULL_MX.search(text):
        return None
    domain = email.rpartition("@")[2]
    return domain if domain and domain not in MAILBOX_PROVIDERS else None


def close_domain(
    session: Session, domain: str, smtp_status: str, *, event_id: int, at: datetime, days: int
) -> bool:
    """Close ``domain`` to email for ``days`` after ``at``, the bounce's time. A later bounce moves
    ``until`` on; an earlier one arriving late does not pull it back, and one from before the
    domain was last revived (a provider's late delivery of the same dead spell) changes nothing:
    False then."""
    # a delivery of several bounces takes its domains' locks up front, sorted with its guards'
    # (record.lock_leads_of): row locks taken bounce by bounce could deadlock two deliveries
    fx.guard_lock(session, (DOMAIN_LOCK, domain))
    revived = session.scalar(
        text(
            "SELECT max(at) FROM audit_log WHERE action = 'domain.revive' AND subject_type = 'domain' "
            "AND subject_id = :d"
        ),
        {"d": domain},
    )
    if revived is not None and at <= revived:
        return False
    session.execute(
        text(
            "INSERT INTO dead_domains AS d (domain, smtp_status, since, until, cause_event_id) "
            "VALUES (:d, :s, :at, :until, :e) "
            "ON CONFLICT (domain) DO UPDATE SET since = least(d.since, EXCLUDED.since), "
            " bounces = d.bounces + 1, "
            " smtp_status = CASE WHEN EXCLUDED.until > d.until THEN EXCLUDED.smtp_status ELSE d.smtp_status END, "
            " cause_event_id = CASE WHEN EXCLUDED.until > d.until THEN EXCLUDED.cause_event_id "
            "  ELSE d.cause_event_id END, "
            " until = greatest(d.until, EXCLUDED.until)"
        ),
        {"d": domain, "s": smtp_status, "at": at, "until": at + timedelta(days=days), "e": event_id},
    )
    return True


def dead_domains(
    session: Session, *, at: datetime, after: str | None = None, limit: int | None = None
) -> list[Dead]:
    """The domains closed to email at ``at``, by name: those after ``after`` (a page's last
    domain), at most ``limit``."""
    q = select(DeadDomain).where(DeadDomain.until > at)
    if after is not None:
        q = q.where(DeadDomain.domain > after)
    rows = session.scalars(q.order_by(DeadDomain.domain).limit(limit))
    return [_dead(r) for r in rows]


def revive_domain(session: Session, value: str, *, actor: str, at: datetime) -> Dead | None:
    """Open a closed domain to email again (its mail works again); an ``audit_log`` row
    ``domain.revive``. None when it was not closed at ``at``. Flushes, never commits.

    ``value`` is read as an address's domain is stored (``www.oldco.example`` stays itself), and
    as the blocklist reads a domain (``https://www.Acme.com/`` is ``acme.com``)."""
    if not actor.strip():
        raise InvalidInput("actor: must not be empty (who revives the domain is kept in the audit log)")
    spellings = _spellings(value)
    # the closing bounces' lock, in their sorted order: a bounce from before this revive, being
    # recorded now, would otherwise not see the revive and close the domain again once it commits
    for domain in sorted(set(spellings)):
        fx.guard_lock(session, (DOMAIN_LOCK, domain))
    row = None
    for domain in spellings:  # as stored first: www.oldco.example is not oldco.example
        row = session.scalars(
            delete(DeadDomain).where(DeadDomain.domain == domain, DeadDomain.until > at).returning(DeadDomain)
        ).first()
        if row is not None:
            break
    if row is None:
        return None
    revived = _dead(row)
    session.add(
        AuditLog(
            at=at,
            actor=actor.strip(),
            action="domain.revive",
            subject_type="domain",
            subject_id=revived.domain,
            detail={k: v for k, v in revived.as_dict().items() if k != "domain"},
        )
    )
    session.flush()
    return revived


def _spellings(value: str) -> list[str]:
    """The stored forms ``value`` may name: as an address's domain, and as a domain the blocklist
    reads; InvalidInput when it is neither."""
    # imported here: leadpool.privacy imports the events package (erasure records through it)
    from leadpool.privacy.domains import canonical_domain

    out = []
    try:
        email = normalize_email(f"a@{value.strip().lstrip('@').rstrip('.')}")
    except NotNormalisable:
        email = None
    if email is not None:
        out.append(email.partition("@")[2])
    try:
        out.append(canonical_domain(value))
    except InvalidInput:
        if not out:
            raise
    return out


def _dead(row: DeadDomain) -> Dead:
    return Dead(row.domain, row.smtp_status, row.since, row.until, row.cause_event_id, row.bounces)
