"""Dead domains and the sending-domain guard, second review: an agency naming its own send beside
another address; a www. domain and its parent; a mailbox spelled @domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select, text
from tests.events.test_sending_domain_guard import _pauses, _report, _sends
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event, senders
from leadpool.events.dead_domains import revive_domain
from leadpool.gate import check
from leadpool.models import AuditLog, DeadDomain, Touch

T0 = MONDAY_OPEN
BOUNCED = T0 - timedelta(hours=1)
_ids = count(1)


def _closed(db: Database) -> set[str]:
    with session_scope(db) as s:
        return set(s.scalars(select(DeadDomain.domain)))


def _bounce(db: Database, email: str, at: datetime, **kw: object) -> list[str]:
    agency_id = kw.pop("agency_id", None)
    event = EventIn(
        type="hard_bounce",
        email=email,
        source="test",
        provider_event_id=f"second-{next(_ids)}",
        occurred_at=at,
        detail={"smtp_status": "5.1.2"},
        **kw,  # type: ignore[arg-type]
    )
    with session_scope(db) as s:
        return record_event(s, event, at=at + timedelta(minutes=1), agency_id=agency_id).effects  # type: ignore[arg-type]


@pytest.mark.parametrize("by_lead", [False, True])
def test_an_agency_cannot_close_a_foreign_domain_by_attaching_its_own_send(
    db: Database, by_lead: bool
) -> None:
    """docs/events.md: an agency closes a domain only by a bounce of one of its own sends. Naming
    its own send (message id) beside an address at another domain must not close that domain."""
    with session_scope(db) as s:
        a, b = World(s), World(s)
        mine = a.lead(company_id=None, email="pat@smallco.example")
        victim = b.lead(company_id=None, email="ceo@bigclient.example")
        s.add(
            Touch(
                lead_id=mine,
                agency_id=a.agency_id,
                campaign_id=a.campaign_id,
                channel="email",
                sender="sdr@agency-a.example",
                state="sent",
                at=BOUNCED - timedelta(hours=1),
                sent_at=BOUNCED - timedelta(hours=1),
                local_date=(BOUNCED - timedelta(hours=1)).date(),
                provider_message_id="<m-own@agency-a.example>",
            )
        )
    extra = {"lead_id": mine} if by_lead else {}
    effects = _bounce(
        db,
        "nobody@bigclient.example",
        BOUNCED,
        provider_message_id="<m-own@agency-a.example>",
        agency_id=a.agency_id,
        **extra,
    )
    assert "domain:dead" not in effects, effects
    assert "bigclient.example" not in _closed(db)
    with session_scope(db) as s:
        d = check(s, lead_id=victim, campaign_id=b.campaign_id, channel="email", at=T0, reserve=False)
    assert d.allowed, d.codes


def test_reviving_www_domain_does_not_silently_reopen_its_parent(db: Database) -> None:
    """www.oldco.example and oldco.example are two closures (a subdomain has its own mail set-up).
    Reviving www.oldco.example must not reopen oldco.example too, with one audit row for one."""
    now = datetime.now(UTC)
    assert "domain:dead" in _bounce(db, "info@www.oldco.example", now - timedelta(hours=1))
    assert "domain:dead" in _bounce(db, "jane@oldco.example", now - timedelta(hours=1))
    assert _closed(db) == {"www.oldco.example", "oldco.example"}
    with session_scope(db) as s:
        revived = revive_domain(s, "www.oldco.example", actor="ops:kim", at=now)
        assert revived is not None
    with session_scope(db) as s:
        audited = set(s.scalars(select(AuditLog.subject_id).where(AuditLog.action == "domain.revive")))
    closed = _closed(db)
    # every closure that ended was audited, and the parent domain stays closed
    assert audited | closed == {"www.oldco.example", "oldco.example"}, (audited, closed)
    assert closed == {"oldco.example"}, closed


def test_a_mailbox_spelled_at_domain_can_be_resumed(db: Database) -> None:
    """A sender spelled '@victim.example' is paused as a mailbox (email:@victim.example) by its
    bounce guard; resume-sender '@victim.example' names the domain's pause first, else that one."""
    now = datetime.now(UTC)
    sent = _sends(db, "x.example", boxes=1, per_box=60, at=now - timedelta(hours=3), campaigns=1)
    with session_scope(db) as s:
        s.execute(text("UPDATE touches SET sender = '@victim.example' WHERE id = ANY(:ids)"), {"ids": sent})
    _report(db, sent[:5], "hard_bounce", now - timedelta(hours=2))
    assert _pauses(db) == {"email:@victim.example": "sender_bounce_guard"}
    with session_scope(db) as s:
        ended = senders.resume_sender(s, "email", "@victim.example", actor="ops", at=now)
    assert ended is not None and _pauses(db) == {}, _pauses(db)
