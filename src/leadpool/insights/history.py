"""A seeded simulated outreach history (companies, leads, sent touches, events) for tests and the
backtest. Outcomes come from the demo simulator's hidden world (``leadpool.simulation.world``):
true reply probabilities per segment the insight engine never reads.

Rows use negative agency and campaign ids (those columns of touches carry no foreign key), so they
never mix with real agencies' figures; callers that must not keep the rows roll back.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.simulation.world import World

INDUSTRIES = ("construction", "real estate", "software", "logistics", "retail", "healthcare")
SENIORITIES = ("owner", "founder", "c_suite", "vp", "director", "manager", "senior", "entry")
STATUSES = ("verified", "verified", "extrapolated", "guessed")
SIZES = (5, 30, 120, 600, 3000)
TIME_ZONES = ("America/New_York", "America/Chicago", "Europe/London", "Europe/Berlin", "Asia/Tokyo")


@dataclass
class History:
    agency_ids: list[int]
    campaign_ids: list[int]
    lead_ids: list[int]
    start: datetime
    end: datetime
    world: World
    touches: int = 0
    events: int = 0
    truth: dict[tuple[int, str], float] = field(default_factory=dict)  # true positive per send

    def true_positive_per_send(self, lead_id: int, channel: str) -> float:
        t = self.world.truth_of(lead_id)
        # share of replies that are neither auto-replies, opt-outs, wrong person nor "other"
        # (mirrors the world's reply categories)
        share = {"email": 0.62, "sms": 0.76}.get(channel, 0.83)
        p = t.reply[channel] * t.positive * share
        if channel == "email":
            p *= (1 - t.bounce) * (1 - t.complaint) * (1 - t.unsubscribe)
        return p


def generate_history(
    session: Session,
    *,
    seed: int,
    leads: int,
    start: datetime,
    days: int = 60,
    agencies: int = 4,
    touches_per_lead: int = 2,
    channels: tuple[str, ...] = ("email", "linkedin"),
) -> History:
    """Insert ``leads`` leads (and companies) and their sent touches and outcome events."""
    rng = random.Random(seed)
    tag = secrets.token_hex(4)
    agency_ids = [-(i + 1) - 1000 * (seed % 1000) for i in range(agencies)]
    campaign_ids = list(agency_ids)
    n_companies = max(1, leads // 4)
    comp_rows = [
        (f"bt-{tag}-{i}.invalid", rng.choice(INDUSTRIES), rng.choice(SIZES), rng.choice((5e5, 5e6, 5e7, 5e8)))
        for i in range(n_companies)
    ]
    company_ids = [
        int(x)
        for x in session.execute(
            text(
                "INSERT INTO companies (domain, industry, estimated_num_employees, annual_revenue) "
                "SELECT * FROM unnest(CAST(:d AS text[]), CAST(:i AS text[]), CAST(:n AS int[]), "
                "CAST(:r AS numeric[])) RETURNING id"
            ),
            {
                "d": [r[0] for r in comp_rows],
                "i": [r[1] for r in comp_rows],
                "n": [r[2] for r in comp_rows],
                "r": [r[3] for r in comp_rows],
            },
        ).scalars()
    ]
    cols: dict[str, list[Any]] = {k: [] for k in ("email", "li", "cid", "sen", "st", "tz", "enr", "conf")}
    for i in range(leads):
        cols["email"].append(f"p{i}@bt-{tag}.invalid")
        cols["li"].append(f"https://www.linkedin.com/in/bt-{tag}-{i}")
        cols["cid"].append(rng.choice(company_ids))
        cols["sen"].append(rng.choice(SENIORITIES))
        cols["st"].append(rng.choice(STATUSES))
        cols["tz"].append(rng.choice(TIME_ZONES))
        cols["enr"].append(start - timedelta(days=rng.randint(0, 500)))
        cols["conf"].append(round(rng.random(), 2))
    lead_ids = [
        int(x)
        for x in session.execute(
            text(
                "INSERT INTO leads (email, linkedin_url, company_id, seniority, email_status, time_zone, "
                "enriched_at, extrapolated_email_confidence, departments) "
                "SELECT e, li, c, s, st, tz, enr, conf, ARRAY['master_sales'] FROM unnest(CAST(:email AS text[]), "
                "CAST(:li AS text[]), CAST(:cid AS bigint[]), CAST(:sen AS text[]), CAST(:st AS text[]), "
                "CAST(:tz AS text[]), CAST(:enr AS timestamptz[]), CAST(:conf AS float8[])) "
                "AS t(e, li, c, s, st, tz, enr, conf) RETURNING id"
            ),
            cols,
        ).scalars()
    ]
    world = World(seed)
    world.load(session.connection(), lead_ids)
    hist = History(agency_ids, campaign_ids, lead_ids, start, start + timedelta(days=days), world)
    t_rows: dict[str, list[Any]] = {k: [] for k in ("lead", "agency", "campaign", "channel", "at", "seq")}
    for lid in lead_ids:
        agency = rng.choice(agency_ids)
        channel = rng.choice(channels)
        first = start + timedelta(days=rng.uniform(0, days - 8), hours=rng.uniform(0, 24))
        for k in range(touches_per_lead):
            t_rows["lead"].append(lid)
            t_rows["agency"].append(agency)
            t_rows["campaign"].append(agency)
            t_rows["channel"].append(channel)
            t_rows["at"].append(first + timedelta(days=3 * k))
            t_rows["seq"].append(k + 1)
    touch_ids = [
        int(x)
        for x in session.execute(
            text(
                "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, sent_at, local_date, "
                "sequence_position) SELECT l, a, c, ch, 'sent', at, at, (at AT TIME ZONE 'UTC')::date, s "
                "FROM unnest(CAST(:lead AS bigint[]), CAST(:agency AS bigint[]), CAST(:campaign AS bigint[]), "
                "CAST(:channel AS text[]), CAST(:at AS timestamptz[]), CAST(:seq AS int[])) "
                "AS t(l, a, c, ch, at, s) RETURNING id"
            ),
            t_rows,
        ).scalars()
    ]
    e_rows: dict[str, list[Any]] = {k: [] for k in ("type", "cat", "lead", "touch", "at", "pid", "ch")}
    done: set[int] = set()  # a person who bounced, opted out or replied gets no further outcome
    for tid, lid, ch, at in zip(touch_ids, t_rows["lead"], t_rows["channel"], t_rows["at"], strict=True):
        if lid in done:
            continue
        for o in world.outcomes(lid, ch, at):
            etype = {"bounce": "hard_bounce"}.get(o.kind, o.kind)
            e_rows["type"].append(etype)
            e_rows["cat"].append(o.category)
            e_rows["lead"].append(lid)
            e_rows["touch"].append(tid)
            e_rows["at"].append(at + o.delay)
            e_rows["pid"].append(f"{tag}-{len(e_rows['pid'])}")
            e_rows["ch"].append(ch)
            done.add(lid)
            if o.converts_after is not None:
                e_rows["type"].append("converted")
                e_rows["cat"].append(None)
                e_rows["lead"].append(lid)
                e_rows["touch"].append(tid)
                e_rows["at"].append(at + o.converts_after)
                e_rows["pid"].append(f"{tag}-{len(e_rows['pid'])}")
                e_rows["ch"].append(ch)
    if e_rows["type"]:
        session.execute(
            text(
                "INSERT INTO events (type, category, lead_id, touch_id, occurred_at, source, provider_event_id, "
                "channel) SELECT ty, ca, le, tu, at, 'backtest', pid, ch FROM unnest(CAST(:type AS text[]), "
                "CAST(:cat AS text[]), CAST(:lead AS bigint[]), CAST(:touch AS bigint[]), "
                "CAST(:at AS timestamptz[]), CAST(:pid AS text[]), CAST(:ch AS text[])) "
                "AS t(ty, ca, le, tu, at, pid, ch)"
            ),
            e_rows,
        )
    hist.touches = len(touch_ids)
    hist.events = len(e_rows["type"])
    session.flush()
    return hist
