"""An operator's journey through the CLI with only the README, docs/ and --help to go on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.models import Agency, Campaign, Enrollment, Lead, Ownership


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    assert "Traceback" not in res.output, res.output
    return res.exit_code, res.output


def _settings() -> dict[str, dict]:
    res = CliRunner().invoke(app, ["settings", "--json"])
    assert res.exit_code == 0, res.output
    return {r["env"]: r for r in json.loads(res.stdout)["settings"]}


def test_settings_json_gives_lists_and_numbers_not_python_reprs(env: None) -> None:
    """`leadpool settings --json` is the machine-readable list of every setting, but a value that
    is a tuple, a Decimal or a list of strings is passed through ``str()`` first
    (``cli/settings.py::_shown``): LEADPOOL_GATE_ALLOWED_EMAIL_STATUSES comes out as the string
    "('verified',)", LEADPOOL_GATE_TIMEZONE_REQUIRED_CHANNELS as "('sms', 'phone')",
    LEADPOOL_REFILL_DAILY_CREDIT_BUDGET as the string "1000" and LEADPOOL_WEBHOOK_SES_TOPIC_ARNS as
    "[]". A script comparing the value in force with what it deployed (or feeding it back as the
    JSON the variable takes) gets Python syntax. `leadpool send policy --json` prints the same
    policy fields as real JSON lists."""
    rows = _settings()
    assert rows["LEADPOOL_GATE_ALLOWED_EMAIL_STATUSES"]["value"] == ["verified"]
    assert rows["LEADPOOL_GATE_ALLOWED_EMAIL_STATUSES"]["default"] == ["verified"]
    assert rows["LEADPOOL_GATE_TIMEZONE_REQUIRED_CHANNELS"]["value"] == ["sms", "phone"]
    assert rows["LEADPOOL_REFILL_DAILY_CREDIT_BUDGET"]["value"] == 1000
    assert rows["LEADPOOL_WEBHOOK_SES_TOPIC_ARNS"]["value"] == []


def test_settings_lists_the_gate_policy_variable(env: None) -> None:
    """README: "`leadpool settings` lists every setting (environment variable, value, default,
    meaning) of every domain in one place". docs/gate.md documents LEADPOOL_GATE_POLICY (the
    platform gate policy as one JSON object, read by ``gate/policy.py::_env_overrides`` before the
    per-field variables), but the list has no row for it: an operator auditing the environment
    with `leadpool settings` never learns that this variable exists or is set."""
    assert "LEADPOOL_GATE_POLICY" in _settings()


def test_settings_gives_a_meaning_for_every_setting(env: None) -> None:
    """The same README line promises each setting's meaning. 12 rows have an empty one, among them
    the ones an operator must set to go live: LEADPOOL_APOLLO_API_KEY, LEADPOOL_APOLLO_BASE_URL,
    the webhook secrets (LEADPOOL_WEBHOOK_SENDGRID_PUBLIC_KEYS, ..._MAILGUN_SIGNING_KEYS,
    ..._POSTMARK_BASIC_AUTH, ..._SES_TOPIC_ARNS, ..._SMARTLEAD_SECRET_KEYS, ..._INSTANTLY_SECRETS,
    ..._INSTANTLY_HEADER, ..._INSTANTLY_WORKSPACES), LEADPOOL_GATE_SENDER_DAILY_CAPS and
    LEADPOOL_GATE_WINDOWS (whose shape, a JSON object or ``__`` per field, is only in
    docs/gate.md)."""
    blank = sorted(env for env, r in _settings().items() if not (r["description"] or "").strip())
    assert blank == [], f"settings without a meaning: {blank}"


def test_worker_refuses_a_concurrency_below_one(env: None) -> None:
    """`leadpool worker --once --concurrency 0` never returns: procrastinate waits for a free slot
    of a semaphore of size 0, so "run the jobs that are ready, then exit" hangs for good (observed:
    still running after 60 s, where --concurrency 1 finishes in 3 s). `--concurrency -1` ends in a
    full traceback (``ValueError: Semaphore initial value must be >= 0``). Every other count option
    of the CLI is range-checked (``--count``, ``--limit``, ``--batch-size``): this one should be
    refused in one line, exit 2."""
    environ = dict(os.environ)
    for value in ("-1", "0"):
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from leadpool.cli import main; main()",
                    "worker",
                    "--once",
                    "--concurrency",
                    value,
                ],
                env=environ,
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker --once --concurrency {value} never returned") from None
        assert done.returncode == 2, (value, done.returncode, done.stderr[-2000:])
        assert "Traceback" not in done.stderr and "concurrency" in done.stderr.lower(), done.stderr[-2000:]


def test_worker_refuses_a_queue_no_task_uses(db: Database) -> None:
    """`leadpool worker --queue Q` ("Only these queues") accepts any name. The queues are never
    documented (README, docs/allocation.md and --help give none: they are ``gate``,
    ``housekeeping``, ``webhooks`` and procrastinate's ``default`` for refills), so an operator who
    starts a dedicated refill worker with the natural ``--queue refill`` gets a worker that says
    "worker started", runs nothing, ever, and exits 0 with --once. A name no task uses should be
    refused naming the queues that exist."""
    code, out = _run("worker", "--once", "--queue", "refill")
    assert code == 2 and "refill" in out, out


def test_end_enrollment_of_a_lead_that_does_not_exist_is_an_error(db: Database) -> None:
    """`leadpool campaign end-enrollment CAMPAIGN LEAD` with a mistyped lead id prints "lead N has
    no active enrollment in campaign C; nothing changed" and exits 0 (the API route answers 200
    ``{"ended": false}`` to the admin). An unknown campaign id is "campaign 999 not found", exit 2,
    and every other command taking a lead id (`leads show`, `leads timeline`, `leads erase`, `event
    record --lead`) says the lead was not found. Idempotency (docs/allocation.md: "no active
    enrollment: nothing changes") is for a real lead whose enrollment already ended; a script that
    ends enrollments from a stale export should learn that the id is wrong."""
    with session_scope(db) as s:
        agency = Agency(name="journey")
        s.add(agency)
        s.flush()
        campaign = Campaign(
            agency_id=agency.id, name="c", status="active", channels=["email"], icp={}, daily_quota=10
        )
        lead = Lead(email="pat@example.com", email_status="verified")
        s.add_all([campaign, lead])
        s.flush()
        s.add(Ownership(lead_id=lead.id, agency_id=agency.id))
        s.add(Enrollment(lead_id=lead.id, campaign_id=campaign.id, agency_id=agency.id))
        campaign_id, lead_id = campaign.id, lead.id
    missing = str(lead_id + 1000)
    code, out = _run("campaign", "end-enrollment", str(campaign_id), missing)
    assert code == 2 and f"lead {missing} not found" in out, out
    # the real lead is untouched by the mistake, and ending it twice stays idempotent
    code, out = _run("campaign", "end-enrollment", str(campaign_id), str(lead_id), "--json")
    assert code == 0 and json.loads(out)["ended"] is True, out
    code, out = _run("campaign", "end-enrollment", str(campaign_id), str(lead_id), "--json")
    assert code == 0 and json.loads(out)["ended"] is False, out


def test_settings_text_output_is_readable_on_an_80_column_terminal(env: None) -> None:
    """`leadpool settings` (the README's "every setting in one place") prints a table whose first
    column never wraps and holds the group label "gate (platform level; agencies and campaigns may
    override)": that column takes 60 of 80 characters, and value, default and meaning are squeezed
    into three-character columns where every word is cut ("Da… di… the em…"; the max body size
    shows as "167 / 772 / 16" on three lines). On an ordinary terminal the command shows no
    meaning at all; only --json is usable. The meaning of a setting should be readable."""
    res = CliRunner().invoke(app, ["settings"], terminal_width=80)
    assert res.exit_code == 0, res.output
    text = res.stdout
    # the words of LEADPOOL_QUARANTINE_DAYS's meaning, and the default max body size, whole
    for word in ("released", "another", "agency", "16777216"):
        assert word in text, f"{word!r} is cut in the 80-column output:\n{text[:3000]}"
