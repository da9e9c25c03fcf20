"""A scoring run (``insights refresh``) that has read a chunk of the pool when an erasure of one
of its leads starts: the erasure waits for the chunk and deletes what it wrote, so the erased lead
keeps no scores (``lead_scores``, ``leads.insight_score``) until the next run."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import text
from tests.allocation.factories import make_agency, make_campaign, make_company, make_leads
from tests.insights.factrows import add_facts

from leadpool.db import Database, session_scope
from leadpool.insights import score
from leadpool.privacy import erase


def test_a_scoring_run_does_not_write_scores_back_onto_a_lead_erased_meanwhile(
    db: Database, monkeypatch: Any
) -> None:
    with session_scope(db) as s:
        for a in (101, 102, 103):
            add_facts(
                s, 100, replies=20, positives=10, agency_id=a, industry="construction", seniority="owner"
            )
        co = make_company(s, industry="Construction", estimated_num_employees=120)
        leads = make_leads(s, 3, company_id=co, seniority="owner")
        make_campaign(s, make_agency(s))
    victim = leads[0]

    original = score.lead_channel_scores
    erasure: list[threading.Thread] = []
    failed: list[BaseException] = []

    def _erase() -> None:
        try:
            with session_scope(db) as other:
                erase(other, victim, actor="dpo")
        except BaseException as e:  # noqa: BLE001 - reported by the test
            failed.append(e)

    def erase_meanwhile(model: Any, rows: Any) -> Any:
        # the run has read this chunk of the pool; the DPO's erasure starts now
        if not erasure:
            erasure.append(threading.Thread(target=_erase))
            erasure[0].start()
            erasure[0].join(1.0)  # it waits for the chunk (or, unguarded, commits meanwhile)
        return original(model, rows)

    monkeypatch.setattr(score, "lead_channel_scores", erase_meanwhile)
    with session_scope(db) as s:
        result = score.score_leads(s)
    erasure[0].join(30)
    assert not failed, failed
    assert result.scores > 0
    with session_scope(db) as s:
        left = s.execute(
            text("SELECT channel, score FROM lead_scores WHERE lead_id = :l"), {"l": victim}
        ).all()
        on_lead = s.execute(
            text("SELECT erased_at IS NOT NULL, insight_score FROM leads WHERE id = :l"), {"l": victim}
        ).one()
    assert on_lead[0]
    assert left == [] and on_lead[1] is None, (
        f"erased lead {victim} got scores back after its erasure: lead_scores={left}, insight_score={on_lead[1]}"
    )
