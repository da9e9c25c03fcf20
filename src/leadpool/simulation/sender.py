"""Simulated sending engines: they ask the gate (through the client) before every touch, confirm
what they send, and report what happened as events (SendGrid webhooks, ``POST /v1/events``).

One engine per campaign and channel, as in a real stack (a mail tool, a LinkedIn tool, an SMS
tool, a dialer). Each runs its own cadence in its own send waves and learns only from its own
channel: the email tool sees its bounces and the replies to its emails, the dialer knows nothing
of them. Without the gate they would contact a person who already replied, unsubscribed or
bounced, on several channels the same day; the gate's denials are exactly those touches.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from leadpool.client import ApiError, Decision, LeadpoolClient
from leadpool.simulation.world import DEAD_DOMAIN, Outcome, World

# Reasons after which an engine drops the lead for good (retrying cannot help).
FINAL_REASONS = frozenset(
    {
        "agency_inactive",
        "campaign_not_active",
        "campaign_bounce_guard",
        "campaign_complaint_guard",
        "channel_not_in_campaign",
        "not_owned",
        "not_enrolled",
        "no_address",
        "email_unverified",
        "unsubscribed",
        "complained",
        "email_bounced",
        "erased",
        "blocklisted",
        "domain_blocked",
        "no_consent",  # nobody grants one during a run
        "replied",
        "cooling",
        "converted",
        "unknown_timezone",
    }
)
MAX_RETRIES = 2
# A wave goes out within this many seconds of its hour. One wave is one check-batch per agency,
# and the gate treats an earlier item's reservation in a batch as live for a later item only
# within the reservation TTL (900 s by default), so a wave must be shorter than that.
WAVE_SECONDS = 13 * 60
BATCH = 1000  # the API's check-batch limit


@dataclass(order=True)
class Step:
    """One planned touch: engine ``engine`` wants to touch ``lead_id`` at ``due``."""

    due: datetime
    seq: int
    engine: tuple[str, str] = field(compare=False)  # (campaign key, channel)
    lead_id: int = field(compare=False)
    index: int = field(compare=False)
    attempts: int = field(default=0, compare=False)


@dataclass
class Engine:
    """One campaign's tool for one channel."""

    campaign_key: str
    campaign_id: int
    agency: str
    channel: str
    senders: tuple[str, ...]
    cadence: tuple[int, ...]
    zone: ZoneInfo
    waves: tuple[int, ...]  # local hours of the engine's send waves
    seed: int
    stopped: set[int] = field(default_factory=set)  # leads this engine will not touch again
    _next_sender: itertools.cycle[str] | None = None

    def sender(self) -> str:
        if self._next_sender is None:
            self._next_sender = itertools.cycle(self.senders)
        return next(self._next_sender)

    def send_time(self, day: date, lead_id: int, index: int) -> datetime:
        """The step's time on ``day``: one of the engine's waves, stable per lead and step."""
        rng = _rand(self.seed, self.campaign_key, self.channel, lead_id, index)
        hour = self.waves[int(rng * len(self.waves))]
        return self._at(day, hour, lead_id, index)

    def next_wave(self, after: datetime, lead_id: int, index: int) -> datetime:
        """The first send wave of this engine at or after ``after`` (a retry waits for one)."""
        day = after.astimezone(self.zone).date()
        for d in range(8):
            for hour in self.waves:
                t = self._at(day + timedelta(days=d), hour, lead_id, index)
                if t >= after:
                    return t
        return after

    def _at(self, day: date, hour: int, lead_id: int, index: int) -> datetime:
        seconds = int(_rand(self.seed, "minute", self.campaign_key, lead_id, index) * WAVE_SECONDS)
        local = datetime(day.year, day.month, day.day, hour, tzinfo=self.zone) + timedelta(seconds=seconds)
        return local.astimezone(ZoneInfo("UTC"))


def _rand(*parts: object) -> float:
    import hashlib

    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


@dataclass
class PendingEvent:
    """Something the world did, to be reported once its time has come."""

    at: datetime
    seq: int
    kind: str  # bounce, complaint, unsubscribe, reply, converted
    lead_id: int
    channel: str
    touch_id: int
    message_id: str
    engine: tuple[str, str]
    agency: str
    category: str | None = None
    return_date: date | None = None

    def __lt__(self, other: PendingEvent) -> bool:
        return (self.at, self.seq) < (other.at, other.seq)


@dataclass
class Tally:
    """What the engines did, from their side of the API."""

    attempted: int = 0
    allowed: int = 0
    denied: int = 0
    sent: int = 0
    cancelled: int = 0
    confirm_conflicts: int = 0
    gave_up: int = 0  # steps dropped after MAX_RETRIES temporary denials
    retried: int = 0
    denied_by_reason: Counter[str] = field(default_factory=Counter)  # every reason of every denial
    denied_by_first_reason: Counter[str] = field(default_factory=Counter)  # sums to ``denied``
    sent_by_channel: Counter[str] = field(default_factory=Counter)
    sent_by_day_channel: Counter[tuple[int, str]] = field(default_factory=Counter)
    denied_by_day: Counter[int] = field(default_factory=Counter)
    events_reported: Counter[str] = field(default_factory=Counter)  # type or reply:category
    events_duplicate: int = 0
    events_rejected: int = 0
    conversions_skipped: int = 0  # the owning agency had cancelled: no CRM left to report it
    sent_email_by_status: Counter[str] = field(default_factory=Counter)
    bounced_by_status: Counter[str] = field(default_factory=Counter)


class Fleet:
    """All engines, the plan of touches, and the events waiting to be reported."""

    def __init__(
        self,
        world: World,
        admin: LeadpoolClient,
        clients: dict[str, LeadpoolClient],
        sendgrid_headers: Callable[[bytes], dict[str, str]],
        start: datetime,
        *,
        threads: int = 6,
    ) -> None:
        self.world = world
        self.admin = admin
        self.clients = clients  # agency name -> its client
        self.sendgrid_headers = sendgrid_headers
        self.start = start
        self.engines: dict[tuple[str, str], Engine] = {}
        self.plan: list[Step] = []
        self.events: list[PendingEvent] = []
        self.tally = Tally()
        self.cancelled_agencies: set[str] = set()
        self._slot_end = start
        self._seq = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="engine")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # --- planning ---------------------------------------------------------------------------

    def add_engine(self, engine: Engine) -> None:
        self.engines[(engine.campaign_key, engine.channel)] = engine

    def enroll(self, campaign_key: str, lead_ids: Iterable[int], day: int) -> int:
        """Every engine of the campaign plans its cadence for the leads, from ``day``."""
        n = 0
        for lead_id in lead_ids:
            n += 1
            for (key, _channel), engine in self.engines.items():
                if key != campaign_key:
                    continue
                for index, offset in enumerate(engine.cadence):
                    d = (self.start + timedelta(days=day + offset)).date()
                    self._push(
                        Step(engine.send_time(d, lead_id, index), 0, (key, engine.channel), lead_id, index)
                    )
        return n

    def inject(self, engine_key: tuple[str, str], lead_ids: Iterable[int], due: datetime) -> None:
        """Touches planned outside the campaign (an engine working from a stale list)."""
        for i, lead_id in enumerate(lead_ids):
            self._push(Step(due + timedelta(seconds=20 * i), 0, engine_key, lead_id, 99))

    def _push(self, step: Step) -> None:
        step.seq = next(self._seq)
        heapq.heappush(self.plan, step)

    # --- one slot of simulated time ---------------------------------------------------------

    def run_slot(self, slot_start: datetime, slot_end: datetime, day: int) -> None:
        """Report what happened before ``slot_end``, then make every touch due in the slot."""
        self._slot_end = slot_end
        self.report_events(slot_end)
        due: list[Step] = []
        while self.plan and self.plan[0].due < slot_end:
            step = heapq.heappop(self.plan)
            if step.lead_id in self.engines[step.engine].stopped:
                continue
            # never expected (steps are planned ahead); an overdue one is checked at the slot's
            # start, so one batch never spans more simulated time than a reservation lives
            step.due = max(step.due, slot_start)
            due.append(step)
        by_agency: dict[str, list[Step]] = {}
        for step in due:
            by_agency.setdefault(self.engines[step.engine].agency, []).append(step)
        rounds = {agency: _rounds(steps) for agency, steps in by_agency.items()}
        for r in range(max((len(v) for v in rounds.values()), default=0)):
            work = [(agency, batches[r]) for agency, batches in rounds.items() if r < len(batches)]
            for wave in self._waves(work):
                self._decide(wave, day)

    def _waves(self, work: list[tuple[str, list[Step]]]) -> list[list[tuple[str, list[Step]]]]:
        """Agencies whose batches share no company cannot affect each other's caps: they ask at
        the same time. Otherwise one after the other, so each sees what the other just sent."""
        seen: set[int] = set()
        for _agency, steps in work:
            companies = {c for s in steps if (c := self._company(s.lead_id)) is not None}
            if companies & seen:
                return [[w] for w in work]
            seen |= companies
        return [work]

    def _company(self, lead_id: int) -> int | None:
        person = self.world.people.get(lead_id)
        return person.company_id if person else None

    def _decide(self, wave: list[tuple[str, list[Step]]], day: int) -> None:
        """Ask the gate for each agency's batch, then send (confirm) everything allowed."""
        asks = [(agency, self._items(steps), steps) for agency, steps in wave]
        answers = list(self._pool.map(lambda w: self.clients[w[0]].check_batch(w[1]), asks))
        allowed: list[tuple[str, Step, Decision]] = []
        for (agency, _items, steps), decisions in zip(asks, answers, strict=True):
            self.tally.attempted += len(decisions)
            for step, decision in zip(steps, decisions, strict=True):
                if decision.allowed and decision.touch_id is not None:
                    self.tally.allowed += 1
                    allowed.append((agency, step, decision))
                else:
                    self._denied(step, decision, day)
        confirmed = list(self._pool.map(lambda a: self._confirm(self.clients[a[0]], a[1], a[2]), allowed))
        for (_agency, step, decision), ok in zip(allowed, confirmed, strict=True):
            if ok:
                self._sent(step, decision, day)
            else:
                self.tally.confirm_conflicts += 1

    def _items(self, steps: list[Step]) -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        for s in steps:
            engine = self.engines[s.engine]
            items.append(
                {
                    "lead_id": s.lead_id,
                    "campaign_id": engine.campaign_id,
                    "channel": engine.channel,
                    "sender": engine.sender(),
                    "at": s.due,
                    "idempotency_key": f"{engine.campaign_id}:{s.lead_id}:{engine.channel}:{s.index}:{s.attempts}",
                }
            )
        return items

    def _confirm(self, client: LeadpoolClient, step: Step, decision: Decision) -> bool:
        assert decision.touch_id is not None
        engine = self.engines[step.engine]
        try:
            client.confirm_sent(decision.touch_id, _message_id(engine, decision.touch_id), at=step.due)
        except ApiError as e:
            if e.status == 409:
                return False
            raise
        return True

    def _denied(self, step: Step, decision: Decision, day: int) -> None:
        t = self.tally
        t.denied += 1
        t.denied_by_day[day] += 1
        codes = [r.code for r in decision.reasons]
        for code in codes:
            t.denied_by_reason[code] += 1
        t.denied_by_first_reason[codes[0] if codes else "unknown"] += 1
        engine = self.engines[step.engine]
        if any(c in FINAL_REASONS for c in codes):
            engine.stopped.add(step.lead_id)
            return
        if step.attempts >= MAX_RETRIES:
            t.gave_up += 1
            return
        # retry in the engine's first send wave after the gate says it may pass
        after = [r.retry_after for r in decision.reasons if r.retry_after is not None]
        base = max(after) if after else step.due + timedelta(days=1)
        retry = step.attempts + 1
        # never back into the slot being worked on: its batch would mix times further apart than
        # a reservation lives, and an earlier touch would look expired to a later one
        due = engine.next_wave(max(base, self._slot_end), step.lead_id, step.index + 7 * retry)
        t.retried += 1
        self._push(Step(due, 0, step.engine, step.lead_id, step.index, retry))

    def _sent(self, step: Step, decision: Decision, day: int) -> None:
        assert decision.touch_id is not None
        t = self.tally
        engine = self.engines[step.engine]
        t.sent += 1
        t.sent_by_channel[engine.channel] += 1
        t.sent_by_day_channel[(day, engine.channel)] += 1
        person = self.world.people.get(step.lead_id)
        status = person.segment.email_status if person else "unknown"
        if engine.channel == "email":
            t.sent_email_by_status[status] += 1
        for outcome in self.world.outcomes(step.lead_id, engine.channel, step.due):
            self._expect(outcome, step, engine, decision.touch_id)
            if outcome.kind == "bounce":
                t.bounced_by_status[status] += 1

    def _expect(self, o: Outcome, step: Step, engine: Engine, touch_id: int) -> None:
        at = step.due + o.delay
        ev = PendingEvent(
            at,
            next(self._seq),
            o.kind,
            step.lead_id,
            engine.channel,
            touch_id,
            _message_id(engine, touch_id),
            step.engine,
            engine.agency,
            o.category,
            o.return_date,
        )
        heapq.heappush(self.events, ev)
        if o.converts_after is not None:
            conv = PendingEvent(
                step.due + o.converts_after,
                next(self._seq),
                "converted",
                step.lead_id,
                engine.channel,
                touch_id,
                ev.message_id,
                step.engine,
                engine.agency,
            )
            heapq.heappush(self.events, conv)

    # --- reporting outcomes -------------------------------------------------------------------

    def report_events(self, until: datetime) -> None:
        """Report, through the API, every event that happened before ``until``."""
        ready: list[PendingEvent] = []
        while self.events and self.events[0].at < until:
            ready.append(heapq.heappop(self.events))
        if not ready:
            return
        mail = [e for e in ready if e.kind in ("bounce", "complaint", "unsubscribe")]
        other = [e for e in ready if e.kind in ("reply", "converted")]
        if mail:
            self._sendgrid(mail)
        for ok in self._pool.map(self._post_event, other):
            if ok is None:
                continue
            if ok:
                self.tally.events_duplicate += 1
        for e in ready:
            # the engine that sent the touch learns what happened on its own channel
            if e.kind != "converted" and not (e.kind == "reply" and e.category == "out_of_office"):
                self.engines[e.engine].stopped.add(e.lead_id)

    def _sendgrid(self, events: list[PendingEvent]) -> None:
        body = []
        for e in events:
            email = self.world.people[e.lead_id].email
            if email is None:
                continue
            item: dict[str, object] = {
                "email": email,
                "timestamp": int(e.at.timestamp()),
                "sg_event_id": f"sim-{e.kind}-{e.touch_id}",
                "sg_message_id": f"{e.message_id}.filter0001.sim",
            }
            if e.kind == "bounce" and e.category == DEAD_DOMAIN:
                domain = email.rpartition("@")[2]
                item.update(
                    {
                        "event": "bounce",
                        "type": "bounce",
                        "status": "5.1.2",
                        "reason": f"550 5.1.2 Host or domain name not found. Name service error for name={domain}",
                    }
                )
            elif e.kind == "bounce":
                item.update(
                    {
                        "event": "bounce",
                        "type": "bounce",
                        "status": "5.1.1",
                        "reason": "550 5.1.1 user unknown",
                    }
                )
            elif e.kind == "complaint":
                item["event"] = "spamreport"
            else:
                item["event"] = "unsubscribe"
            body.append(item)
        raw = json.dumps(body).encode()
        result = self.admin.webhook("sendgrid", raw, self.sendgrid_headers(raw))
        t = self.tally
        t.events_duplicate += result.duplicates
        t.events_rejected += len(result.rejected)
        for e in events:
            t.events_reported[{"bounce": "hard_bounce"}.get(e.kind, e.kind)] += 1

    def _post_event(self, e: PendingEvent) -> bool | None:
        """POST one reply (the engine's inbox) or conversion (the agency's CRM); True if duplicate."""
        body: dict[str, object] = {
            "lead_id": e.lead_id,
            "channel": e.channel,
            "occurred_at": e.at,
            "provider_message_id": e.message_id,
        }
        client = self.admin
        if e.kind == "converted":
            if e.agency in self.cancelled_agencies:
                self.tally.conversions_skipped += 1
                return None
            client = self.clients[e.agency]
            body.update({"type": "converted", "source": "crm", "provider_event_id": f"deal-{e.touch_id}"})
            key = "converted"
        else:
            body.update(
                {
                    "type": "reply",
                    "source": f"{e.channel}-engine",
                    "provider_event_id": f"reply-{e.touch_id}",
                    "category": e.category,
                }
            )
            if e.category == "unsubscribe" and e.channel == "sms":
                body["text"] = "STOP"
            if e.return_date is not None:
                body["detail"] = {"return_date": e.return_date.isoformat()}
            key = f"reply:{e.category}"
        result = client.record_event(body)
        self.tally.events_reported[key] += 1
        return result.duplicate


def _rounds(steps: list[Step]) -> list[list[Step]]:
    """Split due steps into check batches in which each lead appears once (at most BATCH items).

    A later touch of the same lead must be checked after the earlier one was confirmed sent, as it
    would be in real time: within one batch the earlier one is still a reservation, which (in
    simulated time) has expired by the later one's ``at`` and would not count against its caps.
    """
    rounds: list[list[Step]] = []
    seen: list[set[int]] = []
    for step in steps:
        for batch, leads in zip(rounds, seen, strict=True):
            if step.lead_id not in leads and len(batch) < BATCH:
                batch.append(step)
                leads.add(step.lead_id)
                break
        else:
            rounds.append([step])
            seen.append({step.lead_id})
    return rounds


def _message_id(engine: Engine, touch_id: int) -> str:
    return f"{engine.channel}-{engine.campaign_key.lower()}-{touch_id}"
