"""Migration 0017: touches and counters stored before senders had one spelling still count for the sender."""

from __future__ import annotations

import importlib

from sqlalchemy import text
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import check


def test_sender_cap_spent_before_the_upgrade_still_counts(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s, campaign_gate={"sender_daily_caps": {"email": 1}})
        a = w.lead(company_id=None)
        b = w.lead(company_id=None)
    with session_scope(db) as s:
        assert check(
            s,
            lead_id=a,
            campaign_id=w.campaign_id,
            channel="email",
            sender="Anna@Agency-Mail.com",
            at=MONDAY_OPEN,
        ).allowed
        # what the previous release stored for that same check: the sender verbatim
        s.execute(text("UPDATE touches SET sender = 'Anna@Agency-Mail.com'"))
        s.execute(text("UPDATE gate_counters SET key = 'email:Anna@Agency-Mail.com' WHERE scope = 'sender'"))
        s.execute(
            text(
                "INSERT INTO gate_counters (scope, key, day, n) SELECT scope, 'email: anna@agency-mail.com', day, 1 FROM gate_counters WHERE scope = 'sender'"
            )
        )
    with session_scope(db) as s:
        for sql in importlib.import_module("leadpool.migrations.versions.0017_one_spelling").statements():
            s.execute(text(sql))
        rows = s.execute(text("SELECT key, n FROM gate_counters WHERE scope = 'sender'")).all()
        assert [tuple(r) for r in rows] == [("email:anna@agency-mail.com", 2)]  # merged, summed
        assert s.execute(text("SELECT sender FROM touches")).scalar_one() == "anna@agency-mail.com"
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=b,
            campaign_id=w.campaign_id,
            channel="email",
            sender="Anna@Agency-Mail.com",
            at=MONDAY_OPEN,
        )
    assert "sender_daily_cap" in d.codes, d
