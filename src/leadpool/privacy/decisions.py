"""The gate's decisions about an erased person, kept without what their sentences said about them.

A reason's sentence names what applied at the time: the person's time zone and local time
("... in Pacific/Chatham; it is Wed 01:45 there"), their email status, dates. On erasure every
sentence becomes its code's general one (``gate.reasons.REASON_SUMMARIES``); the code and
``retry_after`` stay, so a timeline or an idempotent replay still reads the same answer.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.gate.reasons import REASON_SUMMARIES

_GENERALISE = text(
    """
    UPDATE decisions d SET reasons = g.reasons
    FROM (
        SELECT x.id, jsonb_agg(
            CASE WHEN jsonb_typeof(e.r) = 'object' THEN e.r || jsonb_build_object('message', coalesce(
                CAST(:summaries AS jsonb) ->> (e.r ->> 'code'),
                'Denied (reason code ' || coalesce(e.r ->> 'code', 'unknown') || ').'))
            ELSE e.r END
            ORDER BY e.n) AS reasons
        FROM decisions x, jsonb_array_elements(x.reasons) WITH ORDINALITY AS e(r, n)
        WHERE x.lead_id = :lead AND jsonb_typeof(x.reasons) = 'array'
        GROUP BY x.id
    ) g
    WHERE d.id = g.id AND d.reasons IS DISTINCT FROM g.reasons
    RETURNING d.id
    """
)


def generalise_reasons(session: Session, lead_id: int) -> int:
    """Rewrite the sentences of the lead's decisions to their codes' own; returns how many changed."""
    rows = session.execute(_GENERALISE, {"lead": lead_id, "summaries": json.dumps(REASON_SUMMARIES)}).all()
    return len(rows)
