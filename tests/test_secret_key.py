"""The platform secret behind every keyed hash: one per database, whole, and never a weak one."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.config import Settings, get_settings
from leadpool.db import Database
from leadpool.errors import InvalidInput


def _read_key(home: str, q: mp.Queue) -> None:  # type: ignore[type-arg]
    q.put(Settings(home=Path(home), secret_key=None).resolved_secret_key())


def test_processes_starting_at_once_on_a_fresh_home_share_one_whole_key(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    for run in range(5):
        home = tmp_path / f"home{run}"
        q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        procs = [ctx.Process(target=_read_key, args=(str(home), q)) for _ in range(4)]
        for p in procs:
            p.start()
        keys = {q.get(timeout=30) for _ in procs}
        for p in procs:
            p.join()
        assert len(keys) == 1 and len(next(iter(keys))) == 64
        assert (home / "secret_key").stat().st_mode & 0o777 == 0o600
        assert [f.name for f in home.iterdir()] == ["secret_key"]  # no temporary file left


def test_a_short_or_empty_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="LEADPOOL_SECRET_KEY is too short"):
        Settings(home=tmp_path, secret_key="   ").resolved_secret_key()
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(InvalidInput, match="holds no usable secret key"):
        Settings(home=tmp_path, secret_key=None).resolved_secret_key()


def test_a_host_with_another_key_is_refused_by_the_database(
    db: Database, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = CliRunner().invoke(app, ["pool", "stats", "--json"])
    assert first.exit_code == 0, first.output  # the database keeps this key's fingerprint
    monkeypatch.setenv("LEADPOOL_SECRET_KEY", "another-hosts-key-generated-elsewhere")
    get_settings.cache_clear()
    other = CliRunner().invoke(app, ["pool", "stats", "--json"])
    assert other.exit_code == 1 and "set LEADPOOL_SECRET_KEY to the same value on every host" in other.output
    assert "another-hosts-key" not in other.output
