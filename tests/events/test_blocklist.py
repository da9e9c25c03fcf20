"""The platform blocklist: the gate's `blocklisted` reason had no way in (nothing wrote it)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from tests.gate.factories import MONDAY_OPEN, World, lead
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.gate import check
from leadpool.ingestion import import_people
from leadpool.privacy import blocklist


def _codes(db: Database, lead_id: int, campaign_id: int, channel: str = "email") -> list[str]:
    with session_scope(db) as s:
        d = check(s, lead_id=lead_id, campaign_id=campaign_id, channel=channel, at=MONDAY_OPEN, reserve=False)
    return d.codes


def _count(db: Database, sql: str) -> int:
    with db.engine.connect() as c:
        return int(c.execute(text(sql)).scalar_one())


def test_blocklisting_an_address_denies_every_lead_holding_it_on_every_channel(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        jo = w.lead(email="jo@acme.example")
        twin = w.lead(email="jo.other@acme.example", personal_emails=["jo@acme.example"])
        other = w.lead(email="sam@acme.example")
        campaign = w.campaign_id
    assert _codes(db, jo, campaign) == []
    with session_scope(db) as s:
        out = blocklist(s, email="Jo@Acme.example", reason="asked by phone", actor="ops:ann")
    assert out.lead_ids == [jo, twin] and out.newly_blocklisted == 2 and out.enrollments_ended == 2
    assert out.suppressions_added == 1
    for channel in ("email", "linkedin", "sms", "phone"):
        assert "blocklisted" in _codes(db, jo, campaign, channel)
    assert "blocklisted" in _codes(db, twin, campaign)
    assert _codes(db, other, campaign) == []
    # the audit row says who and why, never the address
    with db.engine.connect() as c:
        actor, action, detail = c.execute(text("SELECT actor, action, detail FROM audit_log")).one()
    assert (actor, action, detail["reason"]) == ("ops:ann", "blocklist.add", "asked by phone")
    assert "jo@acme" not in json.dumps(detail).lower()
    # again: nothing new
    with session_scope(db) as s:
        again = blocklist(s, email="jo@acme.example", reason="again", actor="ops:ann")
    assert (again.suppressions_added, again.newly_blocklisted, again.enrollments_ended) == (0, 0, 0)


def test_an_address_the_pool_does_not_hold_makes_a_later_import_born_blocklisted(db: Database) -> None:
    with session_scope(db) as s:
        out = blocklist(s, email="ceo@rival.example", reason="competitor", actor="ops")
    assert out.lead_ids == [] and out.suppressions_added == 1
    person = {"id": "apollo-ceo", "email": "ceo@rival.example", "email_status": "verified"}
    lead_id = import_people(db, [person], endpoint="people/match").lead_ids[0]
    assert _count(db, f"SELECT count(*) FROM leads WHERE id = {lead_id} AND blocklisted_at IS NOT NULL") == 1


def test_by_lead_the_persons_own_addresses_are_listed_but_not_a_shared_number(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        jo = w.lead(email="jo@acme.example", phone="+12125550100", personal_emails=["jo.home@mail.example"])
        home_twin = w.lead(email="jo.home@mail.example", phone=None)
        colleague = w.lead(email="sam@acme.example", phone="+12125550100")  # the switchboard
        campaign = w.campaign_id
    with session_scope(db) as s:
        out = blocklist(s, lead_id=jo, reason="legal hold", actor="ops")
    assert out.lead_ids == [jo, home_twin]
    assert "blocklisted" not in _codes(db, colleague, campaign, "phone")
    assert (
        _count(db, "SELECT count(*) FROM suppressions WHERE kind = 'blocklisted'") == 3
    )  # 2 emails, LinkedIn


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({}, "name the person"),
        ({"email": "not an address"}, "email:"),
        ({"phone": "12"}, "phone:"),
        ({"linkedin": "https://example.com/x"}, "linkedin:"),
        ({"email": "a@b.example", "reason": " "}, "reason"),
        ({"email": "a@b.example", "actor": ""}, "actor"),
    ],
)
def test_bad_input_is_named_and_nothing_is_stored(db: Database, kwargs: dict[str, str], names: str) -> None:
    args = {"reason": "r", "actor": "ops", **kwargs}
    with pytest.raises(InvalidInput, match=names), session_scope(db) as s:
        blocklist(s, **args)  # type: ignore[arg-type]
    assert _count(db, "SELECT count(*) FROM suppressions") == 0
    assert _count(db, "SELECT count(*) FROM audit_log") == 0


def test_an_unknown_lead_is_not_found_and_nothing_is_stored(db: Database) -> None:
    with pytest.raises(NotFound), session_scope(db) as s:
        blocklist(s, lead_id=987654, email="x@y.example", reason="r", actor="ops")
    assert _count(db, "SELECT count(*) FROM suppressions") == 0


def test_cli_blocklist_add(db: Database) -> None:
    with session_scope(db) as s:
        jo = lead(s, email="jo@acme.example")
    res = CliRunner().invoke(
        app, ["blocklist", "add", "--email", "jo@acme.example", "--reason", "r", "--actor", "ops", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["lead_ids"] == [jo]
    res = CliRunner().invoke(app, ["blocklist", "add", "--email", "nope", "--reason", "r", "--actor", "ops"])
    assert res.exit_code != 0 and "email:" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["blocklist", "add", "--lead", "0", "--reason", "r", "--actor", "ops"])
    assert res.exit_code == 2 and "Traceback" not in res.output
