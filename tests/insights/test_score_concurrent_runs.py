"""Two scoring runs at once (a cron's ``leadpool insights refresh`` overlapping a slow one, or an
operator's by hand): the second waits for the first instead of inserting scores under the first
one's uncommitted chunk and failing on a duplicate key."""

from __future__ import annotations

import threading

from sqlalchemy import text

from insights.test_score_locks import _world
from leadpool.db import session_scope
from leadpool.insights import score


def _run(db, out: dict[str, object], name: str) -> None:
    try:
        with session_scope(db) as s:
            out[name] = score.score_leads(s)
    except Exception as e:  # noqa: BLE001 - reported by the test
        out[name] = e


def test_a_second_scoring_run_waits_for_the_first(db, monkeypatch):
    monkeypatch.setattr(score, "SCORE_CHUNK", 2)
    _campaign, leads = _world(db)  # facts of three agencies, six leads they score

    # stall the first run at the held lead's chunk: that chunk's scores written, not committed
    # (NO KEY UPDATE: the scores' foreign key may still share the row, the run's UPDATE may not)
    holder = db.engine.connect()
    holder.execute(text("SELECT 1 FROM leads WHERE id = :l FOR NO KEY UPDATE"), {"l": sorted(leads)[2]})
    out: dict[str, object] = {}
    first = threading.Thread(target=_run, args=(db, out, "first"))
    first.start()
    try:
        with db.engine.connect() as watch:
            for _ in range(600):
                waiting = watch.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar_one()
                watch.rollback()  # pg_stat_activity is read once per transaction
                if waiting:
                    break
                threading.Event().wait(0.05)
            assert waiting, f"the first run never stalled: {out}"
        second = threading.Thread(target=_run, args=(db, out, "second"))
        second.start()
        threading.Event().wait(1.0)  # the second run reaches the first's stalled chunk (or its lock)
    finally:
        holder.rollback()
        holder.close()
    first.join(30)
    second.join(30)
    assert not isinstance(out.get("first"), Exception), out.get("first")
    assert not isinstance(out.get("second"), Exception), f"the second run failed: {out.get('second')!r}"
    with session_scope(db) as s:
        after = s.execute(text("SELECT lead_id, channel, score FROM lead_scores ORDER BY 1, 2")).all()
        assert score.score_leads(s).scores == len(after) > 0
        alone = s.execute(text("SELECT lead_id, channel, score FROM lead_scores ORDER BY 1, 2")).all()
    assert after == alone
