"""Accuracy of a reply classifier on the labelled sets shipped in ``data/``.

Each line: ``{"text", "category", "received" (ISO date), "return_date" (ISO date or null)}``, and
optionally ``"channel"`` (email, sms, phone, linkedin: the channel the reply came by, passed to the
classifier; a line without one is classified without a channel, as before). The return date is
scored only for replies labelled out-of-office.

Shipped sets (``SHIPPED_SETS``), in the order they were written:

- ``dev`` (``replies.jsonl``): the set the first rules were written against.
- ``holdout`` (``replies_holdout.jsonl``) and ``fresh`` (``replies_fresh.jsonl``): held out when
  written, then used to generalise the rules, so their figures are optimistic now.
- ``final`` (``replies_final.jsonl``): written after the rules were frozen and measured once
  (69.4%), then used to generalise the rules.
- ``blind`` (``replies_blind.jsonl``): written by someone who had seen neither the rules nor the
  other sets, measured once after that generalisation; the honest figure. Never tune rules on it:
  write a new set instead.
- ``revocation`` (``replies_revocation.jsonl``): SMS and email replies revoking consent in free
  text or with the FCC's per se words inside a sentence, SMS HELP/START keywords and everyday uses
  of the words, with their channels. Written before the rules for them, by the engineer who then
  wrote the rules (not blind), and measured once after; never tuned on.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import get_args

from leadpool.errors import InvalidInput
from leadpool.events.classifier import Classifier
from leadpool.events.schemas import REPLY_CATEGORIES, Channel

SHIPPED_SETS: dict[str, str] = {
    "dev": "replies.jsonl",
    "holdout": "replies_holdout.jsonl",
    "fresh": "replies_fresh.jsonl",
    "final": "replies_final.jsonl",
    "blind": "replies_blind.jsonl",
    "revocation": "replies_revocation.jsonl",
}


@dataclass(frozen=True)
class LabelledReply:
    text: str
    category: str
    received: date
    return_date: date | None
    channel: str | None = None


@dataclass
class EvalReport:
    total: int = 0
    correct: int = 0
    per_category: dict[str, tuple[int, int]] = field(default_factory=dict)  # category -> (correct, total)
    return_dates_correct: int = 0
    return_dates_total: int = 0
    mistakes: list[dict[str, str | None]] = field(default_factory=list)
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)  # (expected, got) -> count

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def return_date_accuracy(self) -> float:
        return self.return_dates_correct / self.return_dates_total if self.return_dates_total else 0.0


def load_labelled(path: Path | None = None, *, shipped: str = "dev") -> list[LabelledReply]:
    """The labelled replies in ``path``, else the shipped set named ``shipped`` (see SHIPPED_SETS)."""
    if path is None and shipped not in SHIPPED_SETS:
        raise InvalidInput(f"unknown labelled set {shipped!r}; one of: {', '.join(SHIPPED_SETS)}")
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise InvalidInput(f"cannot read the labelled replies {str(path)!r}: {reason}") from None
    else:
        text = (
            resources.files("leadpool.events")
            .joinpath(f"data/{SHIPPED_SETS[shipped]}")
            .read_text(encoding="utf-8")
        )
    rows: list[LabelledReply] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if raw["category"] not in REPLY_CATEGORIES:
                raise ValueError(f"unknown category {raw['category']!r}")
            rows.append(
                LabelledReply(
                    text=raw["text"],
                    category=raw["category"],
                    received=date.fromisoformat(raw["received"]),
                    return_date=date.fromisoformat(raw["return_date"]) if raw.get("return_date") else None,
                    channel=_channel(raw.get("channel")),
                )
            )
        except KeyError as e:
            raise InvalidInput(f"{path or SHIPPED_SETS[shipped]} line {n}: missing field {e}") from None
        except (ValueError, TypeError) as e:
            raise InvalidInput(f"{path or SHIPPED_SETS[shipped]} line {n}: {e}") from None
    return rows


def _channel(value: object) -> str | None:
    if value is None:
        return None
    if value not in get_args(Channel):
        raise ValueError(f"unknown channel {value!r}")
    return str(value)


def evaluate(classifier: Classifier, replies: list[LabelledReply]) -> EvalReport:
    """Score ``classifier`` on ``replies``: accuracy, per category, confusion, return dates."""
    report = EvalReport()
    counts: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    for r in replies:
        # a classifier written before channels existed is still scored on the lines without one
        got = (
            classifier.classify(r.text, received=r.received, channel=r.channel)
            if r.channel is not None
            else classifier.classify(r.text, received=r.received)
        )
        confusion[(r.category, got.category)] += 1
        report.total += 1
        counts[r.category] += 1
        if got.category == r.category:
            report.correct += 1
            hits[r.category] += 1
        else:
            report.mistakes.append({"text": r.text, "expected": r.category, "got": got.category})
        if r.category == "out_of_office":
            report.return_dates_total += 1
            if got.return_date == r.return_date:
                report.return_dates_correct += 1
            else:
                report.mistakes.append(
                    {
                        "text": r.text,
                        "expected": f"return {r.return_date}",
                        "got": f"return {got.return_date}",
                    }
                )
    report.per_category = {c: (hits[c], counts[c]) for c in REPLY_CATEGORIES if counts[c]}
    report.confusion = dict(sorted(confusion.items()))
    return report
