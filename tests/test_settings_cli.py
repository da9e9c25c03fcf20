"""``leadpool settings`` lists every setting in one place and never prints a secret."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from leadpool.cli import app


def test_settings_lists_every_group_and_masks_secrets(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_APOLLO_API_KEY", "apollo-secret-value")
    monkeypatch.setenv("LEADPOOL_WEBHOOK_MAILGUN_SIGNING_KEYS", '["mailgun-secret-value"]')
    monkeypatch.setenv("LEADPOOL_QUARANTINE_DAYS", "45")
    res = CliRunner().invoke(app, ["settings", "--json"])
    assert res.exit_code == 0, res.output
    assert "secret-value" not in res.stdout and "test-secret-key" not in res.stdout
    rows = {r["env"]: r for r in json.loads(res.stdout)["settings"]}
    assert rows["LEADPOOL_APOLLO_API_KEY"]["value"] == "(set)"
    assert (
        rows["LEADPOOL_QUARANTINE_DAYS"]["value"] == 45 and rows["LEADPOOL_QUARANTINE_DAYS"]["default"] == 30
    )
    assert rows["LEADPOOL_GATE_LEAD_DAILY_CAP"]["default"] == 1
    assert rows["LEADPOOL_EVENTS_COOLING_DAYS"]["value"] == 365
    assert {"service", "api", "allocation", "events", "webhooks"} <= {
        r["group"].split(" ")[0] for r in rows.values()
    }
    text = CliRunner().invoke(app, ["settings"])
    assert text.exit_code == 0 and "LEADPOOL_QUARANTINE_DAYS" in text.stdout


def test_the_gate_policy_variable_shows_its_json_and_the_text_form_hides_secrets(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadpool.gate.policy import clear_policy_cache

    monkeypatch.setenv("LEADPOOL_GATE_POLICY", '{"lead_weekly_cap": 2, "windows": {"linkedin": null}}')
    monkeypatch.setenv("LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH", '["user:postmark-secret-value"]')
    clear_policy_cache()
    try:
        res = CliRunner().invoke(app, ["settings", "--json"])
        assert res.exit_code == 0, res.output
        rows = {r["env"]: r for r in json.loads(res.stdout)["settings"]}
        assert rows["LEADPOOL_GATE_POLICY"]["value"] == {"lead_weekly_cap": 2, "windows": {"linkedin": None}}
        assert rows["LEADPOOL_GATE_POLICY"]["default"] is None
        assert rows["LEADPOOL_GATE_LEAD_WEEKLY_CAP"]["value"] == 2  # the policy in force
        assert rows["LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH"]["value"] == "(set)"
        assert rows["LEADPOOL_GATE_WINDOWS"]["value"]["email"]["days"] == ["mon", "tue", "wed", "thu", "fri"]
        text = CliRunner().invoke(app, ["settings"], terminal_width=80)
        assert text.exit_code == 0, text.output
        assert "secret-value" not in text.stdout and "test-secret-key" not in text.stdout
        assert (
            "LEADPOOL_GATE_POLICY" in text.stdout
            and "LEADPOOL_REFILL_DAILY_CREDIT_BUDGET = 1000" in text.stdout
        )
        # every meaning line fits the terminal (the long values may wrap, the meanings are indented)
        assert all(len(line) <= 80 for line in text.stdout.splitlines() if line.startswith("    "))
    finally:
        clear_policy_cache()


def test_a_list_setting_that_is_not_json_is_named_by_its_variable(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pydantic-settings' own message named the field and its source class, not the variable."""
    monkeypatch.setenv("LEADPOOL_WEBHOOK_SES_TOPIC_ARNS", "notjson-secret-ish")
    res = CliRunner().invoke(app, ["settings"])
    assert res.exit_code == 2, res.output
    assert "LEADPOOL_WEBHOOK_SES_TOPIC_ARNS" in res.output and "EnvSettingsSource" not in res.output
    assert "notjson-secret-ish" not in res.output  # a value is never echoed (it may be a secret)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEADPOOL_REFILL_AGENCY_DAILY_CREDIT_SHARE", "2"),
        ("LEADPOOL_REFILL_AGENCY_DAILY_CREDIT_SHARE", "0"),
        ("LEADPOOL_REFILL_AGENCY_DAILY_CREDIT_SHARE", "half"),
        ("LEADPOOL_REFILL_MAX_KNOWN_PAGES", "-1"),
        ("LEADPOOL_REFILL_MAX_KNOWN_PAGES", "501"),  # Apollo serves 500 pages at most
        ("LEADPOOL_REFILL_MAX_KNOWN_PAGES", "many"),
        ("LEADPOOL_REFILL_HOLD_MINUTES", "0"),
        ("LEADPOOL_REFILL_HOLD_MINUTES", "10081"),
    ],
)
def test_a_refill_setting_out_of_range_is_named_by_its_variable(
    env: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    res = CliRunner().invoke(app, ["settings"])
    assert res.exit_code == 2, res.output
    assert variable in res.output and "Traceback" not in res.output
