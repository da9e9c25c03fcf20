"""Deterministic interleavings of two real sessions: pause one right before a given statement,
wait until another backend is blocked on a lock, then let the first go on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from leadpool.db import Database


class PauseBefore:
    """The ``nth`` statement of ``session`` whose text contains ``marker`` sets ``reached`` and
    waits for ``go`` before it runs."""

    def __init__(self, session: Session, marker: str, nth: int = 1) -> None:
        self.marker = marker
        self.nth = nth
        self.seen = 0
        self.reached = threading.Event()
        self.go = threading.Event()
        event.listen(session.connection(), "before_cursor_execute", self._hook)

    def _hook(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.seen < self.nth and self.marker in statement:
            self.seen += 1
            if self.seen == self.nth:
                self.reached.set()
                assert self.go.wait(30), "never released"


def backend_pid(session: Session) -> int:
    return int(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def wait_until_lock_waiting(
    db: Database, pid: int, timeout: float = 10.0, *, or_done: threading.Thread | None = None
) -> None:
    """Until backend ``pid`` waits on a heavyweight lock (a row's transaction, an advisory lock),
    or ``or_done`` (the thread using it) has finished without waiting."""
    deadline = time.monotonic() + timeout
    with db.engine.connect() as c:
        while time.monotonic() < deadline:
            if or_done is not None and not or_done.is_alive():
                return
            waiting = c.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar()
            c.commit()
            if waiting == "Lock":
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} never blocked on a lock")


class Runner(threading.Thread):
    """``fn()`` in a thread, keeping its result or exception."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


def interleave(
    db: Database,
    first: Callable[[Session], None],
    marker: str,
    second: Callable[[Session], None],
    nth: int = 1,
) -> tuple[BaseException | None, BaseException | None]:
    """Run ``first`` until just before its ``nth`` statement containing ``marker``, then
    ``second`` until it blocks on a lock ``first`` holds, then let both finish; each commits (or,
    failing, rolls back at once, so a deadlock's victim lets the other go). Their errors."""
    s1 = db.sessionmaker()
    pause = PauseBefore(s1, marker, nth)
    t1 = Runner(lambda: _commit(first, s1))
    t1.start()
    assert pause.reached.wait(10), f"never reached {marker!r}"
    s2 = db.sessionmaker()
    pid2 = backend_pid(s2)
    t2 = Runner(lambda: _commit(second, s2))
    t2.start()
    try:
        wait_until_lock_waiting(db, pid2)
    finally:
        pause.go.set()
        t1.join(30)
        t2.join(30)
        for s in (s1, s2):
            s.rollback()
            s.close()
    return t1.error, t2.error


def _commit(fn: Callable[[Session], Any], session: Session) -> None:
    try:
        fn(session)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def run_threads(*targets: Callable[[], None], timeout: float = 30.0) -> list[BaseException]:
    """Run each target in its own thread, all at once; what any of them raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as e:  # noqa: BLE001 - reported to the test
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors


def run_processes(
    target: Callable[..., None], n: int, uri: str, plan: dict[str, Any], *, barrier: bool = False
) -> list[Any]:
    """``target(uri, i, plan, [barrier,] out)`` in ``n`` spawned processes (each its own engine);
    what each put on ``out``, once every one exited cleanly."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    extra = (ctx.Barrier(n),) if barrier else ()
    procs = [ctx.Process(target=target, args=(uri, i, plan, *extra, out)) for i in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results
