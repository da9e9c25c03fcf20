"""Review of 901f808's narrowing of the "no more texts / calls" opt-out rule
(``events.classifier._UNSUBSCRIBE``).

To stop reading "I have no more calls today" as an opt-out, the rule now fires only when "no more
calls/texts" is followed by nothing but a few listed words separated by *spaces* and then a full
stop, an exclamation mark or the end of a line. A comma, "or", "to this number" with a leading
"please", "from your company" or an emoji all break it. The plainest revocations a person texts or
says ("No more calls, please.", "No more texts or calls", "Please, no more calls to this number,
thanks.") were ``unsubscribe`` before 901f808 and are now ``not_interested`` (12 months of cooling,
then the person is texted again) or even ``other`` (nothing at all). compliance-and-providers.md
section 4 (FCC 24-24): consent "may be revoked by any reasonable means"; free text is to be parsed as
revocation. A missed revocation is a TCPA exposure per message; the rule should look for the
scheduling context it means to exclude ("today", "this week", a following "call me"), not demand
that the request end right after a whitelisted word.
"""

from __future__ import annotations

import pytest

from leadpool.events.classifier import default_classifier

REVOCATIONS = [
    "No more calls, please.",
    "No more texts, thanks",
    "No more texts or calls",
    "Please, no more calls to this number, thanks.",
    "No more text messages, ever.",
    "no more calls from your company",
]


@pytest.mark.parametrize("text", REVOCATIONS)
def test_a_plain_request_to_stop_calls_or_texts_is_an_opt_out(text: str) -> None:
    """Observed on 901f808: ``not_interested`` (0.8) or ``other`` (0.3); on 901f808^:
    ``unsubscribe`` (0.9). Expected: ``unsubscribe``."""
    assert default_classifier().classify(text).category == "unsubscribe"
