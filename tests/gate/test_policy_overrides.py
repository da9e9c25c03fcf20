"""Setting an agency's or a campaign's gate policy override: the gate follows it from the next
check on every path; a bad one is refused naming the field, with nothing written; an agency's
change that would break one of its campaigns' overrides is refused naming the campaign; an agency
may not raise its own daily cap through a campaign; every change is audited. Before, nothing
wrote these settings: a campaign could not allow extrapolated emails, as the issue says it may."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.gate.factories import MONDAY_OPEN, World
from tests.interleaving import interleave
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.gate import GateWorker, check
from leadpool.gate.overrides import campaign_policy, set_agency_policy, set_campaign_policy
from leadpool.gate.policy import clear_policy_cache
from leadpool.models import Agency, AuditLog, Campaign

NOW = datetime(2026, 3, 1, tzinfo=UTC)
WIDER = {"allowed_email_statuses": ["verified", "extrapolated"]}
runner = CliRunner()


def _allowed(db: Database, lead: int, campaign: int) -> tuple[bool, list[str]]:
    with session_scope(db) as s:
        d = check(s, lead_id=lead, campaign_id=campaign, channel="email", at=MONDAY_OPEN, reserve=False)
        return d.allowed, [r.code for r in d.reasons]


def _audit(db: Database) -> list[tuple[str, str, dict]]:
    with session_scope(db) as s:
        return [(a.action, a.subject_id, a.detail) for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_a_campaign_that_allows_extrapolated_emails_gets_them_on_every_path(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(email_status="extrapolated")
    assert _allowed(db, lead, w.campaign_id) == (False, ["email_unverified"])
    with session_scope(db) as s:
        view = set_campaign_policy(s, w.campaign_id, WIDER, actor="agency:1", at=NOW)
        assert view.effective is not None
        assert view.overrides == WIDER and list(view.effective.allowed_email_statuses) == [
            "verified",
            "extrapolated",
        ]
    assert _allowed(db, lead, w.campaign_id) == (True, [])
    with GateWorker(db) as worker:  # the fast path sees the new settings' stamp
        assert worker.check(lead_id=lead, campaign_id=w.campaign_id, channel="email", at=MONDAY_OPEN).allowed
    with session_scope(db) as s:
        set_campaign_policy(s, w.campaign_id, None, actor="agency:1", at=NOW)
        assert s.get(Campaign, w.campaign_id).settings is None
    assert _allowed(db, lead, w.campaign_id)[0] is False
    assert [(a, d["before"], d["after"]) for a, _, d in _audit(db)] == [
        ("campaign.policy", None, WIDER),
        ("campaign.policy", WIDER, None),
    ]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"lead_daily_cap": 5}, "lead_daily_cap: may only be lowered"),
        ({"windows": {"sms": {"start": "06:00", "end": "22:00"}}}, "windows.sms"),
        ({"allowed_email_statuses": ["unavailable"]}, "allowed_email_statuses"),
        ({"no_such_setting": 1}, "no_such_setting"),
        ({"sender_daily_caps": {"email": -1}}, "sender_daily_caps.email"),
    ],
)
def test_a_bad_override_is_refused_naming_the_field_and_nothing_is_written(
    db: Database, override: dict, named: str
) -> None:
    with session_scope(db) as s:
        w = World(s, campaign_gate={"lead_daily_cap": 1})
        before = s.get(Campaign, w.campaign_id).settings
    with session_scope(db) as s, pytest.raises(InvalidInput) as refused:
        set_campaign_policy(s, w.campaign_id, override, actor="ops", at=NOW)
    assert named in str(refused.value) and "campaign settings" in str(refused.value)
    with session_scope(db) as s:
        assert s.get(Campaign, w.campaign_id).settings == before
    assert _audit(db) == []


def test_an_agency_change_that_would_break_a_campaigns_override_is_refused_naming_it(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s, campaign_gate={"windows": {"sms": {"start": "10:00", "end": "19:00"}}})
    # texts have legal quiet hours: a level may only narrow the window above it
    narrower = {"windows": {"sms": {"start": "11:00", "end": "18:00"}}}
    with session_scope(db) as s, pytest.raises(InvalidInput) as refused:
        set_agency_policy(s, w.agency_id, narrower, actor="admin", at=NOW)
    assert f"campaign {w.campaign_id}" in str(refused.value) and "windows.sms" in str(refused.value)
    with session_scope(db) as s:
        assert s.get(Agency, w.agency_id).settings is None
        set_campaign_policy(s, w.campaign_id, None, actor="admin", at=NOW)
        view = set_agency_policy(s, w.agency_id, narrower, actor="admin", at=NOW)
        assert (
            view.effective is not None
            and view.effective.windows.sms is not None
            and str(view.effective.windows.sms.start) == "11:00:00"
        )
        assert campaign_policy(s, w.campaign_id).agency_overrides == narrower


def test_a_campaign_may_lower_but_not_raise_its_agencys_daily_cap(db: Database) -> None:
    """The agency level is the platform admin's say over the agency's volume: a campaign, which
    shares its agency's counter, may only keep less of it, whoever writes it, and an agency level
    lowered under a campaign's value is refused naming the campaign (a reviewer found the admin's
    lower cap escaped by a campaign value written before it)."""
    with session_scope(db) as s:
        w = World(s, agency_gate={"agency_daily_cap": 100})
    with session_scope(db) as s, pytest.raises(InvalidInput) as refused:
        set_campaign_policy(s, w.campaign_id, {"agency_daily_cap": 101}, actor="admin", at=NOW)
    assert "agency_daily_cap" in str(refused.value) and "100" in str(refused.value)
    with session_scope(db) as s:
        view = set_campaign_policy(s, w.campaign_id, {"agency_daily_cap": 40}, actor="agency:1", at=NOW)
        assert view.effective is not None and view.effective.agency_daily_cap == 40
    with session_scope(db) as s, pytest.raises(InvalidInput) as refused:
        set_agency_policy(s, w.agency_id, {"agency_daily_cap": 10}, actor="admin", at=NOW)
    assert f"campaign {w.campaign_id}" in str(refused.value) and "agency_daily_cap" in str(refused.value)
    with session_scope(db) as s:
        assert s.get(Agency, w.agency_id).settings == {"gate": {"agency_daily_cap": 100}}


def test_a_campaign_of_an_agency_the_admin_raised_may_sit_between_the_two_caps(db: Database) -> None:
    """The campaign is judged over its agency, not over the platform alone: with the agency at
    10,000 a day (the admin's), 8,000 for one campaign is lower, though above the platform's 5,000."""
    with session_scope(db) as s:
        w = World(s, agency_gate={"agency_daily_cap": 10_000})
    with session_scope(db) as s:
        view = set_campaign_policy(s, w.campaign_id, {"agency_daily_cap": 8_000}, actor="agency:1", at=NOW)
        assert view.effective is not None and view.effective.agency_daily_cap == 8_000


def test_an_override_can_be_removed_after_the_platform_tightened_and_the_view_says_why(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both levels at the platform's lead_weekly_cap; the platform then lowers it: every check of the
    campaign denies gate_error (as documented). Removing an override, the way out, was refused at
    both levels, and the view answered 422 (the reviewer's case)."""
    with session_scope(db) as s:
        w = World(s)
    with session_scope(db) as s:
        set_agency_policy(s, w.agency_id, {"lead_weekly_cap": 3}, actor="admin", at=NOW)
        set_campaign_policy(s, w.campaign_id, {"lead_weekly_cap": 3}, actor="admin", at=NOW)
    monkeypatch.setenv("LEADPOOL_GATE_LEAD_WEEKLY_CAP", "2")
    clear_policy_cache()
    try:
        with session_scope(db) as s:
            broken = campaign_policy(s, w.campaign_id)
            assert broken.effective is None and broken.error and "lead_weekly_cap" in broken.error
            assert broken.overrides == {"lead_weekly_cap": 3}
            with pytest.raises(InvalidInput, match=f"campaign {w.campaign_id}"):
                set_agency_policy(s, w.agency_id, None, actor="admin", at=NOW)
        with session_scope(db) as s:
            set_campaign_policy(s, w.campaign_id, None, actor="admin", at=NOW)
        with session_scope(db) as s:
            view = set_agency_policy(s, w.agency_id, None, actor="admin", at=NOW)
            assert view.effective is not None and view.effective.lead_weekly_cap == 2
    finally:
        monkeypatch.delenv("LEADPOOL_GATE_LEAD_WEEKLY_CAP")
        clear_policy_cache()


def test_an_agency_write_and_a_campaign_write_at_once_do_not_deadlock(db: Database) -> None:
    """Both take a campaign before its agency, as allocation and cancellation do: the agency write
    took the agency first, and PostgreSQL killed one of two such writes as a deadlock."""
    with session_scope(db) as s:
        w = World(s)

    def campaign_write(s: Session) -> None:
        set_campaign_policy(s, w.campaign_id, {"lead_daily_cap": 0}, actor="ops", at=NOW)

    def agency_write(s: Session) -> None:
        set_agency_policy(s, w.agency_id, {"lead_weekly_cap": 2}, actor="admin", at=NOW)

    # the campaign write paused with its campaign locked, before it reads the agency
    assert interleave(db, campaign_write, "FROM agencies", agency_write) == (None, None)
    with session_scope(db) as s:
        view = campaign_policy(s, w.campaign_id)
        assert view.effective is not None and view.effective.lead_daily_cap == 0
        assert view.effective.lead_weekly_cap == 2


def test_other_settings_are_kept_and_unknown_ids_blank_actors_and_non_objects_are_refused(
    db: Database,
) -> None:
    with session_scope(db) as s:
        w = World(s)
        s.get(Campaign, w.campaign_id).settings = {"note": "kept", "gate": {"lead_daily_cap": 1}}
    with session_scope(db) as s:
        set_campaign_policy(s, w.campaign_id, {}, actor="ops", at=NOW)
        assert s.get(Campaign, w.campaign_id).settings == {"note": "kept"}
        with pytest.raises(NotFound):
            set_campaign_policy(s, 999_999, WIDER, actor="ops", at=NOW)
        with pytest.raises(NotFound):
            set_agency_policy(s, 999_999, WIDER, actor="ops", at=NOW)
        with pytest.raises(InvalidInput, match="actor"):
            set_agency_policy(s, w.agency_id, WIDER, actor=" ", at=NOW)
        with pytest.raises(InvalidInput, match="JSON object"):
            set_agency_policy(s, w.agency_id, ["verified"], actor="ops", at=NOW)  # type: ignore[arg-type]


def test_the_cli_sets_shows_and_clears_a_campaigns_override(db: Database, tmp_path) -> None:
    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(email_status="extrapolated")
    r = runner.invoke(
        app, ["campaign", "set-policy", str(w.campaign_id), json.dumps(WIDER), "--actor", "ops", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["overrides"] == WIDER and out["effective"]["allowed_email_statuses"] == [
        "verified",
        "extrapolated",
    ]
    assert _allowed(db, lead, w.campaign_id)[0] is True
    r = runner.invoke(app, ["send", "policy", "--campaign", str(w.campaign_id), "--json"])
    assert json.loads(r.stdout)["allowed_email_statuses"] == ["verified", "extrapolated"]
    file = tmp_path / "agency.json"
    file.write_text('{"sender_daily_caps": {"email": 30}}')
    r = runner.invoke(app, ["agency", "set-policy", str(w.agency_id), f"@{file}", "--actor", "ops"])
    assert r.exit_code == 0 and '"email": 30' in r.stdout, r.output
    r = runner.invoke(app, ["campaign", "set-policy", str(w.campaign_id), "--clear", "--actor", "ops"])
    assert r.exit_code == 0 and "none (the level above holds)" in r.stdout
    assert _allowed(db, lead, w.campaign_id)[0] is False
    for args, says in (
        (["{not json"], "not JSON"),
        (["[1]"], "JSON object"),
        ([json.dumps(WIDER), "--clear"], "not both"),
        ([], "--clear"),
        (["@/no/such/file.json"], "cannot read"),
        (['{"lead_weekly_cap": 9}'], "lead_weekly_cap"),
        (["[" * 5000 + "]" * 5000], "not a policy"),  # deeper than json's recursion limit
        (['{"lead_daily_cap": 1' + "0" * 5000 + "}"], "not a policy"),  # more digits than int() reads
    ):
        r = runner.invoke(app, ["campaign", "set-policy", str(w.campaign_id), *args, "--actor", "ops"])
        assert r.exit_code == 2 and says in r.output, (args, r.output)
    r = runner.invoke(app, ["campaign", "set-policy", "999999", "--clear", "--actor", "ops"])
    assert r.exit_code != 0 and "not found" in r.output
    # the agency level: refused by name, and what it held is kept
    r = runner.invoke(
        app, ["agency", "set-policy", str(w.agency_id), '{"lead_daily_cap": 5}', "--actor", "ops"]
    )
    assert r.exit_code == 2 and "lead_daily_cap" in r.output, r.output
    r = runner.invoke(app, ["agency", "set-policy", "999999", '{"lead_daily_cap": 1}', "--actor", "ops"])
    assert r.exit_code != 0 and "agency 999999 not found" in r.output
    with session_scope(db) as s:
        assert s.get(Agency, w.agency_id).settings == {"gate": {"sender_daily_caps": {"email": 30}}}
