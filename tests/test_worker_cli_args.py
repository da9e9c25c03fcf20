"""`leadpool worker` refuses a concurrency outside 1..32 and a queue no task runs on, naming the
queues that exist; `python -m leadpool` is the same CLI."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.cli.jobs import MAX_CONCURRENCY, known_queues


def test_the_known_queues_are_the_ones_the_tasks_run_on() -> None:
    assert known_queues() == ["default", "events", "gate", "housekeeping", "webhooks"]


def test_the_workers_help_names_every_queue() -> None:
    """It named four of the five (not events, the sending-domain guard's)."""
    from leadpool.cli.jobs import worker_cmd

    (queue,) = [p for p in worker_cmd.__defaults__ or () if getattr(p, "param_decls", None) == ("--queue",)]
    for name in known_queues():
        assert f"{name} (" in queue.help, name


def test_worker_refuses_an_unknown_queue_naming_the_known_ones(env: None) -> None:
    res = CliRunner().invoke(app, ["worker", "--once", "--queue", "gate", "--queue", "refills"])
    assert res.exit_code == 2, res.output
    for name in ("refills", "default", "gate", "housekeeping", "webhooks"):
        assert name in res.output, res.output
    assert "worker started" not in res.output


def test_worker_refuses_a_concurrency_above_the_maximum(env: None) -> None:
    res = CliRunner().invoke(app, ["worker", "--once", "--concurrency", str(MAX_CONCURRENCY + 1)])
    assert res.exit_code == 2 and "concurrency" in res.output.lower(), res.output
    assert "worker started" not in res.output


def test_worker_refuses_a_bad_setting_of_a_job_before_it_starts(env: None, monkeypatch) -> None:
    """The daily pruning reads it: a worker that started would fail that job every day, in a log."""
    monkeypatch.setenv("LEADPOOL_RETENTION_DENIALS_DAYS", "soon")
    res = CliRunner().invoke(app, ["worker", "--once"])
    assert res.exit_code == 2, res.output
    assert "LEADPOOL_RETENTION_DENIALS_DAYS" in res.output and "soon" not in res.output, res.output
    assert "worker started" not in res.output


def test_python_dash_m_leadpool_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "leadpool", "worker", "--concurrency", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "concurrency" in done.stderr.lower(), done.stderr
    assert "Traceback" not in done.stderr
