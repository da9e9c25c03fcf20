"""0042 claims the senders and sending domains the touches already name: each one agency alone
used is that agency's, one several used is shared (nobody's), so no agency's first check after
the upgrade takes a domain other agencies send from; its downgrade drops the table."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.migrations_data._fast_check import down_revision
from tests.migrations_data._scratch import downgrade, scratch_db

from leadpool.db.migrate import upgrade
from leadpool.events import sender_claims

REVISION = "0042_sender_claims"
BEFORE = down_revision(REVISION)


def _touch(c, agency: int, channel: str, sender: str, at: str) -> None:
    c.execute(
        text(
            "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, sender, state, at, local_date) "
            "VALUES (1, :a, :a, :ch, :s, 'sent', CAST(:at AS timestamptz), CAST(:at AS date))"
        ),
        {"a": agency, "ch": channel, "s": sender, "at": at},
    )


def test_0042_claims_what_one_agency_used_and_shares_what_several_did(database_uri: str) -> None:
    with scratch_db(database_uri, BEFORE) as db:
        with db.engine.begin() as c:
            for n in (1, 2):
                c.execute(
                    text("INSERT INTO agencies (id, name) VALUES (:i, :n)"), {"i": n, "n": f"agency {n}"}
                )
            _touch(c, 1, "email", "sdr1@shared-review.example", "2026-11-02 10:00+00")
            _touch(c, 2, "email", "sdr2@shared-review.example", "2026-11-03 10:00+00")
            _touch(c, 1, "email", "sdr@one.example", "2026-11-04 10:00+00")
            _touch(c, 1, "email", "me@gmail.com", "2026-11-04 11:00+00")
            _touch(c, 1, "linkedin", "li-both", "2026-11-05 10:00+00")
            _touch(c, 2, "linkedin", "li-both", "2026-11-06 10:00+00")
        upgrade(db, REVISION)
        with db.engine.connect() as c:
            claimed = dict(c.execute(text("SELECT sender, agency_id FROM sender_claims")).tuples().all())
        assert claimed == {
            "email:sdr1@shared-review.example": 1,
            "email:sdr2@shared-review.example": 2,
            "domain:shared-review.example": None,  # two agencies' mailboxes: nobody's
            "email:sdr@one.example": 1,
            "domain:one.example": 1,
            "email:me@gmail.com": 1,  # a mailbox provider's domain is nobody's, and not listed
            "linkedin:li-both": None,
        }
        now = datetime.now(UTC)
        with Session(db.engine) as s, s.begin():
            asked = [(1, "email", "sdr1@shared-review.example"), (2, "email", "sdr2@shared-review.example")]
            assert sender_claims.foreign(s, asked, at=now, actor="test") == set()
            # agency 1 naming agency 2's own mailbox at the shared domain is still refused
            assert sender_claims.foreign(
                s, [(1, "email", "sdr2@shared-review.example")], at=now, actor="t"
            ) == {0}
        downgrade(db, BEFORE)
        with db.engine.connect() as c:
            assert c.execute(text("SELECT to_regclass('sender_claims')")).scalar() is None
