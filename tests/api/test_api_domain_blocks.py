"""Blocked domains over HTTP and the CLI: whose list each caller acts on and sees."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.world import MONDAY
from leadpool.cli import app
from leadpool.client import ApiError

runner = CliRunner()


def _domain_of(api, lead_id: int) -> str:
    email = api.admin.get_lead(lead_id).fields["email"]
    return email.rpartition("@")[2]


def test_each_caller_acts_on_its_own_list(api, world):
    w = world
    lead = w.alloc_a.allocated[0]
    domain = _domain_of(api, lead)
    mine = w.ca.block_domain(domain, "our client")
    assert mine.agency_id == w.a.id and mine.created and mine.enrollments_ended >= 1  # its people there
    assert not w.ca.block_domain(domain.upper(), "again").created
    d = w.ca.check(lead, w.camp_a.id, "linkedin", at=MONDAY)
    assert "domain_blocked" in [r.code for r in d.reasons]

    platform = api.admin.block_domain("competitor.example", "competitor")
    assert platform.agency_id is None
    assert {(b.domain, b.agency_id) for b in w.ca.list_domain_blocks()} == {
        (domain, w.a.id),
        ("competitor.example", None),
    }
    assert [b.domain for b in w.cb.list_domain_blocks()] == ["competitor.example"]  # not A's list
    assert len(api.admin.list_domain_blocks()) == 2
    assert [b.domain for b in api.admin.list_domain_blocks(agency_id=w.a.id)] == [domain]

    for call in (
        lambda: w.cb.block_domain("x.example", "r", agency_id=w.a.id),
        lambda: w.cb.unblock_domain(domain, agency_id=w.a.id),
        lambda: w.cb.list_domain_blocks(agency_id=w.a.id),
    ):
        with pytest.raises(ApiError) as e:
            call()
        assert e.value.status == 404  # another agency's list is as if absent
    with pytest.raises(ApiError) as e:
        w.cb.unblock_domain("competitor.example")  # B's own list does not hold it
    assert e.value.status == 404
    with pytest.raises(ApiError) as e:
        w.ca.block_domain("not a domain", "r")
    assert e.value.status == 422 and "domain" in e.value.detail

    lifted = w.ca.unblock_domain(domain)
    assert (lifted.domain, lifted.removed, lifted.created) == (domain, True, False)
    assert [b.domain for b in w.ca.list_domain_blocks()] == ["competitor.example"]


def test_the_cli_blocks_lists_and_lifts(api, world):
    r = runner.invoke(
        app,
        [
            "blocklist",
            "domain-add",
            "https://www.Rival.example/x",
            "--reason",
            "rival",
            "--actor",
            "ops",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["domain"] == "rival.example"
    r = runner.invoke(
        app, ["blocklist", "domain-add", "rival.example", "--reason", "again", "--actor", "ops"]
    )
    assert r.exit_code == 0 and "already blocked" in r.stdout
    r = runner.invoke(
        app,
        [
            "blocklist",
            "domain-add",
            "client.example",
            "--reason",
            "c",
            "--actor",
            "ops",
            "--agency",
            str(world.a.id),
        ],
    )
    assert r.exit_code == 0 and f"agency {world.a.id}'s list" in r.stdout
    r = runner.invoke(
        app, ["blocklist", "domain-add", "x.example", "--reason", "c", "--actor", "ops", "--agency", "999999"]
    )
    assert r.exit_code == 2 and "999999" in r.output
    r = runner.invoke(app, ["blocklist", "domains", "--json"])
    assert {(b["domain"], b["agency_id"]) for b in json.loads(r.stdout)} == {
        ("rival.example", None),
        ("client.example", world.a.id),
    }
    r = runner.invoke(app, ["blocklist", "domains"])
    assert "rival.example (platform" in r.stdout
    r = runner.invoke(app, ["blocklist", "domain-remove", "rival.example", "--actor", "ops", "--json"])
    assert r.exit_code == 0, r.output
    lifted = json.loads(r.stdout)
    assert (lifted["domain"], lifted["removed"], lifted["created"]) == ("rival.example", True, False)
    r = runner.invoke(app, ["blocklist", "domain-add", "rival.example", "--reason", "back", "--actor", "ops"])
    r = runner.invoke(app, ["blocklist", "domain-remove", "rival.example", "--actor", "ops"])
    assert r.exit_code == 0 and "no longer blocked" in r.stdout
    r = runner.invoke(app, ["blocklist", "domain-remove", "rival.example", "--actor", "ops"])
    assert r.exit_code == 2 and "not on the platform's list" in r.output
    r = runner.invoke(app, ["blocklist", "domain-add", "com", "--reason", "c", "--actor", "ops"])
    assert r.exit_code == 2 and "not a domain" in r.output


def test_lifting_a_block_by_something_that_is_not_a_domain_is_refused_and_keeps_every_block(api, world):
    api.admin.block_domain("competitor.example", "competitor")
    for bad in ("not a domain", "com", "co.uk"):
        with pytest.raises(ApiError) as e:
            api.admin.unblock_domain(bad)
        assert e.value.status == 422 and "domain" in e.value.detail, bad
    r = runner.invoke(app, ["blocklist", "domain-remove", "a b", "--actor", "ops"])
    assert r.exit_code == 2 and "not a domain" in r.output
    r = runner.invoke(app, ["blocklist", "domain-add", "x.example", "--reason", " ", "--actor", "ops"])
    assert r.exit_code == 2 and "reason" in r.output
    assert [b.domain for b in api.admin.list_domain_blocks()] == ["competitor.example"]
