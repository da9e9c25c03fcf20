"""0039 lets a sender pause be a sending domain's and matches an email sender's domain in the fast
path; its downgrade refuses while a domain is paused, else puts 0038's function back."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0039_sending_domain_guard"
BEFORE = importlib.import_module(f"leadpool.migrations.versions.{REVISION}").down_revision
_FUNCTION = (
    "SELECT pg_get_function_identity_arguments(oid), prosrc, proconfig FROM pg_proc "
    "WHERE proname = 'gate_fast_check'"
)
_PAUSE = (
    "INSERT INTO sender_pauses (sender, reason, paused_at) "
    "VALUES ('domain:spread.example', 'domain_bounce_guard', now())"
)


def test_0039_holds_domain_pauses_and_its_downgrade_refuses_while_one_is_in_force(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        with db.engine.connect() as c:
            before = c.execute(text(_FUNCTION)).one()
        upgrade(db, REVISION)
        with db.engine.begin() as c:
            after = c.execute(text(_FUNCTION)).one()
            c.execute(text(_PAUSE))
        assert after[0] == before[0] and "'domain:'" in after[1] and "'domain:'" not in before[1]
        assert sorted(after[2]) == sorted(before[2])  # 0023's settings, applied again

        with pytest.raises(Exception, match=r"1 sending domain\(s\) are paused \(domain:spread\.example\)"):
            downgrade(db, BEFORE)
        with db.engine.begin() as c:
            c.execute(text("DELETE FROM sender_pauses"))
        downgrade(db, BEFORE)
        with db.engine.connect() as c:
            assert c.execute(text(_FUNCTION)).one() == before
            assert c.execute(text("SELECT to_regclass('ix_events_bad_sends_occurred_at')")).scalar() is None
            assert c.execute(text("SELECT to_regproc('leadpool_sender_domain')")).scalar() is None
            with pytest.raises(Exception, match="ck_sender_pauses_reason"):
                c.execute(text(_PAUSE))
