"""Model-based test: random sequences of allocations, enrollments, checks, confirmations, cancels,
events, finished sequences and campaigns and clock moves, run against the real gate and a small
pure-Python model of the rules (including rest periods, company pauses and the weekly company
budget).

The model is written from the rules in the issue, not from the gate's code: plain lists of touches,
counted the slow obvious way, and its own send-window arithmetic. After every check the decision
(allow/deny) and the set of reason codes must agree. Events go through ``record_event``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from tests.conftest import truncate_all
from tests.gate import factories as f

from leadpool.allocation.campaigns import end_enrollment, finish_campaign
from leadpool.db import Database, session_scope
from leadpool.errors import Conflict
from leadpool.events import EventIn, record_event
from leadpool.gate import cancel, check, confirm_sent
from leadpool.gate.worker import GateWorker
from leadpool.ingestion.timezone import country_clocks

START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # Monday; New York springs forward on Sunday 8 March
CHANNELS = ("email", "linkedin", "sms", "phone")
HOURS = {"email": (7, 19), "sms": (9, 20), "phone": (9, 20)}
NEW_YORK = ZoneInfo("America/New_York")
US_CLOCKS = tuple(ZoneInfo(z) for z in country_clocks()["US"])

# (time zone, email, email_status, phone, linkedin, company index)
LEADS = [
    ("America/New_York", True, "verified", True, True, 0),
    ("Europe/London", True, "verified", True, False, 0),
    (None, True, "guessed", True, True, 1),
    ("Asia/Tokyo", False, None, False, True, None),
    ("America/New_York", True, "extrapolated", True, True, 1),
]
# campaign -> (agency, channels, allowed email statuses)
CAMPAIGNS = [
    (0, ("email", "linkedin", "sms", "phone"), ("verified",)),
    (0, ("email", "linkedin"), ("verified", "guessed")),
    (1, ("email", "sms", "phone", "linkedin"), ("verified",)),
]
AGENCY_GATE = [
    {
        "sender_daily_caps": {"email": 2, "linkedin": 2, "sms": 2, "phone": 2},
        "sender_weekly_caps": {"email": 3, "linkedin": 3, "sms": 3},  # phone: none
        "agency_daily_cap": 2,
    },
    # a person cap may be lowered, never raised
    {"agency_daily_cap": 4, "lead_weekly_cap": 2, "company_weekly_cap": 3},
]
WEEKLY_CAP = [3, 2]
COMPANY_WEEKLY_CAP = [5, 3]
REST = timedelta(days=90)
# how long an event pauses the person's colleagues (every agency)
PAUSE_DAYS = {"interested": 14, "other": 14, "not_interested": 90, "unsubscribe": 30, "complaint": 30}
SENDER_CAP = [2, None]  # None: the defaults
DEFAULT_SENDER_CAPS = {"email": 50, "linkedin": 25, "sms": 200, "phone": 100}
# a sender's rolling 7 days, per campaign's agency and channel (the platform's default: LinkedIn 100)
SENDER_WEEKLY_CAP: list[dict[str, int]] = [{"email": 3, "linkedin": 3, "sms": 3}, {"linkedin": 100}]
TTL = timedelta(minutes=15)


@dataclass
class MTouch:
    id: int
    lead: int
    company: int | None
    agency: int
    channel: str
    sender: str | None
    at: datetime
    local_date: date
    expires: datetime
    state: str = "reserved"

    def live(self, now: datetime) -> bool:
        return self.state == "sent" or (self.state == "reserved" and self.expires > now)


@dataclass
class MLead:
    tz: str | None
    email: bool
    email_status: str | None
    phone: bool
    linkedin: bool
    company: int | None
    owner: int | None = None
    owner_converted: bool = False
    enrolled_in: int | None = None
    flags: dict[str, datetime] = field(default_factory=dict)
    rest_until: datetime | None = None


@dataclass
class MPause:
    company: int
    lead: int  # the person whose reply or opt-out caused it: not paused by it
    until: datetime


def _zone(name: str | None) -> ZoneInfo | None:
    return ZoneInfo(name) if name else None


def model_codes(m: GateMachine, li: int, ci: int, channel: str, sender: str | None) -> set[str]:
    """The rules, the obvious way."""
    now, lead = m.now, m.leads[li]
    agency, channels, statuses = CAMPAIGNS[ci]
    codes: set[str] = set()
    if m.agency_status[agency] != "active":
        codes.add("agency_inactive")
    status, why = m.campaign_status[ci]
    if status == "paused" and why == "campaign_bounce_guard":
        codes.add("campaign_bounce_guard")
    elif status != "active":
        codes.add("campaign_not_active")
    if channel not in channels:
        codes.add("channel_not_in_campaign")
    if lead.owner != agency:
        codes.add("not_owned")
    if lead.enrolled_in != ci:
        codes.add("not_enrolled")
    has = {"email": lead.email, "linkedin": lead.linkedin, "sms": lead.phone, "phone": lead.phone}[channel]
    if not has:
        codes.add("no_address")
    elif channel == "email" and lead.email_status not in statuses:
        codes.add("email_unverified")
    fl = lead.flags
    for flag in ("unsubscribed", "complained", "erased", "blocklisted"):
        if flag in fl:
            codes.add(flag)
    if channel == "email" and "email_bounced" in fl:
        codes.add("email_bounced")
    if "replied" in fl or "wrong_person" in fl:
        codes.add("replied")
    if fl.get("cooling_until", now) > now:
        codes.add("cooling")
    if fl.get("paused_until", now) > now:
        codes.add("paused_ooo")
    if "converted" in fl or lead.owner_converted:
        codes.add("converted")
    if lead.rest_until is not None and lead.rest_until > now:
        codes.add("rest_period")
    if any(p.company == lead.company and p.lead != li and p.until > now for p in m.pauses):
        codes.add("company_paused")
    zone = _zone(lead.tz)
    if zone is None and channel in ("sms", "phone"):
        codes.add("unknown_timezone")
    elif channel in HOURS:
        start, end = HOURS[channel]
        # a text or call: on its number's clock too (every model lead's number is a New York 212);
        # without a zone or a country, email on every clock of its number's country (the US)
        own = (zone,) if zone is not None else (US_CLOCKS if lead.phone else (UTC,))
        for clock in (*own, *((NEW_YORK,) if channel in ("sms", "phone") else ())):
            local = now.astimezone(clock)
            if local.weekday() >= 5 or not (start <= local.hour < end):
                codes.add("quiet_hours")
    today = now.astimezone(zone or UTC).date()
    live = [t for t in m.touches.values() if t.live(now)]
    mine = [t for t in live if t.lead == li]
    if sum(1 for t in mine if t.local_date == today) >= 1:
        codes.add("lead_daily_cap")
    if sum(1 for t in mine if t.at > now - timedelta(days=7)) >= WEEKLY_CAP[agency]:
        codes.add("lead_weekly_cap")
    if lead.company is not None and (
        sum(1 for t in live if t.company == lead.company and t.local_date == today) >= 2
    ):
        codes.add("company_daily_cap")
    if lead.company is not None and (
        sum(1 for t in live if t.company == lead.company and t.at > now - timedelta(days=7))
        >= COMPANY_WEEKLY_CAP[agency]
    ):
        codes.add("company_weekly_cap")
    utc_day = now.date()
    if sender is not None:
        cap = SENDER_CAP[agency] or DEFAULT_SENDER_CAPS[channel]
        used = sum(1 for t in live if t.sender == sender and t.channel == channel and t.at.date() == utc_day)
        if used >= cap:
            codes.add("sender_daily_cap")
        weekly = SENDER_WEEKLY_CAP[agency].get(channel)
        recent = sum(
            1 for t in live if t.sender == sender and t.channel == channel and t.at > now - timedelta(days=7)
        )
        if weekly is not None and recent >= weekly:
            codes.add("sender_weekly_cap")
    agency_cap = AGENCY_GATE[agency]["agency_daily_cap"]
    used = sum(1 for t in live if t.agency == agency and t.channel == channel and t.at.date() == utc_day)
    if used >= agency_cap:  # type: ignore[operator]
        codes.add("agency_daily_cap")
    return codes


class GateMachine(RuleBasedStateMachine):
    db: Database
    worker: ClassVar[GateWorker]
    seen: ClassVar[Counter[str]] = (
        Counter()
    )  # codes (and "allow") over the whole run, to show what was exercised

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.leads = [MLead(tz, e, es, p, li, c) for tz, e, es, p, li, c in LEADS]
        self.agency_status = ["active", "active"]
        self.campaign_status: list[tuple[str, str | None]] = [("active", None)] * len(CAMPAIGNS)
        self.touches: dict[int, MTouch] = {}
        self.pauses: list[MPause] = []
        self.checks = 0

    @initialize(busy_sender=st.booleans())
    def build(self, busy_sender: bool) -> None:
        truncate_all(self.db)  # each example starts empty
        n = 0
        with session_scope(self.db) as s:
            self.agency_ids = [f.agency(s, gate=g) for g in AGENCY_GATE]
            self.campaign_ids = [
                f.campaign(s, self.agency_ids[a], channels=ch, gate={"allowed_email_statuses": list(st_)})
                for a, ch, st_ in CAMPAIGNS
            ]
            self.company_ids = [f.company(s), f.company(s)]
            self.lead_ids = []
            for tz, email, status, phone, linkedin, comp in LEADS:
                n += 1
                self.lead_ids.append(
                    f.lead(
                        s,
                        time_zone=tz,
                        email=f"p{n}@model.example" if email else None,
                        email_status=status,
                        phone=f"+1212555010{n}" if phone else None,
                        linkedin_url=f"https://www.linkedin.com/in/p{n}" if linkedin else None,
                        company_id=self.company_ids[comp] if comp is not None else None,
                    )
                )
        # most leads start owned and enrolled so that runs reach the caps, not just "not owned"
        for li, ci in ((0, 0), (1, 0), (2, 1), (4, 2)):
            self.allocate(li, CAMPAIGNS[ci][0])
            self.enroll(li, ci)
        if busy_sender:
            # half the examples start with one sender (and agency 0) at their daily caps, so every
            # run reaches those caps however its draws fall (they move with any edit of this file)
            self.burst("linkedin", "s1")
            self.burst("linkedin", "s1")

    # allocation and enrollment (direct inserts, following the one-owner / one-active rules)
    @rule(li=st.integers(0, len(LEADS) - 1), agency=st.integers(0, 1))
    def allocate(self, li: int, agency: int) -> None:
        lead = self.leads[li]
        if lead.owner is not None:
            return
        with session_scope(self.db) as s:
            f.own(s, self.lead_ids[li], self.agency_ids[agency])
        lead.owner = agency

    @rule(li=st.integers(0, len(LEADS) - 1), ci=st.integers(0, len(CAMPAIGNS) - 1))
    def enroll(self, li: int, ci: int) -> None:
        lead, agency = self.leads[li], CAMPAIGNS[ci][0]
        if lead.owner != agency or lead.enrolled_in is not None:
            return
        with session_scope(self.db) as s:
            f.enroll(s, self.lead_ids[li], self.campaign_ids[ci], self.agency_ids[agency])
        lead.enrolled_in = ci

    @rule(li=st.integers(0, len(LEADS) - 1))
    def unenroll(self, li: int) -> None:
        with session_scope(self.db) as s:
            s.execute(
                text(
                    "UPDATE enrollments SET status = 'ended', ended_at = now() WHERE lead_id = :l AND status = 'active'"
                ),
                {"l": self.lead_ids[li]},
            )
        self.leads[li].enrolled_in = None

    @rule(li=st.integers(0, len(LEADS) - 1), reason=st.sampled_from(["sequence_finished", "removed"]))
    def end_sequence(self, li: int, reason: str) -> None:
        """The sending engine says the sequence finished (or the agency removed the lead): rest."""
        lead = self.leads[li]
        if lead.enrolled_in is None:
            return
        with session_scope(self.db) as s:
            res = end_enrollment(
                s, self.campaign_ids[lead.enrolled_in], self.lead_ids[li], reason=reason, at=self.now
            )
        assert res.ended
        lead.enrolled_in = None
        lead.rest_until = max(lead.rest_until or self.now, self.now + REST)

    @rule(
        ci=st.integers(0, len(CAMPAIGNS) - 1), to=st.sampled_from(["active", "paused", "guard", "finished"])
    )
    def campaign_moves(self, ci: int, to: str) -> None:
        status, why = ("paused", "campaign_bounce_guard") if to == "guard" else (to, None)
        if to == "finished" and self.campaign_status[ci][0] != "finished":
            # through the service: its enrollments end and their leads rest
            with session_scope(self.db) as s:
                finish_campaign(s, self.campaign_ids[ci], at=self.now)
            for lead in self.leads:
                if lead.enrolled_in == ci:
                    lead.enrolled_in = None
                    lead.rest_until = max(lead.rest_until or self.now, self.now + REST)
        else:
            with session_scope(self.db) as s:
                f.set_campaign(s, self.campaign_ids[ci], status=status, paused_reason=why)
        self.campaign_status[ci] = (status, why)

    @rule(agency=st.integers(0, 1), active=st.booleans())
    def agency_status_changes(self, agency: int, active: bool) -> None:
        with session_scope(self.db) as s:
            f.set_agency(s, self.agency_ids[agency], status="active" if active else "cancelled")
        self.agency_status[agency] = "active" if active else "cancelled"

    @rule(
        step=st.sampled_from(
            [
                timedelta(minutes=10),
                timedelta(minutes=20),
                timedelta(hours=3),
                timedelta(hours=1),
                timedelta(days=1),
                timedelta(hours=21),
                timedelta(days=31),  # lets pauses and rests run out within a run
            ]
        )
    )
    def clock_moves(self, step: timedelta) -> None:
        self.now += step

    @rule(
        li=st.integers(0, len(LEADS) - 1),
        ci=st.integers(0, len(CAMPAIGNS) - 1),
        channel=st.sampled_from(CHANNELS),
        sender=st.sampled_from([None, "s1", "s2"]),
        reserve=st.booleans(),
    )
    def check(self, li: int, ci: int, channel: str, sender: str | None, reserve: bool) -> None:
        expected = model_codes(self, li, ci, channel, sender)
        args = {
            "lead_id": self.lead_ids[li],
            "campaign_id": self.campaign_ids[ci],
            "channel": channel,
            "sender": sender,
            "at": self.now,
            "reserve": reserve,
        }
        if self.checks % 2:  # as a sending worker: its own connection, fast path, unlocked deny
            d = self.worker.check(**args)
        else:
            with session_scope(self.db) as s:
                d = check(s, **args)
        self.checks += 1
        GateMachine.seen.update(d.codes or ["allow"])
        assert set(d.codes) == expected, (d.reasons, expected)
        assert d.allowed == (not expected)
        assert len(d.codes) == len(set(d.codes))
        if d.allowed and reserve:
            assert d.touch_id is not None
            lead = self.leads[li]
            zone = _zone(lead.tz)
            self.touches[d.touch_id] = MTouch(
                d.touch_id,
                li,
                lead.company,
                CAMPAIGNS[ci][0],
                channel,
                sender,
                self.now,
                self.now.astimezone(zone or UTC).date(),
                self.now + TTL,
            )
        else:
            assert d.touch_id is None

    @rule(
        li=st.integers(0, len(LEADS) - 1),
        channel=st.sampled_from(CHANNELS),
        sender=st.sampled_from([None, "s1", "s2"]),
    )
    def check_where_enrolled(self, li: int, channel: str, sender: str | None) -> None:
        ci = self.leads[li].enrolled_in
        if ci is not None:
            self.check(li, ci, channel, sender, True)

    @rule(channel=st.sampled_from(CHANNELS), sender=st.sampled_from([None, "s1", "s2"]))
    def burst(self, channel: str, sender: str | None) -> None:
        """Every enrolled lead at once, from one sender, sent at once: fills the caps that last."""
        for li in range(len(LEADS)):
            before = set(self.touches)
            self.check_where_enrolled(li, channel, sender)
            for tid in set(self.touches) - before:
                with session_scope(self.db) as s:
                    confirm_sent(s, tid, f"m{tid}", at=self.now)
                self.touches[tid].state = "sent"

    @rule(sender=st.sampled_from([None, "s1"]))
    def busy_days(self, sender: str | None) -> None:
        """Two days of bursts: reaches the weekly lead and company budgets (and sender caps)."""
        for _ in range(2):
            self.burst("linkedin", sender)
            self.now += timedelta(days=1)

    @precondition(lambda self: bool(self.touches))
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        t = self.touches[data.draw(st.sampled_from(sorted(self.touches)))]
        ok = t.state == "sent" or (t.state == "reserved" and t.expires > self.now)
        with session_scope(self.db) as s:
            try:
                confirm_sent(s, t.id, f"m{t.id}", at=self.now)
                got = True
            except Conflict:
                got = False
        assert got == ok
        if ok:
            t.state = "sent"

    @precondition(lambda self: bool(self.touches))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        t = self.touches[data.draw(st.sampled_from(sorted(self.touches)))]
        with session_scope(self.db) as s:
            try:
                cancel(s, t.id, at=self.now)
                got = True
            except Conflict:
                got = False
        assert got == (t.state != "sent")
        if t.state == "reserved":
            t.state = "cancelled"

    @rule(
        li=st.integers(0, len(LEADS) - 1),
        kind=st.sampled_from(
            [
                "hard_bounce",
                "unsubscribe",
                "complaint",
                "interested",
                "not_interested",
                "other",
                "out_of_office",
                "wrong_person",
                "converted",
            ]
        ),
    )
    def event(self, li: int, kind: str) -> None:
        lead, t = self.leads[li], self.now
        if kind == "hard_bounce" and not lead.email:
            return
        etype = kind if kind in ("hard_bounce", "unsubscribe", "complaint", "converted") else "reply"
        with session_scope(self.db) as s:
            record_event(
                s,
                EventIn(
                    type=etype,  # type: ignore[arg-type]
                    lead_id=self.lead_ids[li],
                    channel="email" if kind == "hard_bounce" else None,
                    occurred_at=t,
                    source="model",
                    provider_event_id=uuid.uuid4().hex,
                    category=kind if etype == "reply" else None,  # type: ignore[arg-type]
                ),
                at=t,
            )
        fl = lead.flags
        stops = True
        if kind == "hard_bounce":
            fl.setdefault("email_bounced", t)
            stops = False
        elif kind in ("unsubscribe", "complaint"):
            fl.setdefault("unsubscribed" if kind == "unsubscribe" else "complained", t)
        elif kind == "converted":
            fl.setdefault("converted", t)
            lead.owner_converted = lead.owner_converted or lead.owner is not None
        elif kind == "out_of_office":
            fl["paused_until"] = max(fl.get("paused_until", t), t + timedelta(days=7))
            stops = False
        else:
            if kind == "not_interested":  # a stop for 12 months, not for good
                fl["cooling_until"] = max(fl.get("cooling_until", t), t + timedelta(days=365))
            else:
                fl.setdefault("replied", t)
            if kind == "wrong_person":
                fl.setdefault("wrong_person", t)
        if stops:
            lead.enrolled_in = None
        if kind in PAUSE_DAYS and lead.company is not None:
            self.pauses.append(MPause(lead.company, li, t + timedelta(days=PAUSE_DAYS[kind])))

    @invariant()
    def touches_agree(self) -> None:
        if not hasattr(self, "lead_ids"):
            return
        with self.db.engine.connect() as c:
            live = c.execute(
                text(
                    "SELECT count(*) FROM touches WHERE state = 'sent' OR (state = 'reserved' AND expires_at > :t)"
                ),
                {"t": self.now},
            ).scalar_one()
        assert live == sum(1 for t in self.touches.values() if t.live(self.now))


@pytest.mark.slow
def test_gate_agrees_with_the_model(db: Database) -> None:
    GateMachine.db = db
    GateMachine.seen = Counter()
    GateMachine.worker = GateWorker(db)
    with GateMachine.worker:
        run_state_machine_as_test(
            GateMachine,
            settings=settings(
                max_examples=50,
                stateful_step_count=40,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    seen = GateMachine.seen
    print("model run, codes seen:", dict(seen))
    # the run reached the interesting states, not just denials for missing ownership
    for code in (
        "allow",
        "lead_daily_cap",
        "company_daily_cap",
        "sender_daily_cap",
        "sender_weekly_cap",
        "quiet_hours",
        "unknown_timezone",
        "not_enrolled",
        "not_owned",
        "rest_period",
        "company_paused",
        "company_weekly_cap",
    ):
        assert seen[code] > 0, (code, dict(seen))
    assert len(seen) >= 15, dict(seen)
