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
