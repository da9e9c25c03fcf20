"""Review: the STOP-reply classifier rules (commit 95b1988).

An unsubscribe is irreversible and suppresses the person on every channel for every agency, so a
false positive costs a real prospect for good. The new "opens with an opt-out keyword" rules take
any character outside [\\w\\s?&/@'"] right after the keyword as a separator, including a hyphen
with no space: hyphenated compounds that merely begin with stop/quit/end ("End-to-end",
"Stop-gap", "Stop-and-go", "Quit-rate") now read as opt-outs. Each of these replies was
interested/other before the commit.
"""

from __future__ import annotations

from datetime import date

import pytest

from leadpool.events.classifier import RuleClassifier

NOT_OPT_OUTS = [
    "End-to-end testing is what we need",
    "End-to-end encryption is a must for us. Send details",
    "Stop-gap solution is what we have now, interested",
    "Stop-and-go traffic tracking is exactly our use case",
    "Quit-rate analytics? Yes please, send a deck",
]


@pytest.mark.parametrize("reply", NOT_OPT_OUTS)
def test_a_hyphenated_word_starting_with_a_keyword_is_not_an_opt_out(reply: str) -> None:
    got = RuleClassifier().classify(reply, received=date(2025, 1, 14)).category
    assert got != "unsubscribe", f"{reply!r} read as an unsubscribe"
