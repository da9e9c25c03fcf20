"""A small scenario end to end: the API in its own process, engines through the client, refills
from the fake Apollo, Agency B's cancellation; every invariant 0 and the summary adds up."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from leadpool.db import Database
from leadpool.simulation import DemoSummary, run_demo
from leadpool.simulation.service import fresh_database


def test_small_demo_end_to_end(db: Database, tmp_path: Path) -> None:
    s: DemoSummary = run_demo(people=1500, days=5, seed=7, out=tmp_path, progress=False, database_uri=db.uri)

    assert s.invariants and all(i["violations"] == 0 for i in s.invariants), s.invariants
    assert s.violations == 0

    # the engines' own counts add up ...
    assert s.touches_attempted == s.touches_allowed + s.touches_denied
    assert s.touches_allowed == s.touches_sent + s.confirm_conflicts
    assert sum(s.denied_by_first_reason.values()) == s.touches_denied
    assert sum(s.sent_by_channel.values()) == s.touches_sent
    assert sum(sum(v for k, v in row.items() if k != "day") for row in s.sent_by_day) == s.touches_sent
    assert sum(s.denied_by_day) == s.touches_denied
    assert s.naive_sender_extra_touches == s.touches_denied
    # ... and agree with what the database recorded
    facts = s.database
    assert facts["decisions"] == s.touches_attempted
    assert facts["decisions_allowed"] == s.touches_allowed
    assert facts["touches_sent"] == s.touches_sent
    assert facts["touches_still_reserved"] == 0
    assert sum(facts["events_by_type"].values()) == sum(s.events.values())

    # the story happened: sending, denials for several reasons, the poaching attempt refused,
    # the pool ran short and refills ran against the fake Apollo, Agency B cancelled
    assert s.touches_sent > 0 and s.touches_denied > 0
    assert len(s.denied_by_reason) >= 4
    assert s.poach_attempts > 0 and s.denied_by_reason.get("not_owned", 0) >= s.poach_attempts
    assert s.refills["jobs"] >= 1 and s.refills["enriched"] > 0 and s.credits > 0
    assert s.cancellation["agency"] == "Agency B" and s.cancellation["released"] > 0
    assert s.enrolled > 0
    # half the leads where the law asks for consent gave it; the others' emails were refused
    assert s.consents_recorded > 0 and s.denied_by_reason.get("no_consent", 0) > 0
    assert "no_touch_without_consent" in {i["name"] for i in s.invariants}

    report = Path(s.report_path or "")
    html = report.read_text()
    assert report.parent == tmp_path
    assert html.count("<svg") >= 3 and "<script" not in html
    assert "src=" not in html and 'href="http' not in html  # self-contained: nothing fetched
    assert Path(s.truth_path or "").exists()


def test_same_seed_same_run(db: Database, tmp_path: Path) -> None:
    """The whole run is deterministic for its seed (engines, world, allocation order)."""
    names = [f"leadpool_demo_det_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    runs = []
    try:
        for i, name in enumerate(names):
            uri = fresh_database(db.uri, name=name)
            runs.append(
                run_demo(people=600, days=4, seed=11, out=tmp_path / str(i), progress=False, database_uri=uri)
            )
    finally:
        admin = make_url(db.uri).set(database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    a, b = (r.as_dict() for r in runs)
    for d in (a, b):
        d["refills"].pop("worker_seconds")
    for key in ("touches_attempted", "touches_allowed", "denied_by_reason", "events", "enrolled", "refills"):
        assert a[key] == b[key], key
    assert a["violations"] == b["violations"] == 0
