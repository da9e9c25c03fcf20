"""An operator's journey: an event dated years ahead (a typo in the year, an engine's broken clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import func, select
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.events import EventIn, record_event
from leadpool.gate import check
from leadpool.models import Company, CompanyPause, Event, Lead

from .conftest import World


def _count(db: Database, model: type) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_reply_dated_years_ahead_is_refused_not_applied_for_good(db: Database, world: World) -> None:
    """`leadpool event record --occurred-at` takes any instant up to the year 2999. Typing 2062
    for 2026 on a not-interested reply is accepted (exit 0) and puts the person in cooling until
    2063 and their company on pause until 2062. Effects are monotonic by design (docs/events.md:
    "until" columns keep the latest, "late, reordered or replayed events cannot undo anything"),
    so nothing the operator can record afterwards repairs it. An event cannot have happened
    years after it was received: an occurred_at far beyond now should be refused in one line,
    exit 2, with nothing stored."""
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead()
    world.own(lead, agency, campaign)
    ahead = (datetime.now(UTC) + timedelta(days=3 * 365)).isoformat()
    res = CliRunner().invoke(
        app,
        [
            "event",
            "record",
            "--type",
            "reply",
            "--lead",
            str(lead),
            "--category",
            "not_interested",
            "--provider-event-id",
            "typo-year",
            "--occurred-at",
            ahead,
            "--json",
        ],
    )
    assert res.exit_code == 2 and "occurred" in res.output.lower(), res.output
    assert _count(db, Event) == 0
    with session_scope(db) as s:
        row = s.get(Lead, lead)
        assert row is not None and row.cooling_until is None


def test_an_agency_cannot_pause_a_company_for_every_agency_for_centuries(db: Database, world: World) -> None:
    """`POST /v1/events` (record_event with the agency's id) accepts an occurred_at up to 2999. An
    agency (or its sending tool with a wrong clock) reporting an interested reply of one of its
    own leads dated in 2990 writes a company pause until 2990 + 14 days: the gate then denies
    `company_paused` to every other agency's campaigns for every colleague at that company, for
    good, since pauses only ever lengthen. One tenant's bad timestamp should not lock a company away
    from all the others: an event dated far after its arrival should be refused."""
    with session_scope(db) as s:
        company = Company(name="Shared Co", domain="shared-co.example")
        s.add(company)
        s.flush()
        company_id = company.id
    a, b = world.agency(), world.agency()
    ca, cb = world.campaign(a, channels=["linkedin"]), world.campaign(b, channels=["linkedin"])
    mine, theirs = world.lead(company_id=company_id), world.lead(company_id=company_id)
    world.own(mine, a, ca)
    world.own(theirs, b, cb)
    now = datetime.now(UTC)
    refused = False
    try:
        with session_scope(db) as s:
            record_event(
                s,
                EventIn(
                    type="reply",
                    lead_id=mine,
                    category="interested",
                    source="agency-inbox",
                    provider_event_id="clock-skew-1",
                    occurred_at=datetime(2990, 1, 1, tzinfo=UTC),
                ),
                at=now,
                agency_id=a,
            )
    except (InvalidInput, ValidationError):
        refused = True
    with session_scope(db) as s:
        pauses = [p.until for p in s.scalars(select(CompanyPause))]
        decision = check(s, lead_id=theirs, campaign_id=cb, channel="linkedin", sender="b@b.example", at=now)
        codes = [r.code for r in decision.reasons]
    assert refused, f"stored; company pauses until {pauses}; agency B's check: {json.dumps(codes)}"
    assert pauses == [] and "company_paused" not in codes
