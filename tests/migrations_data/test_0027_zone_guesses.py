"""0027 recomputes the zones imports derived before (city, state) with the rules that know guesses."""

from __future__ import annotations

from sqlalchemy import text
from tests.migrations_data._scratch import scratch_db

from leadpool.db.migrate import upgrade

BEFORE = "0026_previous_emails"


def test_0027_recomputes_derived_zones(database_uri: str) -> None:
    leads = [
        # (id, city, state, country, phone, zone, source) as the previous release stored them
        (1, "Portland", None, "United States", "+12075550134", "America/Los_Angeles", "city"),
        (2, "Portland", None, "United States", None, "America/Los_Angeles", "city"),
        (3, "Tinytown Nowhere", "TX", "United States", None, "America/Chicago", "state"),
        (4, "Denver", "Colorado", "United States", None, "America/Denver", "city"),
        (5, "Portland", None, "United States", None, "Europe/Paris", "apollo"),  # Apollo's own: kept
    ]
    with scratch_db(database_uri, BEFORE) as db:
        with db.engine.begin() as c:
            for row in leads:
                c.execute(
                    text(
                        "INSERT INTO leads (id, city, state, country, phone, time_zone, time_zone_source) "
                        "VALUES (:i, :c, :s, :k, :p, :z, :src)"
                    ),
                    dict(zip(("i", "c", "s", "k", "p", "z", "src"), row, strict=True)),
                )
        upgrade(db)
        with db.engine.connect() as c:
            got = {
                r[0]: (r[1], r[2])
                for r in c.execute(text("SELECT id, time_zone, time_zone_source FROM leads"))
            }
    assert got == {
        1: ("America/New_York", "city"),  # its Maine number settles which Portland
        2: ("America/Los_Angeles", "guess"),
        3: ("America/Chicago", "guess"),
        4: ("America/Denver", "city"),
        5: ("Europe/Paris", "apollo"),
    }
