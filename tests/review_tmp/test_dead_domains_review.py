"""Review: defects of dead domains (events/dead_domains.py, record._dead_domain, revive-domain)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.gate.factories import MONDAY_OPEN, World
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.events.dead_domains import revive_domain
from leadpool.gate import check
from leadpool.models import DeadDomain

_n = iter(range(1, 100_000))


def _bounce(
    db: Database, email: str, status: str, *, at: datetime, arrived: datetime | None = None, agency_id=None
) -> list[str]:
    event = EventIn(
        type="hard_bounce",
        email=email,
        source="test",
        provider_event_id=f"review-bounce-{next(_n)}",
        occurred_at=at,
        detail={"smtp_status": status},
    )
    with session_scope(db) as s:
        return record_event(s, event, at=arrived or at + timedelta(minutes=1), agency_id=agency_id).effects


def _closed(db: Database) -> set[str]:
    with session_scope(db) as s:
        return set(s.scalars(select(DeadDomain.domain)))


def test_a_bounce_from_before_a_revive_does_not_close_the_domain_again(db: Database) -> None:
    """An operator revives a domain (its MX is back). A bounce that happened before the revive
    (the same dead period) and arrives after it closes the domain again for 90 days: the revive
    is silently undone. The sending-domain guard ignores what happened before a resume
    (_resumed_since); dead domains have no such rule."""
    now = datetime.now(UTC)
    _bounce(db, "jane@fixedco.example", "5.1.2", at=now - timedelta(hours=2))
    with session_scope(db) as s:
        assert revive_domain(s, "fixedco.example", actor="ops:kim", at=now - timedelta(minutes=30)) is not None
    # the provider's webhook for a colleague's bounce from before the fix, delivered late
    _bounce(db, "raj@fixedco.example", "5.1.2", at=now - timedelta(hours=3), arrived=now)
    assert _closed(db) == set()


def test_every_domain_dead_domains_lists_can_be_revived(db: Database) -> None:
    """close_domain stores the address's domain as normalize_email keeps it (``www.`` included);
    revive_domain reads its argument with canonical_domain, which strips ``www.``: the listed
    domain cannot be revived (``was not closed``) and stays closed for 90 days."""
    now = datetime.now(UTC)
    assert "domain:dead" in _bounce(db, "info@www.oldco.example", "5.1.2", at=now - timedelta(hours=1))
    listed = json.loads(CliRunner().invoke(app, ["send", "dead-domains", "--json"]).stdout)
    assert [r["domain"] for r in listed] == ["www.oldco.example"]
    res = CliRunner().invoke(app, ["send", "revive-domain", "www.oldco.example", "--actor", "ops", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["revived"] is True, res.output
    assert _closed(db) == set()


def test_one_agency_reporting_a_bounce_by_address_cannot_close_a_domain_for_every_agency(db: Database) -> None:
    """Any agency's API key may report a hard bounce by address only (no send of its own): the
    address is suppressed (protective), but the 5.1.2 also closes the whole domain for every
    agency for 90 days. The block guard refuses exactly this ("a block reported by address alone
    could name anyone's mailbox"); a domain closure should need the reporter's own send."""
    with session_scope(db) as s:
        a = World(s)
        b = World(s)
        victim = b.lead(company_id=None, email="ceo@bigclient.example")
    _bounce(
        db, "nobody@bigclient.example", "5.1.2", at=MONDAY_OPEN - timedelta(hours=1), agency_id=a.agency_id
    )
    with session_scope(db) as s:
        d = check(s, lead_id=victim, campaign_id=b.campaign_id, channel="email", at=MONDAY_OPEN, reserve=False)
    assert d.allowed, d.codes


@pytest.mark.parametrize("email", ["a@hotmail.de", "a@yahoo.de", "a@outlook.de", "a@live.co.uk", "a@btinternet.com"])
def test_big_regional_mailbox_providers_are_never_closed(db: Database, email: str) -> None:
    """MAILBOX_PROVIDERS holds hotmail.co.uk and hotmail.fr but not hotmail.de, yahoo.de, outlook.de,
    live.co.uk, btinternet.com...: one misreported 5.1.2 stops email to all of their users."""
    assert "domain:dead" not in _bounce(db, email, "5.1.2", at=MONDAY_OPEN - timedelta(hours=1))


def test_reviving_a_closure_that_already_ended_says_revived_false(db: Database) -> None:
    """docs/events.md: "`revived: false` when it was not closed". A row whose until has passed is
    not closed (not listed, the gate allows), yet revive deletes it, writes a domain.revive audit
    row and answers revived: true."""
    now = datetime.now(UTC)
    _bounce(db, "x@expired.example", "5.1.2", at=now - timedelta(days=200))
    assert json.loads(CliRunner().invoke(app, ["send", "dead-domains", "--json"]).stdout) == []
    res = CliRunner().invoke(app, ["send", "revive-domain", "expired.example", "--actor", "ops", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["revived"] is False
