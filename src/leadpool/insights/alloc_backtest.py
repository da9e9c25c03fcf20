"""Allocation backtest: does ``allocate()`` ranking with the lead score pick better leads than it
does with the plain fit score alone, for the same number of leads?

On a simulated history (see :mod:`leadpool.insights.backtest`) the pool is narrowed to the leads
first touched in the held-out later period (the earlier ones are blocklisted, the simulated
companies get a keyword the campaign's ICP asks for, so no real lead can be picked). A real
campaign then takes ``n`` leads through :func:`leadpool.allocation.allocate.allocate` twice:
once with ``leads.insight_score`` set from the model fitted on the earlier period (what
``leadpool insights refresh`` stores; allocation orders by fit rank, then this score), once with
it cleared (fit rank, then freshest data: the ordering before insights). Each run is judged by
the held-out period's actual positive replies of the leads it picked, and by the expected number
from the simulator's hidden true probabilities. Each run happens in a savepoint that is rolled
back; the caller's transaction (rolled back by the CLI) holds the simulated rows.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.allocation.agencies import create_agency
from leadpool.allocation.allocate import allocate
from leadpool.allocation.campaigns import activate_campaign, create_campaign
from leadpool.insights import history, score

_HELD_OUT_LEADS = """
SELECT lead_id, min(channel), bool_or(positive) FROM insight_facts
WHERE lead_id = ANY(:leads) GROUP BY lead_id HAVING min(sent_at) >= :split
"""


def allocation_backtest(
    session: Session,
    hist: history.History,
    model: score.SegmentModel,
    split_at: datetime,
    *,
    share: float = 0.2,
) -> dict[str, Any]:
    """Allocate ``share`` of the held-out leads by score and by fit score; compare what they got."""
    held = {
        int(lid): (str(ch), bool(pos))
        for lid, ch, pos in session.execute(
            text(_HELD_OUT_LEADS), {"leads": hist.lead_ids, "split": split_at}
        )
    }
    n = max(1, int(len(held) * share))
    tag = f"backtest-{secrets.token_hex(4)}"
    session.execute(
        text(
            "UPDATE companies SET keywords = ARRAY[CAST(:tag AS text)] WHERE id IN "
            "(SELECT company_id FROM leads WHERE id = ANY(:leads))"
        ),
        {"tag": tag, "leads": list(held)},
    )
    session.execute(
        text("UPDATE leads SET blocklisted_at = now() WHERE id = ANY(:all) AND NOT (id = ANY(:held))"),
        {"all": hist.lead_ids, "held": list(held)},
    )
    agency = create_agency(session, tag).id
    campaign = create_campaign(
        session,
        agency_id=agency,
        name=tag,
        channels="email",
        icp={"keywords": [tag], "email_statuses": ["verified", "extrapolated", "guessed"]},
        daily_quota=n,
    ).id
    activate_campaign(session, campaign)
    rows = session.execute(
        text(score.LEAD_SEGMENT_SQL + " AND l.id = ANY(:held)"), {"held": list(held)}
    ).all()
    best: dict[int, float] = {}
    for lid, _ch, s in score.lead_channel_scores(model, rows):
        best[lid] = max(best.get(lid, 0.0), s)

    def run(scores: dict[int, float] | None) -> dict[str, Any]:
        nested = session.begin_nested()
        try:
            session.execute(
                text(
                    "UPDATE leads SET insight_score = t.s FROM unnest(CAST(:l AS bigint[]), CAST(:s AS float8[])) "
                    "AS t(l, s) WHERE leads.id = t.l"
                ),
                {"l": list(held), "s": [None if scores is None else scores.get(x) for x in held]},
            )
            picked = allocate(session, campaign, n, refill_shortfall=False, actor="backtest").lead_ids
        finally:
            nested.rollback()
        return {
            "leads": len(picked),
            "positive_replies": sum(1 for x in picked if held[x][1]),
            # P(at least one positive over its two touches), from the hidden truth
            "expected_positive_replies": round(
                sum(1 - (1 - hist.true_positive_per_send(x, held[x][0])) ** 2 for x in picked), 2
            ),
        }

    by_score, by_fit = run(best), run(None)
    gain = by_score["expected_positive_replies"] - by_fit["expected_positive_replies"]
    return {
        "held_out_leads": len(held),
        "allocated_each": n,
        "by_score": by_score,
        "by_fit_score": by_fit,
        "expected_gain": round(gain, 2),
        "expected_gain_pct": round(100 * gain / by_fit["expected_positive_replies"], 1)
        if by_fit["expected_positive_replies"]
        else None,
    }
