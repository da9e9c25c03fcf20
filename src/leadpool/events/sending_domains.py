"""The sending-domain guard: a domain whose mailboxes together bounce or draw complaints past its
limit sends no more email from any of them.

Mailbox providers judge a sending domain as well as each mailbox (Gmail's spam rate is the
domain's), and cold senders spread a domain's volume over many mailboxes of 30-50 sends a day, so
each stays under its own guard (``leadpool.events.senders``) while the domain's rate passes the
compliance reference's limits: "auto-pause a domain at >=3%", "global stop at a complaint rate
>=0.1% over 7 days", "track per-domain complaint rate".

* An hourly sweep (``leadpool worker``; ``leadpool send domain-guard`` runs it at once) groups the
  email sends of the last ``LEADPOOL_EVENTS_SENDING_DOMAIN_GUARD_DAYS`` (7) by their sender's
  domain (the part after ``@`` of the mailbox), with the hard bounces (as the other bounce guards
  count them) and spam complaints about them; one spelling per domain (``leadpool_sender_domain``:
  a From header's ``Name <box@domain>``, trailing dots, case), the big mailbox providers left out
  (a gmail.com mailbox is no agency's domain: each such mailbox is judged alone). A domain with at
  least ``..._MIN_SENDS`` (200) sends
  whose hard-bounce rate passes ``SENDING_DOMAIN_BOUNCE_GUARD_RATE`` (0.03), or whose complaint
  rate passes ``SENDING_DOMAIN_COMPLAINT_GUARD_RATE`` (0.001) with at least
  ``COMPLAINT_GUARD_MIN_COMPLAINTS`` (2), is paused until someone resumes it.
* A pause is a ``sender_pauses`` row keyed ``domain:DOMAIN`` (reason ``domain_bounce_guard`` or
  ``domain_complaint_guard``; the latest counted event as its cause, so the agency whose send it
  was sees it in its paused senders). The gate denies ``sender_paused`` to every email check
  naming a mailbox at that domain, on every path (migration 0039).
* ``leadpool send resume-sender @domain`` ends it (audited), as for a mailbox. A resumed domain is
  paused again only by a counted bounce or complaint that happened after the resume, as a mailbox
  is only paused again by its next bounce: the window still shows the old rate for days.
* A sweep, not a check at each event: counting a domain's sends needs its mailboxes, and touches
  are indexed by mailbox, not by domain. The sweep reads the window's sends once through the
  campaigns' index of sent emails and their bounces and complaints through a partial index; the
  mailbox and campaign guards still react at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.events.dead_domains import MAILBOX_PROVIDERS
from leadpool.events.effects import COMPLAINT_EVENTS, HARD_BOUNCE_EVENTS
from leadpool.events.senders import DOMAIN_KEY_PREFIX, pause_sender
from leadpool.events.settings import EventSettings

# The window's email sends by their sender's domain, with their hard bounces and complaints. Sends
# through ix_touches_campaign_id_email_sent (its filter; sent_at is its second column), the
# counted events through ix_events_bad_sends_occurred_at (its filter): a bounce or complaint about
# a send of the window happened after it.
_RATES_SQL = f"""
WITH sends AS MATERIALIZED (
    SELECT t.id, leadpool_sender_domain(t.sender) AS domain
      FROM campaigns c
     CROSS JOIN LATERAL (
          SELECT t.id, t.sender FROM touches t
           WHERE t.campaign_id = c.id AND t.channel = 'email' AND t.state = 'sent'
             AND t.sent_at > :since AND t.sent_at <= :now) t
     WHERE leadpool_sender_domain(t.sender) IS NOT NULL
       AND NOT leadpool_sender_domain(t.sender) = ANY (CAST(:providers AS text[]))
), bad AS (
    SELECT e.touch_id,
           max(e.occurred_at) FILTER (WHERE {HARD_BOUNCE_EVENTS}) AS bounced_at,
           max(e.id) FILTER (WHERE {HARD_BOUNCE_EVENTS}) AS bounce_id,
           max(e.occurred_at) FILTER (WHERE {COMPLAINT_EVENTS}) AS complained_at,
           max(e.id) FILTER (WHERE {COMPLAINT_EVENTS}) AS complaint_id
      FROM events e
     WHERE e.touch_id IS NOT NULL AND e.type IN ('hard_bounce', 'soft_bounce', 'complaint')
       AND e.occurred_at > :since AND e.occurred_at <= :now
     GROUP BY e.touch_id
)
SELECT s.domain, count(*), count(b.bounced_at), count(b.complained_at),
       max(b.bounced_at), max(b.bounce_id), max(b.complained_at), max(b.complaint_id)
  FROM sends s LEFT JOIN bad b ON b.touch_id = s.id
 GROUP BY s.domain
HAVING count(*) >= :min_sends
 ORDER BY s.domain
"""


def domain_key(domain: str) -> str:
    """The ``sender_pauses`` key of a sending domain: ``domain:DOMAIN``."""
    return f"{DOMAIN_KEY_PREFIX}{domain}"


@dataclass(frozen=True)
class DomainRate:
    """One sending domain's window, as the sweep measured it, and what the sweep did."""

    domain: str
    sends: int
    hard_bounces: int
    complaints: int
    over: str | None  # the guard whose limit the rates pass (domain_bounce_guard...), None: neither
    paused: bool  # this sweep paused it (False: under the limits, already paused, or resumed since)

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "sends": self.sends,
            "hard_bounces": self.hard_bounces,
            "complaints": self.complaints,
            "bounce_rate": round(self.hard_bounces / self.sends, 6),
            "complaint_rate": round(self.complaints / self.sends, 6),
            "over": self.over,
            "paused": self.paused,
        }


def sweep(session: Session, settings: EventSettings, *, now: datetime) -> list[DomainRate]:
    """Measure every sending domain with enough sends in the window and pause those over a limit.
    Flushes, never commits. Returns the domains measured, by name."""
    days = settings.sending_domain_guard_days
    rows = session.execute(
        text(_RATES_SQL),
        {
            "since": now - timedelta(days=days),
            "now": now,
            "min_sends": settings.sending_domain_guard_min_sends,
            "providers": sorted(MAILBOX_PROVIDERS),
        },
    ).all()
    out = []
    for domain, sends, bounces, complaints, bounced_at, bounce_id, complained_at, complaint_id in rows:
        key = domain_key(domain)
        # each guard over its limit, with the latest event it counted: bounces first (the
        # reference's domain pause); each judged apart, so new complaints pause a domain resumed
        # while its old bounces still show in the window
        over = []
        if bounces >= 1 and bounces / sends > settings.sending_domain_bounce_guard_rate:
            over.append(("domain_bounce_guard", bounced_at, bounce_id))
        if (
            complaints >= settings.complaint_guard_min_complaints
            and complaints / sends > settings.sending_domain_complaint_guard_rate
        ):
            over.append(("domain_complaint_guard", complained_at, complaint_id))
        resumed = _resumed_at(session, key) if over else None
        fresh = [o for o in over if resumed is None or o[1] > resumed]
        paused = False
        if fresh:
            reason, cause_at, cause_id = fresh[0]
            detail = {"sends": sends, "hard_bounces": bounces, "complaints": complaints, "days": days}
            paused = pause_sender(session, key, reason, None, cause_id, cause_at, detail, now)
        out.append(DomainRate(domain, sends, bounces, complaints, over[0][0] if over else None, paused))
    return out


def _resumed_at(session: Session, key: str) -> datetime | None:
    """When someone last resumed ``key``: the window still shows the rate they dealt with, so only
    an event after that pauses it again."""
    resumed: datetime | None = session.scalar(
        text(
            "SELECT max(at) FROM audit_log WHERE action = 'sender.resume' AND subject_type = 'sender' "
            "AND subject_id = :k"
        ),
        {"k": key},
    )
    return resumed
