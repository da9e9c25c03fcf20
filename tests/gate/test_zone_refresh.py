"""The fast path's zone list is rebuilt from a comparison of offsets, not from names alone."""

from __future__ import annotations

from sqlalchemy import text
from tests.jobs import run_job

from leadpool.db import Database
from leadpool.gate.zones import refresh_gate_zones


def test_refresh_keeps_the_agreeing_names_and_drops_the_others(db: Database) -> None:
    with db.engine.begin() as c:
        # CET: a fixed offset to PostgreSQL, summer time to zoneinfo; Europe/Paris: agreed on
        c.execute(text("DELETE FROM gate_time_zones WHERE name = 'Europe/Paris'"))
        c.execute(text("INSERT INTO gate_time_zones (name) VALUES ('CET') ON CONFLICT DO NOTHING"))
        added, removed = refresh_gate_zones(c)
        names = set(c.execute(text("SELECT name FROM gate_time_zones")).scalars())
    assert "Europe/Paris" in added and "CET" in removed
    assert "Europe/Paris" in names and "CET" not in names and "Factory" not in names
    with db.engine.begin() as c:
        assert refresh_gate_zones(c) == ([], [])  # nothing changes twice


def test_the_worker_refreshes_the_list_every_day() -> None:
    from leadpool.gate.tasks import ZONES_TASK
    from leadpool.queue import app as queue_app

    assert (ZONES_TASK, "daily") in queue_app.periodic_registry.periodic_tasks


_PLACES = (
    "SELECT (SELECT code FROM country_names WHERE name = 'germany'), "
    "(SELECT count(*) FROM country_names), "
    "(SELECT array_agg(zone ORDER BY rank) FROM country_clocks WHERE code = 'US'), "
    "(SELECT zones FROM phone_prefix_clocks WHERE prefix = '1212'), "
    "(SELECT count(*) FROM phone_prefix_clocks), "
    "(SELECT code FROM phone_prefix_regions WHERE prefix = '49'), "
    "(SELECT count(*) FROM phone_prefix_regions)"
)


def test_the_daily_job_makes_the_place_tables_what_the_libraries_say(db: Database) -> None:
    """A library upgrade without a migration: the tables are put back to what ingestion reads."""
    from leadpool.gate.places import refresh_places
    from leadpool.gate.tasks import ZONES_TASK
    from leadpool.ingestion.timezone import _index

    with db.engine.connect() as c:
        before = c.execute(text(_PLACES)).one()
    with db.engine.begin() as c:
        # as an older dataset could have left them: a spelling gone, one changed, a stale one
        c.execute(text("DELETE FROM country_names WHERE name = 'deu'"))
        c.execute(text("UPDATE country_names SET code = 'AT' WHERE name = 'germany'"))
        c.execute(text("INSERT INTO country_names (name, code) VALUES ('atlantis', 'AQ')"))
        c.execute(text("DELETE FROM country_clocks WHERE code = 'US' AND zone = 'Pacific/Honolulu'"))
        c.execute(text("UPDATE country_clocks SET rank = 9 WHERE code = 'US' AND zone = 'America/New_York'"))
        c.execute(text("UPDATE phone_prefix_clocks SET zones = '{America/Chicago}' WHERE prefix = '1212'"))
        c.execute(text("INSERT INTO phone_prefix_clocks (prefix, zones) VALUES ('1999999', '{}')"))
        c.execute(text("UPDATE phone_prefix_regions SET code = 'AT' WHERE prefix = '49'"))
        c.execute(text("DELETE FROM phone_prefix_regions WHERE prefix = '1416'"))
    assert run_job(db, ZONES_TASK) == "succeeded"
    assert _index.cache_info().currsize == 0  # read for the refresh, then let go (40 MB)
    with db.engine.connect() as c:
        after = c.execute(text(_PLACES)).one()
    assert after == before and before[0] == "DE" and before[3] == ["America/New_York"] and before[5] == "DE"
    with db.engine.begin() as c:
        assert refresh_places(c) == {
            "country_names": 0,
            "country_clocks": 0,
            "phone_prefix_clocks": 0,
            "phone_prefix_regions": 0,
        }
