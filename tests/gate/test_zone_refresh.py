"""The fast path's zone list is rebuilt from a comparison of offsets, not from names alone."""

from __future__ import annotations

from sqlalchemy import text

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
