"""Reply text is chosen by whoever replies (or any agency reporting a reply): no classifier pattern
may backtrack without end on it. Each case here ran for minutes or more before its fix; the tests
only ask that it finishes at all, in a process that is killed after a generous bound."""

from __future__ import annotations

import multiprocessing
from datetime import date

import pytest

from leadpool.events.classifier import default_classifier

_BOUND_SECONDS = 60  # the cases take milliseconds; before their fixes, hours


def _classify(text: str) -> None:
    default_classifier().classify(text, received=date(2026, 1, 1))


@pytest.mark.parametrize(
    "text",
    [
        "hi," * 60 + "x",  # a greeting clause and the next greeting could split "hi,hi,..." 2^60 ways
        "I am out of office. " + "1/1/" * 100_000,  # the return date's lookahead rescanned the run
        "no more texts " * 200_000 + "today",  # each phrase looked for a diary word to the end
    ],
    ids=["greetings", "numeric-run", "no-more-texts-run"],
)
def test_the_classifier_finishes_on_crafted_text(text: str) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_classify, args=(text,))
    proc.start()
    proc.join(_BOUND_SECONDS)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        pytest.fail(f"classifying {len(text):,} crafted characters did not finish in {_BOUND_SECONDS} s")
    assert proc.exitcode == 0


def test_greetings_before_a_yes_still_read_as_interested() -> None:
    c = default_classifier()
    for text in (
        "Hi John, thanks, yes please",
        "Hi John, great to hear, yes",
        "hi, hi, yes",
        "Hello. Yes, send it",
    ):
        assert c.classify(text).category == "interested", text
    assert c.classify("hi there, no thanks").category == "not_interested"
