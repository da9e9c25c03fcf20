"""The hidden truth of the simulated world: how each person really responds to outreach.

Every lead gets true probabilities from its segment (industry x seniority x email_status x
company-size band): of replying on each channel, of a reply being positive, of an email
hard-bouncing, of unsubscribing or complaining, and of an interested lead converting. A segment's
rates are a readable base (channel, seniority, email_status) times a hidden per-segment effect
drawn from the seed, so the truth is not a formula an insight engine could read off the code:
it has to be learned from outcomes. Everything is deterministic for ``(seed, lead)``.

Nothing here talks to the service: the simulator consults the world after a touch is sent to
decide what the person does, and reports that as events through the API like a provider would.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from leadpool.events.dead_domains import MAILBOX_PROVIDERS
from leadpool.gate.statements import COUNTRY_CODE_SQL

CHANNELS = ("email", "linkedin", "sms", "phone")
DEAD_DOMAIN = "dead_domain"  # a bounce's category: the whole domain accepts no mail
REPLY_CATEGORIES = ("interested", "not_interested", "out_of_office", "unsubscribe", "wrong_person", "other")

# Readable bases; the hidden segment effect multiplies them.
BASE_REPLY = {"email": 0.030, "linkedin": 0.045, "sms": 0.035, "phone": 0.060}
SENIORITY_LIFT = {
    "owner": 1.5,
    "founder": 1.4,
    "c_suite": 1.2,
    "partner": 1.2,
    "vp": 1.0,
    "head": 1.0,
    "director": 0.9,
    "manager": 0.8,
    "senior": 0.7,
    "entry": 0.6,
    "intern": 0.4,
}
# Guessed and extrapolated addresses bounce far more often than verified ones.
BOUNCE_BY_STATUS = {"verified": 0.012, "extrapolated": 0.09, "guessed": 0.24, "unverified": 0.30}
# Companies that shut down: their domain accepts no mail any more, and every address at it bounces
# with SMTP 5.1.2 (bought data keeps their people for years). Mailbox providers never do.
DEFUNCT_DOMAIN_SHARE = 0.02
UNSUBSCRIBE_PER_EMAIL = 0.006
COMPLAINT_PER_EMAIL = 0.003
CONVERT_IF_INTERESTED = 0.5


def size_band(employees: int | None) -> str:
    if employees is None:
        return "unknown"
    for limit, band in ((10, "1-10"), (50, "11-50"), (200, "51-200"), (1000, "201-1000")):
        if employees <= limit:
            return band
    return "1000+"


@dataclass(frozen=True)
class Segment:
    industry: str
    seniority: str
    email_status: str
    size_band: str

    def key(self) -> str:
        return f"{self.industry}|{self.seniority}|{self.email_status}|{self.size_band}"


@dataclass(frozen=True)
class SegmentTruth:
    """The true rates of one segment (hidden from the service)."""

    segment: Segment
    reply: dict[str, float]  # per channel, per delivered touch
    positive: float  # P(interested | reply that is not an auto-reply or opt-out)
    bounce: float  # P(hard bounce | email sent)
    unsubscribe: float  # P(unsubscribe link | email delivered)
    complaint: float  # P(spam report | email delivered)
    convert: float  # P(conversion | interested)

    def as_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment.key(),
            "industry": self.segment.industry,
            "seniority": self.segment.seniority,
            "email_status": self.segment.email_status,
            "size_band": self.segment.size_band,
            "reply": {k: round(v, 5) for k, v in self.reply.items()},
            "positive": round(self.positive, 5),
            "bounce": round(self.bounce, 5),
            "unsubscribe": round(self.unsubscribe, 5),
            "complaint": round(self.complaint, 5),
            "convert": round(self.convert, 5),
        }


@dataclass(frozen=True)
class Person:
    """What the world knows about a lead (read once from the pool)."""

    lead_id: int
    segment: Segment
    time_zone: str | None
    email: str | None
    company_id: int | None
    country_code: str | None = None  # ISO alpha-2, as the gate reads it (country_names)


@dataclass(frozen=True)
class Outcome:
    """What one sent touch caused. ``kind`` is one of: bounce, complaint, unsubscribe, reply; a
    bounce's ``category`` is ``DEAD_DOMAIN`` when the domain itself accepts no mail."""

    kind: str
    delay: timedelta
    category: str | None = None
    return_date: date | None = None
    converts_after: timedelta | None = None  # interested replies that become customers


def _unit(*parts: object) -> float:
    """A deterministic uniform number in [0, 1) from the parts (stable across runs and Pythons)."""
    h = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


class World:
    """Hidden truth per segment and per lead; outcomes of touches, deterministic for the seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.people: dict[int, Person] = {}
        self._truth: dict[Segment, SegmentTruth] = {}
        self._touch_no: dict[int, int] = {}

    # --- who is who ---------------------------------------------------------------------

    def load(self, conn: Connection, lead_ids: list[int] | None = None) -> int:
        """Read the segment fields of leads (all, or ``lead_ids``) not known yet; returns how many."""
        sql = (
            "SELECT l.id, lower(coalesce(c.industry, 'unknown')), coalesce(l.seniority, 'unknown'), "
            "coalesce(l.email_status, 'none'), c.estimated_num_employees, l.time_zone, l.email, l.company_id, "
            f"{COUNTRY_CODE_SQL} "
            "FROM leads l LEFT JOIN companies c ON c.id = l.company_id"
        )
        params: dict[str, Any] = {}
        if lead_ids is not None:
            todo = sorted({i for i in lead_ids if i not in self.people})
            if not todo:
                return 0
            sql += " WHERE l.id = ANY(:ids)"
            params["ids"] = todo
        n = 0
        for lid, industry, seniority, status, employees, tz, email, company, country in conn.execute(
            text(sql), params
        ):
            seg = Segment(industry, seniority, status, size_band(employees))
            self.people[int(lid)] = Person(int(lid), seg, tz, email, company, country)
            n += 1
        return n

    def gave_consent(self, lead_id: int) -> bool:
        """Whether the person is on the agencies' webinar list (half of them, fixed by the seed)."""
        return _unit(self.seed, "consent", lead_id) < 0.5

    # --- the truth ----------------------------------------------------------------------

    def truth(self, segment: Segment) -> SegmentTruth:
        t = self._truth.get(segment)
        if t is None:
            t = self._truth[segment] = self._make_truth(segment)
        return t

    def _make_truth(self, s: Segment) -> SegmentTruth:
        # the hidden effect: log-uniform in [0.5, 2] per segment, another for positivity
        effect = 2 ** (2 * _unit(self.seed, "reply", s.key()) - 1)
        positivity = 2 ** (2 * _unit(self.seed, "positive", s.key()) - 1)
        lift = SENIORITY_LIFT.get(s.seniority, 0.8)
        size = {"1-10": 1.2, "11-50": 1.1, "51-200": 1.0, "201-1000": 0.9, "1000+": 0.7}.get(s.size_band, 0.9)
        reply = {ch: min(0.5, BASE_REPLY[ch] * lift * size * effect) for ch in CHANNELS}
        return SegmentTruth(
            segment=s,
            reply=reply,
            positive=min(0.8, 0.3 * positivity),
            bounce=BOUNCE_BY_STATUS.get(s.email_status, 0.3),
            unsubscribe=UNSUBSCRIBE_PER_EMAIL * (2 - positivity / 2),
            complaint=COMPLAINT_PER_EMAIL * (2 - positivity / 2),
            convert=CONVERT_IF_INTERESTED,
        )

    def defunct(self, email: str | None) -> bool:
        """Whether the address's domain belongs to a company that shut down (fixed by the seed)."""
        domain = email.rpartition("@")[2] if email else ""
        return (
            bool(domain)
            and domain not in MAILBOX_PROVIDERS
            and _unit(self.seed, "defunct", domain) < DEFUNCT_DOMAIN_SHARE
        )

    def truth_of(self, lead_id: int) -> SegmentTruth:
        return self.truth(self.people[lead_id].segment)

    def truth_table(self) -> list[dict[str, Any]]:
        """The true rates of every segment met so far (for backtests of learned scores)."""
        for p in self.people.values():
            self.truth(p.segment)
        return [t.as_dict() for _, t in sorted(self._truth.items(), key=lambda kv: kv[0].key())]

    # --- what a touch causes ----------------------------------------------------------------

    def outcomes(self, lead_id: int, channel: str, at: datetime) -> list[Outcome]:
        """What the person does after a touch sent at ``at`` on ``channel`` (maybe nothing)."""
        n = self._touch_no.get(lead_id, 0)
        self._touch_no[lead_id] = n + 1
        rng = random.Random(f"{self.seed}:{lead_id}:{n}")
        t = self.truth_of(lead_id)
        if channel == "email" and self.defunct(self.people[lead_id].email):
            return [Outcome("bounce", timedelta(minutes=rng.randint(1, 40)), DEAD_DOMAIN)]
        if channel == "email":
            if rng.random() < t.bounce:
                return [Outcome("bounce", timedelta(minutes=rng.randint(1, 40)))]
            if rng.random() < t.complaint:
                return [Outcome("complaint", timedelta(hours=rng.uniform(2, 30)))]
            if rng.random() < t.unsubscribe:
                return [Outcome("unsubscribe", timedelta(hours=rng.uniform(1, 30)))]
        if rng.random() >= t.reply[channel]:
            return []
        delay = timedelta(hours=rng.uniform(1.5, 60))
        category = self._category(rng, t, channel)
        if category == "out_of_office":
            back = (at + delay).date() + timedelta(days=rng.randint(3, 12))
            return [Outcome("reply", timedelta(minutes=rng.randint(2, 50)), category, return_date=back)]
        converts = None
        if category == "interested" and rng.random() < t.convert:
            converts = delay + timedelta(days=rng.uniform(2, 8))
        return [Outcome("reply", delay, category, converts_after=converts)]

    @staticmethod
    def _category(rng: random.Random, t: SegmentTruth, channel: str) -> str:
        auto = 0.14 if channel == "email" else 0.0  # only mailboxes answer out of office
        opt_out = 0.10 if channel in ("email", "sms") else 0.03
        wrong = 0.06
        other = 0.08
        rest = 1 - auto - opt_out - wrong - other
        weights = {
            "out_of_office": auto,
            "unsubscribe": opt_out,
            "wrong_person": wrong,
            "other": other,
            "interested": rest * t.positive,
            "not_interested": rest * (1 - t.positive),
        }
        x = rng.random() * sum(weights.values())
        for cat, w in weights.items():
            x -= w
            if x < 0:
                return cat
        return "other"
