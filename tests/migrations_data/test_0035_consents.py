"""0035 adds consents and country names and gives gate_fast_check the consent countries; its
downgrade refuses while consents are held (they are the proof of what a person agreed to) and,
once they are gone, puts 0031's function back."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db import Database
from leadpool.db.migrate import current, upgrade

REVISION = "0035_consents"
BEFORE = importlib.import_module(f"leadpool.migrations.versions.{REVISION}").down_revision


def _signatures(db: Database) -> list[str]:
    with db.engine.connect() as c:
        return list(
            c.execute(
                text(
                    "SELECT pg_get_function_identity_arguments(oid) FROM pg_proc WHERE proname = 'gate_fast_check'"
                )
            ).scalars()
        )


def test_0035_adds_consents_and_its_downgrade_keeps_them_while_held(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        (before,) = _signatures(db)
        upgrade(db, REVISION)
        (after,) = _signatures(db)
        assert after == before.replace(", OUT touch_id", ", p_consent text[], OUT touch_id")
        with db.engine.begin() as c:
            codes = dict(
                c.execute(
                    text(
                        "SELECT name, code FROM country_names WHERE name IN ('germany', 'deu', 'de', 'canada')"
                    )
                )
                .tuples()
                .all()
            )
            assert codes == {"germany": "DE", "deu": "DE", "de": "DE", "canada": "CA"}
            key = c.execute(
                text("SELECT leadpool_country_key(:c)"), {"c": "\u00a0GerMany\t\u3000"}
            ).scalar_one()
            assert key == "germany"
            agency = c.execute(text("INSERT INTO agencies (name) VALUES ('a') RETURNING id")).scalar_one()
            lead = c.execute(text("INSERT INTO leads (country) VALUES ('Germany') RETURNING id")).scalar_one()
            c.execute(
                text(
                    "INSERT INTO consents (lead_id, agency_id, basis, source, granted_at, actor) "
                    "VALUES (:l, :a, 'express', 'form', now(), 'test')"
                ),
                {"l": lead, "a": agency},
            )
        with pytest.raises(RuntimeError, match=r"consents holds 1 rows"):
            downgrade(db, BEFORE)
        assert current(db) == [REVISION] and _signatures(db) == [after]  # nothing half-done

        with db.engine.begin() as c:
            c.execute(text("DELETE FROM consents"))
        downgrade(db, BEFORE)
        assert _signatures(db) == [before]
        with db.engine.connect() as c:
            assert c.execute(text("SELECT to_regclass('consents'), to_regclass('country_names')")).one() == (
                None,
                None,
            )


def test_the_country_key_trims_the_whitespace_python_trims() -> None:
    """Ingestion reads a country with str.strip(): the gate's key must trim the same characters."""
    migration = importlib.import_module(f"leadpool.migrations.versions.{REVISION}")
    assert "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) == migration.WHITESPACE
