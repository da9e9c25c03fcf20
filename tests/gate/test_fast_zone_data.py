"""The fast path reads local time with the server's time zone database, the full check with
Python's zoneinfo. The embedded server (the default deployment) ships its own tz data; Python reads
the system's. gate_time_zones keeps only the names whose offsets agree (migration 0024, daily
refresh), so where the two versions differ the full check decides.

Runs on its own embedded server (whatever LEADPOOL_TEST_DATABASE_URL says), as `leadpool` runs by
default.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, embedded, session_scope
from leadpool.db.migrate import upgrade
from leadpool.gate import CheckRequest, GateWorker, check, check_many

# Monday 2027-01-04 14:30 UTC. Python's zoneinfo here (tzdata 2025b): America/Vancouver is PST
# (-08:00), 06:30 local, before the email window (07:00). The embedded server's newer tz data has
# British Columbia on permanent -07:00 from November 2026: 07:30, inside the window.
AT = datetime(2027, 1, 4, 14, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def embedded_db() -> Iterator[Database]:
    home = Path(tempfile.gettempdir()) / f"leadpool-zone-data-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True, exist_ok=True)
    admin = embedded.server_uri(home, database="postgres", cleanup_mode="delete")
    name = f"leadpool_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database.from_uri(make_url(admin).set(database=name).render_as_string(hide_password=False))
    upgrade(db)
    yield db
    db.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("path", ["check", "GateWorker"])
def test_fast_path_uses_the_servers_zone_rules_and_allows_in_quiet_hours(
    embedded_db: Database, env: None, path: str
) -> None:
    db = embedded_db
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        lid = w.lead(company_id=None, time_zone="America/Vancouver")
    with session_scope(db) as s:
        check_many(s, [CheckRequest(primer, w.campaign_id, "linkedin", at=MONDAY_OPEN, reserve=False)])
    with session_scope(db) as s:
        full = check_many(s, [CheckRequest(lid, w.campaign_id, "email", at=AT, reserve=False)])[0]
    assert full.codes == ["quiet_hours"], full.reasons
    if path == "check":
        with session_scope(db) as s:
            d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=AT)
    else:
        with GateWorker(db) as gate:
            d = gate.check(lead_id=lid, campaign_id=w.campaign_id, channel="email", at=AT)
    assert d.decision == "deny", (
        f"{path} allowed an email at {AT.isoformat()} to a lead in America/Vancouver (touch {d.touch_id}); "
        f"the full check denies it: {full.reasons[0].message}"
    )
