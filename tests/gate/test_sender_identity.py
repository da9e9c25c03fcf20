"""One mailbox written two ways must share one sender_daily_cap."""

from __future__ import annotations

import pytest
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, check, check_many


@pytest.mark.parametrize(
    "first,second",
    [
        ("anna@agency-mail.com", "Anna@Agency-Mail.com"),
        ("anna@agency-mail.com", " anna@agency-mail.com"),
        ("anna@agency-mail.com", "ANNA@AGENCY-MAIL.COM "),
    ],
)
def test_same_mailbox_in_another_case_or_padding_shares_the_sender_cap(
    db: Database, first: str, second: str
) -> None:
    with session_scope(db) as s:
        w = World(s, campaign_gate={"sender_daily_caps": {"email": 1}})
        a = w.lead(company_id=None)
        b = w.lead(company_id=None)
    with session_scope(db) as s:
        assert check(
            s, lead_id=a, campaign_id=w.campaign_id, channel="email", sender=first, at=MONDAY_OPEN
        ).allowed
    with session_scope(db) as s:
        d = check(s, lead_id=b, campaign_id=w.campaign_id, channel="email", sender=second, at=MONDAY_OPEN)
    assert "sender_daily_cap" in d.codes, (
        f"{second!r} got {d.decision}: a second mailbox identity for {first!r}"
    )


def test_same_mailbox_two_spellings_in_one_batch(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s, campaign_gate={"sender_daily_caps": {"email": 1}})
        a = w.lead(company_id=None)
        b = w.lead(company_id=None)
    with session_scope(db) as s:
        ds = check_many(
            s,
            [
                CheckRequest(a, w.campaign_id, "email", sender="anna@agency-mail.com", at=MONDAY_OPEN),
                CheckRequest(b, w.campaign_id, "email", sender="Anna@agency-mail.com", at=MONDAY_OPEN),
            ],
        )
    assert [d.decision for d in ds] == ["allow", "deny"], [d.reasons for d in ds]


def test_a_worker_and_an_event_name_the_sender_as_the_check_stored_it(db: Database) -> None:
    from sqlalchemy import select

    from leadpool.events import EventIn, record_event
    from leadpool.gate import GateWorker
    from leadpool.models import Decision, Event, Touch

    with session_scope(db) as s:
        w = World(s, campaign_gate={"sender_daily_caps": {"email": 1}})
        a = w.lead(company_id=None)
        b = w.lead(company_id=None)
    with GateWorker(db) as gate:
        assert gate.check(
            lead_id=a, campaign_id=w.campaign_id, channel="email", sender=" Anna@X.com", at=MONDAY_OPEN
        ).allowed
        again = gate.check(
            lead_id=b, campaign_id=w.campaign_id, channel="email", sender="anna@x.COM", at=MONDAY_OPEN
        )
    assert "sender_daily_cap" in again.codes
    with session_scope(db) as s:
        record_event(
            s,
            EventIn(
                type="sender_block",
                email="someone@example.com",
                channel="email",
                sender="ANNA@x.com",
                occurred_at=MONDAY_OPEN,
                source="api",
                provider_event_id="blk-1",
            ),
        )
    with session_scope(db) as s:
        assert set(s.execute(select(Touch.sender)).scalars()) == {"anna@x.com"}
        assert set(s.execute(select(Decision.sender)).scalars()) == {"anna@x.com"}
        assert list(s.execute(select(Event.sender)).scalars()) == ["anna@x.com"]
