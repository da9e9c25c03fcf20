"""``run_demo``: a month of two agencies' outreach through the gate, then proof that no rule broke.

1. A fresh database; the API started in its own process; a fake Apollo holding people the pool
   does not have yet (the refill source).
2. The generated pool is bulk-loaded (``import_files``, as ``leadpool import`` does).
3. Agencies, their API keys and campaigns are created through the client.
4. Each simulated day: campaigns ask allocation for new leads every other day (a shortfall queues
   a refill; the worker then runs until the queue is empty); hour by hour, the engines make every
   touch due, in their send waves,
   asking the gate first (check-batch, with the simulated time in ``at``), confirm what they send,
   and report bounces, complaints, unsubscribes (SendGrid webhook), replies and conversions
   (``POST /v1/events``) when they happen. Agency B cancels on day 20.
5. The invariants are checked on the database, the summary printed, the HTML report written.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import text

from leadpool.apollo.generate import generate_people
from leadpool.client import ApiError, LeadpoolClient
from leadpool.config import get_settings
from leadpool.db import Database
from leadpool.db.engine import display_uri
from leadpool.errors import InvalidInput
from leadpool.gate.policy import CHANNELS, GatePolicy
from leadpool.ingestion import ImportResult, import_files
from leadpool.simulation.invariants import check_invariants
from leadpool.simulation.scenario import DECISION_MAKERS, Scenario, build_scenario
from leadpool.simulation.sender import Engine, Fleet
from leadpool.simulation.service import RunningService, running_service
from leadpool.simulation.world import World

Progress = Callable[[str, float], None]  # (what is happening, fraction done 0..1)


@dataclass
class DemoSummary:
    """Everything the demo did and found; ``as_dict()`` is what ``--json`` prints."""

    people: int
    days: int
    seed: int
    simulated_from: str
    simulated_to: str
    wall_seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    pool: dict[str, int] = field(default_factory=dict)
    agencies: dict[str, int] = field(default_factory=dict)  # name -> id
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    enrolled: int = 0
    touches_attempted: int = 0
    touches_allowed: int = 0
    touches_denied: int = 0
    touches_sent: int = 0
    confirm_conflicts: int = 0
    retries: int = 0
    steps_given_up: int = 0
    denied_by_reason: dict[str, int] = field(default_factory=dict)
    denied_by_first_reason: dict[str, int] = field(default_factory=dict)
    sent_by_channel: dict[str, int] = field(default_factory=dict)
    sent_by_day: list[dict[str, Any]] = field(default_factory=list)
    denied_by_day: list[int] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    events_duplicate: int = 0
    events_rejected: int = 0
    conversions_skipped: int = 0
    bounce_rate_by_email_status: dict[str, dict[str, float]] = field(default_factory=dict)
    refills: dict[str, Any] = field(default_factory=dict)
    credits: float = 0.0
    cancellation: dict[str, Any] = field(default_factory=dict)
    poach_attempts: int = 0
    consents_recorded: int = 0  # leads where the policy asks for consent, half of whom gave it
    naive_sender_extra_touches: int = 0
    invariants: list[dict[str, Any]] = field(default_factory=list)
    database: dict[str, Any] = field(default_factory=dict)  # what the database itself recorded
    report_path: str | None = None
    truth_path: str | None = None
    database_uri: str | None = None

    @property
    def violations(self) -> int:
        return sum(int(i["violations"]) for i in self.invariants)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["violations"] = self.violations
        if self.database_uri is not None:  # printed with --json: never its password
            out["database_uri"] = display_uri(self.database_uri)
        return out


def run_demo(
    people: int = 20000,
    days: int = 30,
    seed: int = 7,
    out: Path | str | None = None,
    progress: bool | Progress = True,
    *,
    server_uri: str | None = None,
    database_uri: str | None = None,
) -> DemoSummary:
    """Run the whole demo and return its summary (see the module docstring).

    ``out``: directory for the HTML report and the run's files (default ``<LEADPOOL_HOME>/demo``).
    ``progress``: True for a progress bar on stderr, a callable ``(phase, fraction)``, or False.
    ``server_uri``: the PostgreSQL server to work on (default: the configured one, the embedded
    server unless ``LEADPOOL_DATABASE_URL`` is set). The demo creates its own fresh database
    there, ``leadpool_demo`` (dropping an earlier one), and never touches the service's data.
    ``database_uri``: instead, use this (empty) database as it is; tests do.
    """
    where = _Where(server_uri, database_uri)
    if isinstance(progress, bool):
        if progress:
            return _with_bar(people, days, seed, out, where)
        return _run(people, days, seed, out, None, where)
    return _run(people, days, seed, out, progress, where)


@dataclass(frozen=True)
class _Where:
    server_uri: str | None
    database_uri: str | None


def _with_bar(people: int, days: int, seed: int, out: Path | str | None, where: _Where) -> DemoSummary:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def report(phase: str, fraction: float) -> None:
            bar.update(task, description=phase, completed=fraction)

        return _run(people, days, seed, out, report, where)


def _run(
    people: int,
    days: int,
    seed: int,
    out: Path | str | None,
    progress: Progress | None,
    where: _Where,
) -> DemoSummary:
    t_start = time.perf_counter()
    say: Progress = progress or (lambda _p, _f: None)
    home = get_settings().resolved_home()
    out_dir = Path(out) if out is not None else home / "demo"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # the directory asked for is what to fix, not a traceback to read
        raise InvalidInput(
            f"the demo's output directory {str(out_dir)!r} cannot be made: {e.strerror or e}"
        ) from None
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = round(now - clock, 2)
        clock = now

    say("generating people", 0.0)
    apollo_people = _apollo_people(people, seed)
    loaded: dict[str, Any] = {}

    def load_pool(database_uri: str) -> None:
        # while the API process boots: generate the pool (once per size and seed) and bulk-load it
        sample = out_dir / f"pool-{people}-seed{seed}.jsonl"
        if not sample.exists():
            _write_people(sample, people, seed)
        lap("generate")
        say("importing the pool", 0.04)
        db = Database.from_uri(database_uri)
        try:
            loaded["import"] = import_files(db, [sample], rejects_path=out_dir / "pool-rejects.jsonl")
        finally:
            db.dispose()
        lap("import")

    with running_service(
        home,
        apollo_people,
        server_uri=where.server_uri,
        database_uri=where.database_uri,
        while_starting=load_pool,
    ) as svc:
        lap("start_service")
        db = Database.from_uri(svc.database_uri)
        try:
            return _simulate(
                svc, db, loaded["import"], people, days, seed, out_dir, say, phases, lap, t_start
            )
        finally:
            db.dispose()


def _simulate(
    svc: RunningService,
    db: Database,
    imported: ImportResult,
    people: int,
    days: int,
    seed: int,
    out_dir: Path,
    say: Progress,
    phases: dict[str, float],
    lap: Callable[[str], None],
    t_start: float,
) -> DemoSummary:
    world = World(seed)
    with db.engine.connect() as conn:
        world.load(conn)
        supply = int(
            conn.execute(
                text(
                    "SELECT count(*) FROM leads l JOIN companies c ON c.id = l.company_id "
                    "WHERE lower(c.industry) = 'construction' AND l.seniority = ANY(:s) "
                    "AND l.email_status = 'verified'"
                ),
                {"s": DECISION_MAKERS},
            ).scalar_one()
        )
    sc = build_scenario(people, days, seed, supply=supply)
    summary = DemoSummary(
        people=people,
        days=days,
        seed=seed,
        simulated_from=sc.start.isoformat(),
        simulated_to=sc.end.isoformat(),
        database_uri=svc.database_uri,
    )
    summary.pool = {
        "records": imported.records,
        "leads": imported.inserted,
        "duplicates_merged": imported.merged + imported.updated + imported.unchanged,
        "rejected": imported.rejected_count,
        "companies": imported.companies_inserted,
        "icp_supply_verified": supply,
        "apollo_people_for_refill": svc.apollo_people,
    }

    admin = svc.admin()
    clients: dict[str, LeadpoolClient] = {}
    agency_ids: dict[str, int] = {}
    for name in sc.agencies:
        created = admin.create_agency(name)
        agency_ids[name] = created.id
        clients[name] = svc.agency(created.api_key)
    summary.agencies = agency_ids
    fleet = Fleet(world, admin, clients, svc.signer.headers, sc.start)
    campaign_ids: dict[str, int] = {}
    for plan in sc.campaigns:
        client = clients[plan.agency]
        c = client.create_campaign(plan.name, plan.channels, plan.icp, plan.quota)
        client.activate_campaign(c.id)
        campaign_ids[plan.key] = c.id
        summary.campaigns.append(
            {
                "key": plan.key,
                "agency": plan.agency,
                "name": plan.name,
                "channels": list(plan.channels),
                "id": c.id,
            }
        )
        for channel in plan.channels:
            zone, waves = sc.engine_waves[channel]
            fleet.add_engine(
                Engine(
                    plan.key,
                    c.id,
                    plan.agency,
                    channel,
                    sc.senders[(plan.agency, channel)],
                    sc.cadence[channel],
                    ZoneInfo(zone),
                    waves,
                    seed,
                )
            )
    lap("setup")

    try:
        sim = _Simulation(sc, svc, db, world, fleet, clients, admin, campaign_ids, agency_ids, summary)
        sim.run(say)
        lap("simulate")
        say("checking invariants", 0.95)
        with db.engine.connect() as conn:
            results = check_invariants(conn, _demo_policy())
            summary.database = _database_facts(conn)
        summary.invariants = [r.as_dict() for r in results]
        lap("invariants")
        _fill(summary, fleet, sim)
        truth = out_dir / f"hidden-truth-seed{seed}.json"
        truth.write_bytes(orjson.dumps(world.truth_table(), option=orjson.OPT_INDENT_2))
        summary.truth_path = str(truth)
        from leadpool.simulation.report import write_report

        summary.phase_seconds = phases
        summary.wall_seconds = round(time.perf_counter() - t_start, 2)
        summary.report_path = str(write_report(summary, out_dir / f"demo-report-seed{seed}.html"))
        lap("report")
        summary.phase_seconds = phases
        summary.wall_seconds = round(time.perf_counter() - t_start, 2)
        return summary
    finally:
        fleet.close()
        admin.close()
        for agency_client in clients.values():
            agency_client.close()


def _demo_policy() -> GatePolicy:
    """The platform policy the demo's service runs with (see ``service.service_env``)."""
    return GatePolicy(allowed_email_statuses=("verified", "extrapolated", "guessed"))


class _Simulation:
    def __init__(
        self,
        sc: Scenario,
        svc: RunningService,
        db: Database,
        world: World,
        fleet: Fleet,
        clients: dict[str, LeadpoolClient],
        admin: LeadpoolClient,
        campaign_ids: dict[str, int],
        agency_ids: dict[str, int],
        summary: DemoSummary,
    ) -> None:
        self.sc = sc
        self.svc = svc
        self.db = db
        self.world = world
        self.fleet = fleet
        self.clients = clients
        self.admin = admin
        self.campaign_ids = campaign_ids
        self.agency_ids = agency_ids
        self.summary = summary
        self.next_ask: dict[str, int] = {p.key: 0 for p in sc.campaigns}
        self.enrolled: dict[str, set[int]] = {p.key: set() for p in sc.campaigns}
        self.allocation_log: list[dict[str, Any]] = []
        self.worker_runs = 0
        self.worker_seconds = 0.0
        self.poached = 0
        # where the demo's policy asks for consent on some channel (a "*" would mean everyone)
        policy = _demo_policy()
        self.consent_countries = {
            code for ch in CHANNELS for code in policy.consent_countries(ch) if code != "*"
        }
        self.consented: set[tuple[str, int]] = set()

    def run(self, say: Progress) -> None:
        sc = self.sc
        for day in range(sc.days):
            say(f"simulating day {day + 1}/{sc.days}", 0.1 + 0.85 * day / sc.days)
            day_start = sc.day_start(day)
            self.allocate(day)
            if day == sc.poach_day:
                self.poach(day)
            for hour in range(24):
                slot_start = day_start + timedelta(hours=hour)
                if day == sc.cancel_day and hour == 12:
                    self.cancel(day)
                self.fleet.run_slot(slot_start, slot_start + timedelta(hours=1), day)
        self.fleet.report_events(sc.end)

    def allocate(self, day: int) -> None:
        queued = False
        for plan in self.sc.campaigns:
            if plan.agency in self.fleet.cancelled_agencies or self.next_ask[plan.key] > day:
                continue
            cid = self.campaign_ids[plan.key]
            # agencies top their campaigns up every other day
            self.next_ask[plan.key] = day + 2
            try:
                result = self.clients[plan.agency].allocate(cid, plan.new_per_day * 2)
            except ApiError as e:
                if e.status != 409:
                    raise
                # paused (the bounce guard): the agency stops asking for leads for it
                self.next_ask[plan.key] = self.sc.days
                self.allocation_log.append({"day": day, "campaign": plan.key, "refused": e.detail})
                continue
            self._enroll(plan.key, result.allocated, day)
            self.allocation_log.append(
                {
                    "day": day,
                    "campaign": plan.key,
                    "allocated": len(result.allocated),
                    "shortfall": result.shortfall,
                }
            )
            if result.shortfall > 0:
                # the segment ran dry: ask again in a week, once the refill had its chance
                self.next_ask[plan.key] = day + 7
                queued = queued or result.job_id is not None
        if queued:
            self.worker_seconds += self.svc.run_worker()
            self.worker_runs += 1
            self._pick_up_refilled(day)

    def _pick_up_refilled(self, day: int) -> None:
        """Leads the refill jobs allocated: the engines find them in their campaign's lead list."""
        for plan in self.sc.campaigns:
            if plan.agency in self.fleet.cancelled_agencies:
                continue
            rows = self.clients[plan.agency].campaign_leads(self.campaign_ids[plan.key], limit=1000)
            new = [
                r.lead_id
                for r in rows
                if r.enrollment_status == "active" and r.lead_id not in self.enrolled[plan.key]
            ]
            if new:
                self._enroll(plan.key, new, day)
                self.allocation_log.append({"day": day, "campaign": plan.key, "refilled": len(new)})

    def _enroll(self, key: str, lead_ids: list[int], day: int) -> None:
        if not lead_ids:
            return
        with self.db.engine.connect() as conn:
            self.world.load(conn, lead_ids)
        self.enrolled[key].update(lead_ids)
        self._record_consents(key, lead_ids, day)
        self.fleet.enroll(key, lead_ids, day)

    def _record_consents(self, key: str, lead_ids: list[int], day: int) -> None:
        """The agency records the consents it holds (a webinar list) for its new leads where the
        policy asks for one; the gate denies the others no_consent on those channels."""
        agency = next(p.agency for p in self.sc.campaigns if p.key == key)
        for lid in lead_ids:
            person = self.world.people.get(lid)
            if person is None or person.country_code not in self.consent_countries:
                continue
            if (agency, lid) in self.consented or not self.world.gave_consent(lid):
                continue
            self.clients[agency].grant_consent(
                lid, "express", "webinar registration (simulated)", granted_at=self.sc.day_start(day)
            )
            self.consented.add((agency, lid))
            self.summary.consents_recorded += 1

    def poach(self, day: int) -> None:
        """Agency B's email tool works from an old list that names people Agency A now owns."""
        a_leads = sorted(set().union(*(v for k, v in self.enrolled.items() if k.startswith("A"))))
        victims = a_leads[:: max(1, len(a_leads) // max(1, self.sc.poach_count))][: self.sc.poach_count]
        if not victims or ("B1", "email") not in self.fleet.engines:
            return
        due = self.sc.day_start(day) + timedelta(hours=15)
        self.fleet.inject(("B1", "email"), victims, due)
        self.poached = len(victims)

    def cancel(self, day: int) -> None:
        name = self.sc.cancel_agency
        result = self.admin.cancel_agency(self.agency_ids[name])
        self.fleet.cancelled_agencies.add(name)
        self.summary.cancellation = {
            "agency": name,
            "day": day,
            "released": result.released,
            "kept_converted": result.kept,
            "enrollments_ended": result.enrollments_ended,
            "quarantine_until": result.quarantine_until.isoformat() if result.quarantine_until else None,
        }


def _fill(summary: DemoSummary, fleet: Fleet, sim: _Simulation) -> None:
    t = fleet.tally
    summary.enrolled = sum(len(v) for v in sim.enrolled.values())
    summary.touches_attempted = t.attempted
    summary.touches_allowed = t.allowed
    summary.touches_denied = t.denied
    summary.touches_sent = t.sent
    summary.confirm_conflicts = t.confirm_conflicts
    summary.retries = t.retried
    summary.steps_given_up = t.gave_up
    summary.denied_by_reason = dict(t.denied_by_reason.most_common())
    summary.denied_by_first_reason = dict(t.denied_by_first_reason.most_common())
    summary.sent_by_channel = dict(t.sent_by_channel)
    summary.sent_by_day = [
        {"day": d, **{ch: t.sent_by_day_channel[(d, ch)] for ch in ("email", "linkedin", "sms", "phone")}}
        for d in range(summary.days)
    ]
    summary.denied_by_day = [t.denied_by_day[d] for d in range(summary.days)]
    summary.events = dict(sorted(t.events_reported.items()))
    summary.events_duplicate = t.events_duplicate
    summary.events_rejected = t.events_rejected
    summary.conversions_skipped = t.conversions_skipped
    summary.bounce_rate_by_email_status = {
        status: {
            "sent": sent,
            "bounced": t.bounced_by_status[status],
            "rate": round(t.bounced_by_status[status] / sent, 4) if sent else 0.0,
        }
        for status, sent in sorted(t.sent_email_by_status.items())
    }
    summary.poach_attempts = sim.poached
    summary.naive_sender_extra_touches = t.denied
    jobs = sim.admin.list_jobs(limit=1000)
    statuses = Counter(j.status for j in jobs)
    summary.refills = {
        "jobs": len(jobs),
        "by_status": dict(statuses),
        "enriched": sum(j.enriched for j in jobs),
        "allocated": sum(j.allocated for j in jobs),
        "worker_runs": sim.worker_runs,
        "worker_seconds": round(sim.worker_seconds, 2),
        "allocations": sim.allocation_log,
    }
    summary.credits = float(sum(j.credits_consumed for j in jobs))


def _database_facts(conn: Any) -> dict[str, Any]:
    """What the database recorded, to cross-check the engines' own counts."""
    row = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM decisions), (SELECT count(*) FROM decisions WHERE allowed), "
            "(SELECT count(*) FROM touches WHERE state = 'sent'), "
            "(SELECT count(*) FROM touches WHERE state = 'reserved'), "
            "(SELECT count(*) FROM events), (SELECT count(*) FROM leads), "
            "(SELECT count(*) FROM ownerships), (SELECT count(*) FROM suppressions), "
            "(SELECT count(*) FROM campaigns WHERE paused_reason = 'campaign_bounce_guard'), "
            "(SELECT count(*) FROM campaigns WHERE paused_reason = 'campaign_complaint_guard'), "
            "(SELECT count(*) FROM dead_domains), "
            # emails the gate refused because the address's domain was closed (its own never bounced)
            "(SELECT count(*) FROM decisions d JOIN leads l ON l.id = d.lead_id "
            " WHERE NOT d.allowed AND d.channel = 'email' AND l.email_bounced_at IS NULL "
            ' AND d.reasons @> \'[{"code": "email_bounced"}]\')'
        )
    ).one()
    events = dict(
        conn.execute(
            text("SELECT type || coalesce(':' || category, ''), count(*) FROM events GROUP BY 1 ORDER BY 1")
        ).all()
    )
    return {
        "decisions": row[0],
        "decisions_allowed": row[1],
        "touches_sent": row[2],
        "touches_still_reserved": row[3],
        "events": row[4],
        "leads": row[5],
        "owned_leads": row[6],
        "suppressions": row[7],
        "campaigns_paused_by_bounce_guard": row[8],
        "campaigns_paused_by_complaint_guard": row[9],
        "dead_domains": row[10],
        "emails_refused_at_dead_domains": row[11],
        "events_by_type": {str(k): int(v) for k, v in events.items()},
    }


def _write_people(path: Path, people: int, seed: int) -> None:
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("wb") as f:
        for person in generate_people(people, seed):
            f.write(orjson.dumps(person) + b"\n")
    tmp.replace(path)


def _apollo_people(people: int, seed: int) -> list[dict[str, Any]]:
    """People Apollo has and the pool does not: construction decision makers of another draw."""
    out = []
    wanted = set(DECISION_MAKERS)
    for p in generate_people(max(200, people // 4), seed + 1_000_003, duplicate_rate=0.0):
        org = p.get("organization") or {}
        if str(org.get("industry") or "").lower() == "construction" and p.get("seniority") in wanted:
            out.append(p)
    return out
