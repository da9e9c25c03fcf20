"""Threads, each with its own connection, allocating (with and without keys, and rounds) for
several agencies with overlapping ICPs: no lead twice, no campaign past its daily quota, no call
past its count, and replays equal to their first answers."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import text
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.allocate import allocate
from leadpool.allocation.rounds import allocate_round
from leadpool.db import Database, session_scope
from leadpool.errors import Conflict


@pytest.fixture(autouse=True)
def _no_refill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_REFILL_ENABLED", "false")


@pytest.mark.parametrize("mode", ["person", "company"])
def test_threads_respect_quota_count_and_ownership(
    db: Database, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six threads, twelve calls each (a seeded mix of rounds, plain calls and calls under four
    keys per campaign): whatever the interleaving, no lead is owned or actively enrolled twice,
    every enrollment is its owner's, no campaign passes its daily quota, no call its count, every
    replay equals its first answer and, under company exclusivity, no company is split."""
    monkeypatch.setenv("LEADPOOL_EXCLUSIVITY", mode)
    with session_scope(db) as s:
        cos = [make_company(s, industry="construction" if i % 2 else "real estate") for i in range(12)]
        for co in cos:
            make_leads(s, 8, company_id=co, title="CEO" if co % 3 else "Founder")
        icps = [
            {"industries": ["construction"]},
            {"industries": ["construction", "real estate"]},
            {"title_terms": ["ceo"]},
            {},
        ]
        campaigns = []
        quotas = {}
        for i in range(6):
            a = make_agency(s)
            q = random.Random(i).randint(5, 25)
            c = make_campaign(s, a, icp=icps[i % 4], daily_quota=q)
            campaigns.append(c)
            quotas[c] = q
    answers: dict[tuple[int, str], list[list[int]]] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        rnd = random.Random(100 + i)
        for _ in range(12):
            try:
                with session_scope(db) as s:
                    if rnd.random() < 0.15:
                        allocate_round(s, at=NOW)
                        continue
                    c = rnd.choice(campaigns)
                    n = rnd.randint(1, 6)
                    key = f"k{rnd.randint(0, 3)}" if rnd.random() < 0.5 else None
                    if key is not None:
                        n = 4  # same count per key
                    r = allocate(s, c, n, at=NOW, idempotency_key=key)
                    assert len(r.lead_ids) <= n
                    if key is not None:
                        with lock:
                            answers.setdefault((c, key), []).append(sorted(r.lead_ids))
            except Conflict:
                pass
            except BaseException as e:  # noqa: BLE001 - reported by the test
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for k, lists in answers.items():
        assert all(x == lists[0] for x in lists), (k, lists)
    with db.engine.connect() as conn:
        per = dict(conn.execute(text("SELECT campaign_id, count(*) FROM enrollments GROUP BY 1")).all())
        dup = conn.execute(
            text("SELECT lead_id FROM enrollments WHERE status='active' GROUP BY 1 HAVING count(*)>1")
        ).all()
        mism = conn.execute(
            text(
                "SELECT count(*) FROM enrollments e JOIN ownerships o ON o.lead_id = e.lead_id "
                "WHERE e.status = 'active' AND o.agency_id <> e.agency_id"
            )
        ).scalar_one()
        unowned = conn.execute(
            text(
                "SELECT count(*) FROM enrollments e WHERE e.status='active' AND NOT EXISTS "
                "(SELECT 1 FROM ownerships o WHERE o.lead_id = e.lead_id)"
            )
        ).scalar_one()
        acq = conn.execute(
            text("SELECT lead_id FROM lead_history WHERE action='acquired' GROUP BY 1 HAVING count(*)>1")
        ).all()
        owned_not_enrolled = conn.execute(
            text(
                "SELECT count(*) FROM ownerships o WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.lead_id = o.lead_id)"
            )
        ).scalar_one()
        split = conn.execute(
            text(
                "SELECT l.company_id FROM ownerships o JOIN leads l ON l.id = o.lead_id "
                "GROUP BY l.company_id HAVING count(DISTINCT o.agency_id) > 1"
            )
        ).all()
    for c, n in per.items():
        assert n <= quotas[c], (c, n, quotas[c])
    assert not dup and mism == 0 and unowned == 0 and not acq
    assert owned_not_enrolled == 0
    if mode == "company":
        assert not split
