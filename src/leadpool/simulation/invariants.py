"""What must never have happened, checked in SQL on the database after a run.

Each invariant is one query over sent touches, leads, ownership history and events that returns
its number of violations; a correct system returns 0 for every one. They look only at stored
facts (what was sent when, what the person did when), not at the gate's own decisions, so they
would catch a gate that answered allow when it should not have.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.engine import Connection

from leadpool.gate.policy import GatePolicy, platform_policy
from leadpool.gate.statements import COUNTRY_CLOCKS_SQL, COUNTRY_CODE_SQL, NUMBER_CLOCKS_SQL


@dataclass(frozen=True)
class Invariant:
    """One check: an SQL count, or (for local times) a count over rows computed in Python."""

    name: str
    description: str
    sql: str
    params: tuple[tuple[str, Any], ...] = ()
    local: Callable[[list[_LocalTouch]], int] | None = None

    def count(self, conn: Connection) -> int:
        if self.local is not None:
            return self.local(_local_touches(conn))
        return int(conn.execute(text(self.sql), dict(self.params)).scalar_one())


@dataclass(frozen=True)
class _LocalTouch:
    lead_id: int
    company_id: int | None
    channel: str
    local: datetime  # wall-clock time in the lead's zone (UTC when unknown), as the gate counted it
    went: datetime  # the same clock when it was sent (confirmed within the reservation's TTL)
    zone_known: bool
    # when it was sent on each clock the gate reads its window on, when there are several: a lead
    # without a zone, every clock of its country; a text or call, its zone and its number's clocks
    went_on_clocks: tuple[datetime, ...] = ()


def _local_touches(conn: Connection) -> list[_LocalTouch]:
    """Sent touches with their local time, computed with the same tz database as the gate
    (Python's zoneinfo): PostgreSQL ships its own, and the two can disagree about a zone's
    future offsets (seen: America/Edmonton in November 2026)."""
    out = []
    zones: dict[str | None, ZoneInfo | None] = {}
    rows = conn.execute(
        text(
            "SELECT t.lead_id, t.company_id, t.channel, t.at, coalesce(t.sent_at, t.at), l.time_zone, "
            f"CASE WHEN l.time_zone IS NULL THEN {COUNTRY_CLOCKS_SQL} "
            # a text or call: its number's clocks too
            f"WHEN t.channel IN ('sms', 'phone') THEN l.time_zone || {NUMBER_CLOCKS_SQL} END "
            "FROM touches t JOIN leads l ON l.id = t.lead_id WHERE t.state = 'sent'"
        )
    )
    for lead_id, company_id, channel, at, went, tz, clocks in rows:
        for name in (tz, *(clocks or ())):
            if name not in zones:
                try:
                    zones[name] = ZoneInfo(name) if name else None
                except (ZoneInfoNotFoundError, ValueError):
                    zones[name] = None
        zone = zones[tz]
        local, sent = at.astimezone(zone or UTC), went.astimezone(zone or UTC)
        on_clocks = tuple(went.astimezone(z) for z in (zones[c] for c in clocks or ()) if z is not None)
        out.append(_LocalTouch(lead_id, company_id, channel, local, sent, zone is not None, on_clocks))
    return out


def _over_cap(keys: list[tuple[Any, ...]], cap: int) -> int:
    return sum(1 for n in Counter(keys).values() if n > cap)


def _outside_window(touches: list[_LocalTouch], policy: GatePolicy) -> int:
    bad = 0
    for t in touches:
        if t.channel in policy.timezone_required_channels and not t.zone_known:
            bad += 1
            continue
        w = getattr(policy.windows, t.channel)
        if w is None:
            continue
        for went in t.went_on_clocks or (t.went,):
            day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[went.weekday()]
            if not (w.start <= went.time() < w.end) or day not in w.days:
                bad += 1
                break
    return bad


@dataclass(frozen=True)
class InvariantResult:
    name: str
    description: str
    violations: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "violations": self.violations}


_SENT = "t.state = 'sent'"
# when the touch went out: a reservation is confirmed within its TTL, and what the person did
# between the check and the send is what the send came after
_WENT = "coalesce(t.sent_at, t.at)"


def invariants(policy: GatePolicy | None = None) -> list[Invariant]:
    """The checks, with caps and windows taken from the platform policy the run used."""
    p = policy or platform_policy()
    return [
        Invariant(
            "no_lead_touched_by_two_agencies",
            "leads with sent touches from more than one agency",
            f"SELECT count(*) FROM (SELECT t.lead_id FROM touches t WHERE {_SENT} "
            "GROUP BY t.lead_id HAVING count(DISTINCT t.agency_id) > 1) x",
        ),
        Invariant(
            "no_touch_by_a_non_owner",
            "sent touches by an agency that was never given the lead, or that had let it go by then",
            f"SELECT count(*) FROM touches t WHERE {_SENT} AND (NOT EXISTS ("
            " SELECT 1 FROM lead_history h WHERE h.lead_id = t.lead_id AND h.agency_id = t.agency_id"
            " AND h.action = 'acquired') OR ("
            " SELECT h.action FROM lead_history h WHERE h.lead_id = t.lead_id AND h.agency_id = t.agency_id"
            f" AND h.action IN ('acquired', 'released') AND h.at <= {_WENT} ORDER BY h.at DESC, h.id DESC"
            " LIMIT 1) = 'released')",
        ),
        Invariant(
            "lead_daily_cap",
            f"(lead, local day) pairs with more than {p.lead_daily_cap} sent touch(es)",
            "",
            local=lambda ts: _over_cap([(t.lead_id, t.local.date()) for t in ts], p.lead_daily_cap),
        ),
        Invariant(
            "lead_weekly_cap",
            f"sent touches that made more than {p.lead_weekly_cap} to their lead within 7 days",
            f"SELECT count(*) FROM touches t WHERE {_SENT} AND (SELECT count(*) FROM touches u "
            "WHERE u.lead_id = t.lead_id AND u.state = 'sent' AND u.at > t.at - interval '7 days' "
            "AND u.at <= t.at) > :cap",
            (("cap", p.lead_weekly_cap),),
        ),
        Invariant(
            "company_daily_cap",
            f"(company, local day) pairs with more than {p.company_daily_cap} sent touches",
            "",
            local=lambda ts: _over_cap(
                [(t.company_id, t.local.date()) for t in ts if t.company_id is not None], p.company_daily_cap
            ),
        ),
        *_company_weekly(p),
        *_sender_weekly(p),
        *_consent(p),
        Invariant(
            "no_email_after_hard_bounce",
            "emails sent to an address after it hard-bounced",
            f"SELECT count(*) FROM touches t JOIN leads l ON l.id = t.lead_id WHERE {_SENT} "
            f"AND t.channel = 'email' AND l.email_bounced_at IS NOT NULL AND {_WENT} > l.email_bounced_at",
        ),
        Invariant(
            "no_email_to_a_dead_domain",
            "emails sent to an address at a domain a bounce had closed (accepts no mail)",
            # an hour after it closed: events are reported at the start of each hour of simulated
            # time, so a colleague emailed in the hour of the first bounce was asked before it was known
            f"SELECT count(*) FROM touches t JOIN leads l ON l.id = t.lead_id "
            f"JOIN dead_domains d ON d.domain = split_part(l.email, '@', 2) WHERE {_SENT} "
            f"AND t.channel = 'email' AND {_WENT} > d.since + interval '1 hour' AND {_WENT} < d.until",
        ),
        Invariant(
            "no_touch_after_unsubscribe_or_complaint",
            "touches (any channel) after the person unsubscribed or complained",
            f"SELECT count(*) FROM touches t JOIN leads l ON l.id = t.lead_id WHERE {_SENT} "
            f"AND {_WENT} > least(l.unsubscribed_at, l.complained_at)",
        ),
        Invariant(
            "no_touch_after_reply",
            "touches (any channel, any agency) after the person replied",
            f"SELECT count(*) FROM touches t JOIN leads l ON l.id = t.lead_id WHERE {_SENT} "
            f"AND {_WENT} > least(l.replied_at, l.wrong_person_at)",
        ),
        Invariant(
            "no_touch_after_conversion",
            "automated touches after the lead converted",
            f"SELECT count(*) FROM touches t JOIN leads l ON l.id = t.lead_id WHERE {_SENT} "
            f"AND {_WENT} > l.converted_at",
        ),
        Invariant(
            "none_in_cooling",
            "touches while the person was cooling after saying not interested",
            f"SELECT count(*) FROM touches t JOIN leads l ON l.id = t.lead_id WHERE {_SENT} "
            f"AND l.cooling_until > {_WENT} AND EXISTS (SELECT 1 FROM events e WHERE e.lead_id = t.lead_id "
            f"AND e.type = 'reply' AND e.category = 'not_interested' AND e.occurred_at < {_WENT})",
        ),
        Invariant(
            "none_while_out_of_office",
            "touches while the person's out-of-office pause was running",
            # each auto-reply's own pause (recorded with it; the lead's paused_until is only the
            # latest, and would count a touch between two pauses)
            f"SELECT count(*) FROM touches t JOIN leads l ON l.id = t.lead_id WHERE {_SENT} "
            "AND EXISTS (SELECT 1 FROM events e WHERE e.lead_id = t.lead_id AND e.type = 'reply' "
            f"AND e.category = 'out_of_office' AND e.occurred_at < {_WENT} "
            f"AND coalesce(CAST(e.detail ->> 'paused_until' AS timestamptz), l.paused_until) > {_WENT})",
        ),
        Invariant(
            "none_outside_send_window",
            "touches outside the channel's send window in the lead's time zone (without one: on any "
            "clock of its country; sms/phone: also on its number's clock; or with no zone for sms/phone)",
            "",
            local=lambda ts: _outside_window(ts, p),
        ),
    ]


def _company_weekly(p: GatePolicy) -> list[Invariant]:
    cap = p.company_weekly_cap
    return [
        Invariant(
            "company_weekly_cap",
            f"sent touches that made more than {cap} to their company within 7 days",
            f"SELECT count(*) FROM touches t WHERE {_SENT} AND t.company_id IS NOT NULL AND ("
            "SELECT count(*) FROM touches u WHERE u.company_id = t.company_id AND u.state = 'sent' "
            "AND u.at > t.at - interval '7 days' AND u.at <= t.at) > :cap",
            (("cap", cap),),
        )
    ]


def _sender_weekly(p: GatePolicy) -> list[Invariant]:
    caps = {
        ch: cap
        for ch in ("email", "linkedin", "sms", "phone")
        if (cap := p.sender_weekly_cap(ch)) is not None
    }
    if not caps:
        return []
    shown = ", ".join(f"{ch} {cap}" for ch, cap in caps.items())
    return [
        Invariant(
            "sender_weekly_cap",
            f"sent touches that made more than their channel's cap ({shown}) to their sender within 7 days",
            f"SELECT count(*) FROM touches t JOIN json_each_text(CAST(:caps AS json)) AS c(ch, cap) "
            f"ON c.ch = t.channel WHERE {_SENT} AND t.sender IS NOT NULL AND ("
            "SELECT count(*) FROM touches u WHERE u.sender = t.sender AND u.channel = t.channel "
            "AND u.state = 'sent' AND u.at > t.at - interval '7 days' AND u.at <= t.at) > CAST(c.cap AS int)",
            (("caps", json.dumps(caps)),),
        )
    ]


def _consent(p: GatePolicy) -> list[Invariant]:
    need = {
        ch: list(codes) for ch in ("email", "linkedin", "sms", "phone") if (codes := p.consent_countries(ch))
    }
    if not need:
        return []
    shown = "; ".join(f"{ch} {','.join(codes)}" for ch, codes in need.items())
    return [
        Invariant(
            "no_touch_without_consent",
            f"sent touches to a lead in a country that wants consent ({shown}) without a consent of "
            "the touch's agency live when it was reserved",
            "SELECT count(*) FROM touches t JOIN leads l ON l.id = t.lead_id "
            "JOIN json_each_text(CAST(:need AS json)) AS n(ch, codes) ON n.ch = t.channel "
            f"WHERE {_SENT} AND (CAST(n.codes AS jsonb) ? '*' OR CAST(n.codes AS jsonb) ? coalesce("
            f"{COUNTRY_CODE_SQL}, '')) "
            "AND NOT EXISTS (SELECT 1 FROM consents k WHERE k.lead_id = t.lead_id "
            "AND k.agency_id = t.agency_id AND (k.channel IS NULL OR k.channel = t.channel) "
            "AND k.granted_at <= t.at AND (k.expires_at IS NULL OR k.expires_at > t.at) "
            "AND (k.revoked_at IS NULL OR k.revoked_at > t.at))",
            (("need", json.dumps(need)),),
        )
    ]


def check_invariants(conn: Connection, policy: GatePolicy | None = None) -> list[InvariantResult]:
    """Run every invariant; each result carries its number of violations (0 when it holds)."""
    local: list[_LocalTouch] | None = None
    out = []
    for inv in invariants(policy):
        if inv.local is not None:
            local = local if local is not None else _local_touches(conn)
            n = inv.local(local)
        else:
            n = inv.count(conn)
        out.append(InvariantResult(inv.name, inv.description, n))
    return out
