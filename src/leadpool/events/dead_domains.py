"""Dead domains: a permanent bounce saying the recipient's domain accepts no mail closes it to email.

SMTP 5.1.2 ("bad destination system": the domain does not exist or cannot accept mail) and
5.1.10 (null MX, RFC 7505) fail the whole domain, not one mailbox; the compliance reference:
"suppress, ideally with a domain-level flag", "suppress the domain". A company that shut down
leaves every one of its people in bought data: without the flag each colleague was emailed and
bounced in turn, and each bounce counted against the mailbox's and the campaign's bounce guards.

* Only a hard bounce (a 5.x.x code; a provider's temporary "No MX" is a soft bounce and never
  closes anything) whose enhanced status is one of ``DEAD_DOMAIN_STATUSES``.
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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from leadpool.errors import InvalidInput
from leadpool.events import effects as fx
from leadpool.models import AuditLog, DeadDomain

#: enhanced status codes that fail the domain (RFC 3463 X.1.2, RFC 7505 X.1.10)
DEAD_DOMAIN_STATUSES = frozenset({"5.1.2", "5.1.10"})

#: the kind of ``effects.guard_lock`` key a domain's row is written under
DOMAIN_LOCK = "dead-domain"

#: mailbox providers whose domains always accept mail: a 5.1.2 for one is the sender's DNS failing
MAILBOX_PROVIDERS = frozenset(
    {
        "gmail.com", "googlemail.com", "google.com",
        "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "live.com", "msn.com",
        "microsoft.com", "office365.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com", "rocketmail.com",
        "icloud.com", "me.com", "mac.com", "apple.com",
        "aol.com", "proton.me", "protonmail.com", "pm.me", "zoho.com", "zohomail.com",
        "gmx.com", "gmx.net", "gmx.de", "web.de", "t-online.de", "orange.fr", "free.fr",
        "mail.com", "yandex.com", "yandex.ru", "mail.ru", "qq.com", "163.com", "126.com",
        "naver.com", "fastmail.com", "comcast.net", "verizon.net", "att.net",
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


def closing_domain(smtp_status: object, email: str | None, days: int) -> str | None:
    """The domain a hard bounce of ``email`` (normalised, as events carry it) with this enhanced
    status closes; None when it closes none (another code, a mailbox provider, the flag off)."""
    if days <= 0 or not email or not (isinstance(smtp_status, str) and smtp_status in DEAD_DOMAIN_STATUSES):
        return None
    domain = email.rpartition("@")[2]
    return domain if domain and domain not in MAILBOX_PROVIDERS else None


def close_domain(
    session: Session, domain: str, smtp_status: str, *, event_id: int, at: datetime, days: int
) -> None:
    """Close ``domain`` to email for ``days`` after ``at``, the bounce's time. A later bounce moves
    ``until`` on; an earlier one arriving late does not pull it back."""
    # a delivery of several bounces takes its domains' locks up front, sorted with its guards'
    # (record.lock_leads_of): row locks taken bounce by bounce could deadlock two deliveries
    fx.guard_lock(session, (DOMAIN_LOCK, domain))
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


def dead_domains(session: Session, *, at: datetime) -> list[Dead]:
    """The domains closed to email at ``at``, by name."""
    rows = session.scalars(select(DeadDomain).where(DeadDomain.until > at).order_by(DeadDomain.domain))
    return [_dead(r) for r in rows]


def revive_domain(session: Session, value: str, *, actor: str, at: datetime) -> Dead | None:
    """Open a closed domain to email again (its mail works again); an ``audit_log`` row
    ``domain.revive``. None when it was not closed. Flushes, never commits."""
    if not actor.strip():
        raise InvalidInput("actor: must not be empty (who revives the domain is kept in the audit log)")
    # imported here: leadpool.privacy imports the events package (erasure records through it)
    from leadpool.privacy.domains import canonical_domain

    domain = canonical_domain(value)
    row = session.scalars(delete(DeadDomain).where(DeadDomain.domain == domain).returning(DeadDomain)).first()
    if row is None:
        return None
    revived = _dead(row)
    session.add(
        AuditLog(
            at=at,
            actor=actor.strip(),
            action="domain.revive",
            subject_type="domain",
            subject_id=domain,
            detail={k: v for k, v in revived.as_dict().items() if k != "domain"},
        )
    )
    session.flush()
    return revived


def _dead(row: DeadDomain) -> Dead:
    return Dead(row.domain, row.smtp_status, row.since, row.until, row.cause_event_id, row.bounces)
