"""Retention of the gate's decisions: old denials are deleted in chunks, every allow is kept, a pruned
denial's idempotency key decides afresh; the daily job, ``leadpool send prune-decisions`` and the
``LEADPOOL_RETENTION_DENIALS_DAYS`` setting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from tests.gate.factories import MONDAY_OPEN, World
from tests.jobs import run_job
from tests.scale import analyze, explain, rows_read
from typer.testing import CliRunner

from leadpool.cli import app as cli
from leadpool.config import settings_error_message
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import check, confirm_sent
from leadpool.gate import retention as retention_module
from leadpool.gate.retention import AUDIT_ACTION, prune_denials
from leadpool.gate.settings import RetentionSettings
from leadpool.gate.tasks import PRUNE_TASK
from leadpool.queue import app as queue_app

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)
runner = CliRunner()


def _add(db: Database, ats: list[datetime], *, allowed: bool, key_prefix: str | None = None) -> list[int]:
    """Decision rows as the gate writes them (one per instant), returning their ids in order."""
    ids = []
    with db.engine.begin() as c:
        for i, at in enumerate(ats):
            ids.append(
                c.execute(
                    text(
                        "INSERT INTO decisions (at, lead_id, campaign_id, agency_id, channel, allowed, reasons, "
                        "idempotency_key) VALUES (:at, 1, 1, 1, 'email', :allowed, CAST(:r AS jsonb), :k) "
                        "RETURNING id"
                    ),
                    {
                        "at": at,
                        "allowed": allowed,
                        "r": "[]" if allowed else '[{"code": "lead_daily_cap"}]',
                        "k": f"{key_prefix}-{i}" if key_prefix else None,
                    },
                ).scalar_one()
            )
    return ids


def _ids(db: Database) -> set[int]:
    with db.engine.connect() as c:
        return set(c.execute(text("SELECT id FROM decisions")).scalars())


def _audits(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT actor, subject_type, subject_id, detail FROM audit_log WHERE action = :a ORDER BY id"
            ),
            {"a": AUDIT_ACTION},
        ).all()
    return [dict(r._mapping) for r in rows]


@pytest.mark.parametrize(("chunk", "chunks"), [(4, 7), (13, 3), (10_000, 1)])
def test_old_denials_go_in_chunks_and_recent_denials_and_every_allow_stay(
    db: Database, chunk: int, chunks: int
) -> None:
    cutoff = NOW - timedelta(days=90)
    old_denials = _add(db, [cutoff - timedelta(days=d, minutes=d) for d in range(1, 26)], allowed=False)
    old_denials += _add(db, [cutoff - timedelta(microseconds=1)], allowed=False)  # just before: goes
    kept = _add(db, [cutoff], allowed=False)  # exactly the cutoff: not older, stays
    kept += _add(db, [NOW - timedelta(days=d) for d in (0, 1, 10, 89)], allowed=False)
    kept += _add(db, [NOW + timedelta(days=3)], allowed=False)  # a check dated ahead
    # allows, older and younger than any denial, stay whatever their age
    kept += _add(db, [NOW - timedelta(days=d) for d in (2000, 400, 120, 91, 5)], allowed=True)

    result = prune_denials(db, now=NOW, chunk=chunk)

    assert _ids(db) == set(kept)
    # 26 rows: 4 a chunk is six full and one of two; 13 is two full and an empty one that says so
    assert (result.deleted, result.chunks, result.cutoff, result.older_than_days) == (26, chunks, cutoff, 90)
    (audit,) = _audits(db)
    assert audit["actor"] == "retention" and (audit["subject_type"], audit["subject_id"]) == (
        "table",
        "decisions",
    )
    assert audit["detail"] == {
        "older_than_days": 90,
        "cutoff": cutoff.isoformat(),
        "deleted": 26,
        "chunks": chunks,
        "complete": True,
    }
    assert result.audit_id is not None
    again = prune_denials(db, now=NOW, chunk=chunk)  # nothing left: no second audit row
    assert (again.deleted, again.audit_id) == (0, None) and len(_audits(db)) == 1
    assert _ids(db) == set(kept)


def test_a_run_stopped_halfway_has_its_audit_row_for_what_it_deleted(db: Database) -> None:
    """Each chunk commits with the audit row brought up to date: a run interrupted (Ctrl-C in the
    command, a worker killed) leaves an audit of exactly what went."""
    _add(db, [NOW - timedelta(days=100, minutes=m) for m in range(10)], allowed=False)

    def stop(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prune_denials(db, now=NOW, chunk=4, on_chunk=stop)
    assert len(_ids(db)) == 6
    (audit,) = _audits(db)
    assert (audit["detail"]["deleted"], audit["detail"]["chunks"], audit["detail"]["complete"]) == (
        4,
        1,
        False,
    )
    assert prune_denials(db, now=NOW, chunk=4).deleted == 6  # the next run finishes, with its own row
    assert [a["detail"]["deleted"] for a in _audits(db)] == [4, 6]


def test_the_period_comes_from_the_setting_and_a_dry_run_deletes_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = _add(db, [NOW - timedelta(days=d) for d in (31, 45, 89)], allowed=False)
    kept = _add(db, [NOW - timedelta(days=29)], allowed=False) + _add(
        db, [NOW - timedelta(days=60)], allowed=True
    )
    monkeypatch.setenv("LEADPOOL_RETENTION_DENIALS_DAYS", "30")
    dry = prune_denials(db, now=NOW, dry_run=True)
    assert (dry.would_delete, dry.deleted, dry.older_than_days, dry.audit_id) == (3, 0, 30, None)
    assert _ids(db) == set(gone + kept) and _audits(db) == []
    assert prune_denials(db, now=NOW).deleted == 3
    assert _ids(db) == set(kept)


def test_a_pruned_denials_idempotency_key_decides_afresh_and_an_allows_key_still_replays(
    db: Database,
) -> None:
    with session_scope(db) as s:
        w = World(s)
        denied_lead, allowed_lead = w.lead(), w.lead()
    sunday = MONDAY_OPEN - timedelta(days=1)  # email's window is closed on Sundays
    ask: dict[str, Any] = {"campaign_id": w.campaign_id, "channel": "email", "sender": "me@agency.example"}
    with session_scope(db) as s:
        denied = check(s, lead_id=denied_lead, at=sunday, idempotency_key="step-1", **ask)
        allowed = check(
            s, lead_id=allowed_lead, at=sunday - timedelta(days=6), idempotency_key="step-0", **ask
        )
        assert allowed.touch_id is not None  # sent: a key whose reservation ran out is not replayed
        confirm_sent(s, allowed.touch_id, "m-0", at=sunday - timedelta(days=6))
    assert not denied.allowed and [r.code for r in denied.reasons] == ["quiet_hours"] and allowed.allowed
    with session_scope(db) as s:  # the key holds: asked again when the window is open, the deny is replayed
        replay = check(s, lead_id=denied_lead, at=MONDAY_OPEN, idempotency_key="step-1", **ask)
    assert replay.replayed and not replay.allowed

    # both decisions are over 90 days old; the deny goes, the allow stays
    assert prune_denials(db, now=sunday + timedelta(days=91)).deleted == 1
    with session_scope(db) as s:
        afresh = check(s, lead_id=denied_lead, at=MONDAY_OPEN, idempotency_key="step-1", **ask)
        kept = check(s, lead_id=allowed_lead, at=MONDAY_OPEN, idempotency_key="step-0", **ask)
    assert afresh.allowed and not afresh.replayed and afresh.touch_id is not None
    assert kept.replayed and kept.allowed and kept.touch_id == allowed.touch_id
    with db.engine.connect() as c:
        stored = c.execute(
            text("SELECT allowed, at FROM decisions WHERE idempotency_key = 'step-1' AND agency_id = :a"),
            {"a": w.agency_id},
        ).one()
    assert tuple(stored) == (True, MONDAY_OPEN)  # the new answer is the one stored under the key


def test_a_chunk_in_progress_blocks_no_check(db: Database) -> None:
    """A chunk holds its rows until it commits: a check under a doomed denial's key meanwhile gets
    the stored deny (it still sees it), and other checks write their decisions; neither waits."""
    with session_scope(db) as s:
        w = World(s)
        lead_a, lead_b = w.lead(), w.lead()
    sunday = MONDAY_OPEN - timedelta(days=1)
    ask: dict[str, Any] = {"campaign_id": w.campaign_id, "channel": "email"}
    with session_scope(db) as s:
        assert not check(s, lead_id=lead_a, at=sunday, idempotency_key="k", **ask).allowed
    with db.engine.connect() as pruning:
        n, _ = pruning.execute(
            retention_module._DELETE_CHUNK,
            {"cutoff": sunday + timedelta(seconds=1), "since": retention_module._BEGINNING, "n": 10},
        ).one()
        assert n == 1  # deleted, not committed
        with session_scope(db) as s:
            # a wait would end in a lock timeout, which the gate answers with gate_error
            s.execute(text("SET LOCAL lock_timeout = '10s'"))
            replay = check(s, lead_id=lead_a, at=MONDAY_OPEN, idempotency_key="k", **ask)
            other = check(s, lead_id=lead_b, at=MONDAY_OPEN, idempotency_key="k2", **ask)
        assert replay.replayed and not replay.allowed
        assert other.allowed and not other.replayed
        pruning.commit()
    with session_scope(db) as s:
        assert check(s, lead_id=lead_a, at=MONDAY_OPEN, idempotency_key="k", **ask).allowed


def test_a_chunk_reads_the_denials_only_not_the_allows_kept_before_them(db: Database) -> None:
    """20,000 allows older than every denial: on ``ix_decisions_at`` a chunk walked past all of them
    (allows are never deleted, so each run would again); the partial index reads the denials."""
    cutoff = NOW - timedelta(days=90)
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO decisions (at, channel, allowed, reasons) "
                "SELECT :t - g * interval '1 minute', 'email', true, '[]' FROM generate_series(1, 20000) g"
            ),
            {"t": cutoff - timedelta(days=30)},
        )
    _add(db, [cutoff - timedelta(days=1, minutes=m) for m in range(50)], allowed=False)
    _add(db, [NOW - timedelta(minutes=m) for m in range(500)], allowed=False)
    analyze(db)
    compiled = retention_module._DELETE_CHUNK.compile(dialect=pg_psycopg.dialect())
    params = {"cutoff": cutoff, "since": retention_module._BEGINNING, "n": 10}
    plan = explain(db, str(compiled), params)  # rolled back
    read = rows_read(plan, "decisions")
    assert read <= 100, f"a chunk of 10 read {read:,.0f} decision rows"
    assert prune_denials(db, now=NOW, chunk=10).chunks == 6  # five of ten, then an empty one


def test_bad_arguments_are_refused_before_anything_is_deleted(db: Database) -> None:
    ids = _add(db, [NOW - timedelta(days=400)], allowed=False)
    for days in (6, 0, -1, 3651, True):
        with pytest.raises(InvalidInput, match="older_than_days"):
            prune_denials(db, now=NOW, older_than_days=days)
    for chunk in (0, -5):
        with pytest.raises(InvalidInput, match="chunk"):
            prune_denials(db, now=NOW, chunk=chunk)
    with pytest.raises(InvalidInput, match="UTC offset"):
        prune_denials(db, now=datetime(2026, 9, 1))
    assert _ids(db) == set(ids) and _audits(db) == []
    assert prune_denials(db, now=NOW, older_than_days=7).deleted == 1  # a week is the floor for one run


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("29", "at least 30 days"),
        ("7", "at least 30 days"),
        ("3651", "at most 3650 days"),
        ("ninety", "valid integer"),
        ("90.5", "valid integer"),
        ("", "valid integer"),
    ],
)
def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    monkeypatch.setenv("LEADPOOL_RETENTION_DENIALS_DAYS", value)
    with pytest.raises(ValidationError) as e:
        RetentionSettings()
    said = settings_error_message(e.value)
    assert said is not None and said.startswith("invalid setting LEADPOOL_RETENTION_DENIALS_DAYS:")
    assert message in said


def test_the_setting_is_no_gate_policy_variable(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``LEADPOOL_GATE_*`` variable is a policy field, and the policy refuses unknown ones
    (every check would deny with gate_error): the retention setting lives under its own prefix."""
    from leadpool.gate.policy import clear_policy_cache, platform_policy

    monkeypatch.setenv("LEADPOOL_RETENTION_DENIALS_DAYS", "120")
    clear_policy_cache()
    try:
        platform_policy()  # unaffected
        assert RetentionSettings().denials_days == 120
        monkeypatch.setenv("LEADPOOL_GATE_DENIAL_RETENTION_DAYS", "120")
        clear_policy_cache()
        with pytest.raises(InvalidInput, match="denial_retention_days"):
            platform_policy()
    finally:
        monkeypatch.delenv("LEADPOOL_GATE_DENIAL_RETENTION_DAYS", raising=False)
        clear_policy_cache()
    res = runner.invoke(cli, ["settings", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["env"]: r for r in json.loads(res.stdout)["settings"]}
    assert rows["LEADPOOL_RETENTION_DENIALS_DAYS"]["value"] == 120
    assert rows["LEADPOOL_RETENTION_DENIALS_DAYS"]["default"] == 90


def test_prune_decisions_command(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)  # the command prunes as of now
    gone = _add(db, [now - timedelta(days=d) for d in (50, 60, 200)], allowed=False)
    kept = _add(db, [now - timedelta(days=d) for d in (1, 39)], allowed=False)
    kept += _add(db, [now - timedelta(days=d) for d in (100, 700)], allowed=True)

    r = runner.invoke(cli, ["send", "prune-decisions", "--older-than-days", "40", "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    dry = json.loads(r.stdout)
    assert (dry["dry_run"], dry["would_delete"], dry["deleted"], dry["older_than_days"]) == (True, 3, 0, 40)
    assert abs(datetime.fromisoformat(dry["cutoff"]) - (now - timedelta(days=40))) < timedelta(minutes=5)
    r = runner.invoke(cli, ["send", "prune-decisions", "--older-than-days", "40", "--dry-run"])
    assert r.exit_code == 0 and "would delete 3 denied decision(s) older than 40 days" in r.stdout
    assert "and 0 allocation idempotency key(s); nothing was deleted" in r.stdout
    assert _ids(db) == set(gone + kept) and _audits(db) == []

    r = runner.invoke(
        cli, ["send", "prune-decisions", "--older-than-days", "40", "--actor", "ops@x", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["dry_run"], out["deleted"], out["would_delete"], out["chunks"]) == (False, 3, None, 1)
    assert _ids(db) == set(kept)
    (audit,) = _audits(db)
    assert audit["actor"] == "ops@x" and audit["detail"]["deleted"] == 3 and out["audit_id"] is not None

    # default: the setting; the text form says what went and as of when
    monkeypatch.setenv("LEADPOOL_RETENTION_DENIALS_DAYS", "30")
    r = runner.invoke(cli, ["send", "prune-decisions"])
    assert r.exit_code == 0, r.output
    assert (
        "deleted 1 denied decision(s) older than 30 days" in r.stdout
        and "allowed decisions are kept" in r.stdout
        and "0 allocation idempotency key(s) deleted" in r.stdout
    )
    assert _ids(db) == set(kept) - {kept[1]}
    assert [a["actor"] for a in _audits(db)] == ["ops@x", "cli"]


def test_prune_decisions_keeps_its_bar_on_stderr_under_json(db: Database, terminal: None) -> None:
    """--json turned the bar off (disable=quiet) where generate and import keep it, wiped when done."""
    _add(db, [datetime.now(UTC) - timedelta(days=50)], allowed=False)
    r = runner.invoke(cli, ["send", "prune-decisions", "--older-than-days", "40", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["deleted"] == 1
    assert "deleting denials" in r.stderr and "\x1b[2K" in r.stderr


def test_prune_decisions_refuses_bad_flags_and_settings(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _add(db, [datetime.now(UTC) - timedelta(days=d) for d in (8, 400)], allowed=False)
    for args, needle in [
        (["--older-than-days", "6"], "--older-than-days"),
        (["--older-than-days", "3651"], "--older-than-days"),
        (["--older-than-days", "ninety"], "--older-than-days"),
        (["--actor", "  "], "--actor"),
    ]:
        r = runner.invoke(cli, ["send", "prune-decisions", *args])
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output, (args, r.output)
    for value in ("10", "forever"):
        monkeypatch.setenv("LEADPOOL_RETENTION_DENIALS_DAYS", value)
        r = runner.invoke(cli, ["send", "prune-decisions", "--json"])
        assert r.exit_code == 2 and "LEADPOOL_RETENTION_DENIALS_DAYS" in r.output, r.output
        assert "Traceback" not in r.output
    assert _ids(db) == set(ids) and _audits(db) == []
    # a flag given is the period, whatever the setting says
    r = runner.invoke(cli, ["send", "prune-decisions", "--older-than-days", "7", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["deleted"] == 2


def _run_job(db: Database) -> str:
    return run_job(db, PRUNE_TASK)


def test_the_daily_job_is_on_the_cron_and_prunes_on_a_worker(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (PRUNE_TASK, "daily") in queue_app.periodic_registry.periodic_tasks
    assert queue_app.tasks[PRUNE_TASK].queue == "gate"
    now = datetime.now(UTC)
    gone = _add(db, [now - timedelta(days=400)], allowed=False)
    kept = _add(db, [now - timedelta(days=400)], allowed=True) + _add(
        db, [now - timedelta(days=2)], allowed=False
    )

    monkeypatch.setenv("LEADPOOL_RETENTION_DENIALS_DAYS", "5")  # refused: the job fails, deletes nothing
    assert _run_job(db) == "failed"
    assert _ids(db) == set(gone + kept)

    monkeypatch.delenv("LEADPOOL_RETENTION_DENIALS_DAYS")
    assert _run_job(db) == "succeeded"
    assert _ids(db) == set(kept)
    (audit,) = _audits(db)
    assert audit["actor"] == PRUNE_TASK and audit["detail"]["older_than_days"] == 90
