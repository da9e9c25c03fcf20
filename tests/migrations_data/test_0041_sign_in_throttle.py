"""0041 adds the shared sign-in tables; its downgrade drops them (the processes count nothing
then: an older release counts in memory)."""

from __future__ import annotations

from sqlalchemy import text
from tests.migrations_data._fast_check import down_revision
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0041_sign_in_throttle"
BEFORE = down_revision(REVISION)


def test_0041_adds_the_sign_in_tables_and_its_downgrade_drops_them(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        upgrade(db, REVISION)
        with db.engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO sign_in_failures VALUES ('192.0.2.1', ARRAY[now()], now());"
                    "INSERT INTO sign_in_trust VALUES ('192.0.2.1', 'admin', now())"
                )
            )
        downgrade(db, BEFORE)
        with db.engine.connect() as c:
            for table in ("sign_in_failures", "sign_in_trust"):
                assert c.execute(text(f"SELECT to_regclass('{table}')")).scalar() is None
