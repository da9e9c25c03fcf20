"""Lead scores: the expected positive-reply probability of one touch on a channel.

The segment model is the hierarchy channel > industry > seniority > company-size band >
email_status over the outcome facts, metric ``positive_per_send`` (positive replies per sent
touch, so an address likely to bounce scores lower), each level shrunk toward its parent. Only
cells that pass the privacy thresholds are used (see :mod:`leadpool.insights.privacy`): a lead
whose own segment is thin gets the rate of its deepest ancestor that passes, so no score shown to
an agency is built from a single other agency's outcomes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.insights import rates
from leadpool.insights.facts import SIZE_BAND_SQL
from leadpool.insights.privacy import is_safe

SCORE_DIMS: tuple[str, ...] = ("channel", "industry", "seniority", "size_band", "email_status")
SCORE_METRIC = "positive_per_send"
CHANNELS = ("email", "linkedin", "sms", "phone")


@dataclass
class SegmentModel:
    """Shrunk positive-per-send rate of every safe cell along the score hierarchy."""

    rates: dict[tuple[Any, ...], float]
    version: str
    cells: int

    def score(
        self, channel: str, industry: str, seniority: str, size_band: str, email_status: str
    ) -> float | None:
        """Rate of the deepest safe cell on the lead's path (None if not even the whole is safe)."""
        path = (channel, industry, seniority, size_band, email_status)
        for depth in range(len(path), -1, -1):
            r = self.rates.get(path[:depth])
            if r is not None:
                return r
        return None


def fit_model(
    session: Session,
    *,
    sent_before: datetime | None = None,
    private: bool = True,
    campaign_ids: Sequence[int] | None = None,
) -> SegmentModel:
    """Fit the segment model on facts sent before ``sent_before`` (all when None).

    With ``private`` (the default, for anything shown to agencies) thin cells are dropped before
    fitting; their leads fall back to the deepest ancestor that passes the thresholds.
    """
    cells = rates.count_cells(session, SCORE_DIMS, sent_before=sent_before, campaign_ids=campaign_ids)
    if private:
        cells = _safe_tree(cells)
    if not any(c.level == 0 for c in cells):
        return SegmentModel(rates={}, version="empty", cells=0)
    rates.shrink_cells(cells, [SCORE_METRIC])
    table = {c.key: c.rates[SCORE_METRIC].shrunk for c in cells}
    digest = hashlib.sha1(
        json.dumps(sorted((list(map(str, k)), round(v, 9)) for k, v in table.items())).encode()
    ).hexdigest()[:12]
    return SegmentModel(rates=table, version=f"seg-v1-{digest}", cells=len(table))


def _safe_tree(cells: list[rates.Cell]) -> list[rates.Cell]:
    """The safe cells whose ancestors are all safe too: a safe cell can sit under one that is not
    (every send of ``(email, construction)`` bounced, so it skips the delivered-touch test its
    parent ``(email)``, delivered by two agencies, fails), and shrinking needs each kept cell's
    parent; a lead of such a cell falls back to its deepest kept ancestor."""
    kept: set[tuple[Any, ...]] = set()
    out = []
    for c in sorted(cells, key=lambda c: c.level):
        if is_safe(c.counts) and (c.level == 0 or c.parent_key() in kept):
            kept.add(c.key)
            out.append(c)
    return out


LEAD_SEGMENT_SQL = f"""
SELECT l.id, lower(coalesce(c.industry, 'unknown')), coalesce(l.seniority, 'unknown'), {SIZE_BAND_SQL},
    coalesce(l.email_status, 'none'),
    l.email IS NOT NULL AND l.email_bounced_at IS NULL, l.linkedin_url IS NOT NULL, l.phone IS NOT NULL
FROM leads l LEFT JOIN companies c ON c.id = l.company_id
WHERE l.erased_at IS NULL
"""


def lead_channel_scores(model: SegmentModel, rows: Sequence[Sequence[Any]]) -> list[tuple[int, str, float]]:
    """(lead_id, channel, score) for each channel a lead is reachable on; rows as LEAD_SEGMENT_SQL."""
    out: list[tuple[int, str, float]] = []
    for lid, industry, seniority, size, status, has_email, has_li, has_phone in rows:
        reach = {"email": has_email, "linkedin": has_li, "sms": has_phone, "phone": has_phone}
        for ch in CHANNELS:
            if reach[ch]:
                s = model.score(ch, industry, seniority, size, status)
                if s is not None:
                    out.append((int(lid), ch, s))
    return out


@dataclass
class ScoreResult:
    model_version: str
    cells: int
    scores: int
    leads: int

    def to_json(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "cells": self.cells,
            "scores": self.scores,
            "leads": self.leads,
        }


# Leads scored per round trip: the pool is read, scored and written back in id order, this many
# at a time, so the job's memory and statement size do not grow with the pool.
SCORE_CHUNK = 5_000
_MIN_ID = -(2**63)


def score_leads(session: Session, *, at: datetime | None = None) -> ScoreResult:
    """Fit the model on all facts and store every lead's scores (``lead_scores``, replacing the
    previous model's) and its best score over reachable channels (``leads.insight_score``, used by
    allocation's ranking). Leads are read and written ``SCORE_CHUNK`` at a time, in id order, and
    the session is committed after each chunk: a lead's row stays locked by the run for one
    chunk's write only, not until the whole pool is scored (allocation skips locked leads, and an
    unsubscribe or erasure waits for them). Meanwhile ``lead_scores`` holds the new model's scores
    up to the chunk written and the previous model's past it.

    One run at a time: a second waits for the first to finish (on a lock held by a connection
    of its own, since the session's is returned to the pool at each chunk's commit), then scores
    the pool again."""
    with session.get_bind().engine.connect() as guard:
        guard.execute(_ONE_RUN)  # held until this transaction ends, with the connection
        try:
            return _score_leads(session, at=at or datetime.now(UTC))
        finally:
            guard.rollback()


# a transaction-level lock: a run whose process dies loses it with its connection
_ONE_RUN = text("SELECT pg_advisory_xact_lock(hashtextextended('leadpool:insights:score_leads', 0))")


def _score_leads(session: Session, *, at: datetime) -> ScoreResult:
    model = fit_model(session)
    n_scores = n_leads = 0
    after = _MIN_ID
    while model.rates:
        rows = session.execute(
            # FOR SHARE: an erasure (it updates the lead) waits for this chunk's commit and then
            # deletes its scores, or, committed first, keeps its lead out of the chunk
            text(LEAD_SEGMENT_SQL + " AND l.id > :after ORDER BY l.id LIMIT :n FOR SHARE OF l"),
            {"after": after, "n": SCORE_CHUNK},
        ).all()
        if not rows:
            break
        last = int(rows[-1][0])
        scores = lead_channel_scores(model, rows)
        session.execute(
            text("DELETE FROM lead_scores WHERE lead_id > :lo AND lead_id <= :hi"), {"lo": after, "hi": last}
        )
        if scores:
            session.execute(
                text(
                    "INSERT INTO lead_scores (lead_id, channel, score, model_version, computed_at) "
                    "SELECT l, c, s, :v, :at FROM unnest(CAST(:l AS bigint[]), CAST(:c AS text[]), "
                    "CAST(:s AS float8[])) AS t(l, c, s)"
                ),
                {
                    "l": [x[0] for x in scores],
                    "c": [x[1] for x in scores],
                    "s": [x[2] for x in scores],
                    "v": model.version,
                    "at": at,
                },
            )
            n_scores += len(scores)
            n_leads += len({x[0] for x in scores})
        # the best score onto each lead of this id range (erased ones in it too: no score, NULL)
        session.execute(
            text(
                """
                UPDATE leads SET insight_score = b.best
                FROM (SELECT l.id, max(s.score) AS best FROM leads l
                      LEFT JOIN lead_scores s ON s.lead_id = l.id
                      WHERE l.id > :lo AND l.id <= :hi GROUP BY l.id) b
                WHERE leads.id = b.id AND leads.insight_score IS DISTINCT FROM b.best
                """
            ),
            {"lo": after, "hi": last},
        )
        session.commit()
        after = last
    # past the last lead scored (every lead, with no model): no score any more
    session.execute(text("DELETE FROM lead_scores WHERE lead_id > :after"), {"after": after})
    session.execute(
        text("UPDATE leads SET insight_score = NULL WHERE id > :after AND insight_score IS NOT NULL"),
        {"after": after},
    )
    session.commit()
    return ScoreResult(model_version=model.version, cells=model.cells, scores=n_scores, leads=n_leads)


def forget_lead(session: Session, lead_id: int) -> int:
    """Delete the lead's scores and its copy on the lead (its erasure); returns how many scores.

    A scoring run skips erased leads, and one running meanwhile holds the rows of the chunk it is
    writing (``FOR SHARE``): the erasure's update of the lead waits for that chunk, so it deletes
    what the chunk wrote. The caller commits."""
    n = len(
        session.execute(
            text("DELETE FROM lead_scores WHERE lead_id = :l RETURNING channel"), {"l": lead_id}
        ).all()
    )
    session.execute(
        text("UPDATE leads SET insight_score = NULL WHERE id = :l AND insight_score IS NOT NULL"),
        {"l": lead_id},
    )
    return n


def scores_of(session: Session, lead_id: int) -> list[dict[str, Any]]:
    """A lead's stored scores, per channel, with the model version."""
    rows = session.execute(
        text(
            "SELECT channel, score, model_version, computed_at FROM lead_scores WHERE lead_id = :l ORDER BY channel"
        ),
        {"l": lead_id},
    ).all()
    return [
        {"channel": ch, "score": round(float(s), 6), "model_version": v, "computed_at": at.isoformat()}
        for ch, s, v, at in rows
    ]
