"""0039 lets a sender pause be a sending domain's and matches an email sender's domain in the fast
path; its downgrade refuses while a domain is paused, else puts 0038's function back."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.migrations_data._fast_check import assert_recreated, down_revision, fast_check
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade

REVISION = "0039_sending_domain_guard"
BEFORE = down_revision(REVISION)
_PAUSE = (
    "INSERT INTO sender_pauses (sender, reason, paused_at) "
    "VALUES ('domain:spread.example', 'domain_bounce_guard', now())"
)


def test_0039_holds_domain_pauses_and_its_downgrade_refuses_while_one_is_in_force(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        before = fast_check(db)
        upgrade(db, REVISION)
        assert_recreated(before, fast_check(db), "'domain:'")
        with db.engine.begin() as c:
            c.execute(text(_PAUSE))
            spelled = c.execute(
                text(
                    "SELECT leadpool_sender_domain('Box <Box1@Spread.Example.>'), leadpool_sender_domain('box1')"
                )
            ).one()
        assert tuple(spelled) == ("spread.example", None)

        with pytest.raises(Exception, match=r"1 sending domain\(s\) are paused \(domain:spread\.example\)"):
            downgrade(db, BEFORE)
        with db.engine.begin() as c:
            c.execute(text("DELETE FROM sender_pauses"))
        downgrade(db, BEFORE)
        assert fast_check(db) == before
        with db.engine.connect() as c:
            assert c.execute(text("SELECT to_regclass('ix_events_bad_sends_occurred_at')")).scalar() is None
            assert c.execute(text("SELECT to_regproc('leadpool_sender_domain')")).scalar() is None
            with pytest.raises(Exception, match="ck_sender_pauses_reason"):
                c.execute(text(_PAUSE))
