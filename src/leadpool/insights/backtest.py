"""Backtest: does the lead score rank people better than random and than the plain fit score?

On a simulated history with hidden truth (see :mod:`leadpool.insights.history`) the segment model
is fitted on the touches sent before a split date and judged on the touches sent after it:
AUC of each ranking for "this touch got a positive reply", the lift of the top fifth, and how many
positive replies the same number of touches would get when the top-ranked fifth is chosen (actual
outcomes, and the expected number from the hidden true probabilities). Then allocation itself is
replayed on the held-out leads, ordered with and without the score
(:mod:`leadpool.insights.alloc_backtest`).
Everything runs in the caller's transaction; the CLI rolls it back so nothing is kept.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadpool.insights import facts, history, rates, score
from leadpool.insights.alloc_backtest import allocation_backtest

TOP_SHARE = 0.2


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties share their average rank)."""
    pos = sum(1 for y in labels if y)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def _top(scores: Sequence[float], k: int, tiebreak: Sequence[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], tiebreak[i]))[:k]


def run_backtest(
    session: Session, *, seed: int = 11, leads: int = 8000, days: int = 90, split: float = 0.6
) -> dict[str, Any]:
    """Generate history, fit on the early part, evaluate on the later part; returns the figures."""
    start = datetime(2026, 1, 5, tzinfo=UTC)
    hist = history.generate_history(session, seed=seed, leads=leads, start=start, days=days)
    facts.refresh_facts(session)
    split_at = start + timedelta(days=days * split)
    model = score.fit_model(session, sent_before=split_at, campaign_ids=hist.campaign_ids)
    rows = session.execute(
        text(
            "SELECT f.lead_id, f.channel, f.industry, f.seniority, f.size_band, f.email_status, f.positive, "
            "l.alloc_rank FROM insight_facts f JOIN leads l ON l.id = f.lead_id "
            "WHERE f.sent_at >= :split AND f.campaign_id = ANY(:c) ORDER BY f.touch_id"
        ),
        {"split": split_at, "c": hist.campaign_ids},
    ).all()
    rng = random.Random(seed)
    labels = [bool(r[6]) for r in rows]
    model_scores = [model.score(r[1], r[2], r[3], r[4], r[5]) or 0.0 for r in rows]
    fit_scores = [float(r[7] or 0) for r in rows]
    random_scores = [rng.random() for _ in rows]
    tiebreak = [rng.random() for _ in rows]
    truth = [hist.true_positive_per_send(int(r[0]), str(r[1])) for r in rows]
    k = max(1, int(len(rows) * TOP_SHARE))
    base_rate = sum(labels) / len(labels) if labels else 0.0

    def judge(scores: list[float]) -> dict[str, Any]:
        picked = _top(scores, k, tiebreak)
        hits = sum(1 for i in picked if labels[i])
        return {
            "auc": None if (a := auc(scores, labels)) is None else round(a, 4),
            "top_positive_rate": round(hits / k, 5),
            "lift": round(hits / k / base_rate, 3) if base_rate else None,
            "positives_in_top": hits,
            "expected_positives_in_top": round(sum(truth[i] for i in picked), 2),
        }

    bounce = {
        str(c.key[0]): c.rates["bounce"].to_json()
        for c in rates.segment_rates(
            session, ["email_status"], campaign_ids=hist.campaign_ids, metrics=["bounce"]
        )
        if c.level == 1
    }
    return {
        "seed": seed,
        "leads": leads,
        "touches": hist.touches,
        "events": hist.events,
        "split_at": split_at.isoformat(),
        "train_model": {"version": model.version, "cells": model.cells},
        "held_out_touches": len(rows),
        "held_out_positives": sum(labels),
        "top_share": TOP_SHARE,
        "top_touches": k,
        "score": judge(model_scores),
        "fit_score": judge(fit_scores),
        "random": judge(random_scores),
        "oracle": judge(truth),
        "bounce_by_email_status": bounce,
        # last: it narrows the pool to the held-out leads (blocklists the rest, in this transaction)
        "allocation": allocation_backtest(session, hist, model, split_at),
    }
