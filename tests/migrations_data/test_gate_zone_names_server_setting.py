"""gate_fast_check reads zone names as zoneinfo does whatever the server's abbreviation set.

In ``AT TIME ZONE`` an abbreviation wins over a zone name, and which names are abbreviations
depends on ``timezone_abbreviations``: with PostgreSQL's ``Australia`` set, ``EST`` is UTC+10
instead of the zone ``EST`` (UTC-5). The names 0015 keeps agree with zoneinfo under the Default
set, which the function pins (0022), so a database set to ``Australia`` changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from tests.migrations_data._scratch import admin_uri, scratch_db

from leadpool.db.migrate import upgrade


def test_gate_time_zones_read_as_zoneinfo_with_australian_abbreviations(database_uri: str) -> None:
    with scratch_db(database_uri, "0001_core") as db:
        name = make_url(db.uri).database
        with psycopg.connect(admin_uri(database_uri), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{name}\" SET timezone_abbreviations = 'Australia'")
        db.engine.dispose()  # new sessions pick the database setting up
        upgrade(db)
        at = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
        with db.engine.connect() as c:
            assert c.scalar(text("SHOW timezone_abbreviations")) == "Australia"
            config = c.scalar(text("SELECT proconfig FROM pg_proc WHERE proname = 'gate_fast_check'"))
            assert "timezone_abbreviations=Default" in config
            # what the function sees: its own setting for the length of the call
            c.execute(text("SET timezone_abbreviations = 'Default'"))
            rows = c.execute(
                text("SELECT z.name, CAST(:at AS timestamptz) AT TIME ZONE z.name FROM gate_time_zones z"),
                {"at": at},
            ).all()
    differ = {
        n: (str(local), str(at.astimezone(ZoneInfo(n)).replace(tzinfo=None)))
        for n, local in rows
        if local != at.astimezone(ZoneInfo(n)).replace(tzinfo=None)
    }
    assert differ == {}
