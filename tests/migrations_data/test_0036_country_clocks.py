"""0036 adds each country's clocks, sends a lead without a zone but with a known country to the
full check (whose window must be open on all its clocks), and resolves again the zones of leads
stored without one (a country on one clock now gives its zone); its downgrade puts 0035's function
back and keeps the zones it resolved."""

from __future__ import annotations

import importlib

from sqlalchemy import text
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db import Database
from leadpool.db.migrate import upgrade

REVISION = "0036_country_clocks"
BEFORE = importlib.import_module(f"leadpool.migrations.versions.{REVISION}").down_revision


def _function(db: Database) -> tuple[str, str]:
    with db.engine.connect() as c:
        row = c.execute(
            text(
                "SELECT pg_get_function_identity_arguments(oid), prosrc FROM pg_proc WHERE proname = 'gate_fast_check'"
            )
        ).one()
    return row[0], row[1]


def _zones(db: Database) -> dict[int, tuple[str | None, str | None]]:
    with db.engine.connect() as c:
        return {
            r[0]: (r[1], r[2]) for r in c.execute(text("SELECT id, time_zone, time_zone_source FROM leads"))
        }


def test_0036_stores_country_clocks_and_resolves_zones_again(database_uri: str) -> None:
    leads = [
        # (id, city, state, country, zone, source) as the previous release stored them
        (1, None, None, "Argentina", None, None),  # twelve zone names, one clock
        (2, None, None, "United States", None, None),  # seven clocks: stays unknown
        (3, None, None, None, None, None),
        (4, "Portland", "Maine", "United States", None, None),  # a lead stored before zones were resolved
        (5, None, None, "Argentina", "Europe/Paris", "apollo"),  # a zone of its own: kept
    ]
    with scratch_db(database_uri, BEFORE) as db:
        with db.engine.begin() as c:
            for row in leads:
                c.execute(
                    text(
                        "INSERT INTO leads (id, city, state, country, time_zone, time_zone_source) "
                        "VALUES (:i, :c, :s, :k, :z, :src)"
                    ),
                    dict(zip(("i", "c", "s", "k", "z", "src"), row, strict=True)),
                )
        signature, before = _function(db)
        upgrade(db, REVISION)
        after_signature, after = _function(db)
        assert after_signature == signature and "country_clocks" in after and "country_clocks" not in before
        assert _zones(db) == {
            1: ("America/Argentina/Buenos_Aires", "country"),
            2: (None, None),
            3: (None, None),
            4: ("America/New_York", "city"),
            5: ("Europe/Paris", "apollo"),
        }
        with db.engine.connect() as c:
            us = (
                c.execute(text("SELECT zone FROM country_clocks WHERE code = 'US' ORDER BY rank"))
                .scalars()
                .all()
            )
            settings = c.execute(
                text("SELECT proconfig FROM pg_proc WHERE proname = 'gate_fast_check'")
            ).scalar_one()
        assert us[0] == "America/New_York" and "Pacific/Honolulu" in us and len(us) == 7
        # CREATE OR REPLACE dropped the function's settings: 0023's are back
        assert {"enable_seqscan=off", "timezone_abbreviations=Default", "TimeZone=UTC"} <= set(settings)

        downgrade(db, BEFORE)
        assert _function(db) == (signature, before)
        with db.engine.connect() as c:
            assert c.execute(text("SELECT to_regclass('country_clocks')")).scalar_one() is None
        assert _zones(db)[1] == ("America/Argentina/Buenos_Aires", "country")
