"""Review of this stop's classifier rule "no more texts / calls" (``events.classifier._UNSUBSCRIBE``,
``r"\\bno (?:more|further) (?:...|texts?|...|calls?|phone calls|...)\\b"``): it reads scheduling
talk as a revocation of consent.

An unsubscribe is the heaviest outcome there is: every address of the person suppressed for every
agency, for good (docs/events.md). The rule fires on "no more calls" anywhere in the text, with
confidence 0.9, and ``record._reply_category`` lets an opt-out found in the text at >= 0.9 win
over the sending tool's own category, so even a reply the tool filed as ``interested`` becomes a
permanent suppression.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from leadpool.db import Database, session_scope
from leadpool.events.classifier import default_classifier
from leadpool.models import Lead

from .conftest import World
from .test_review_peers import _event

BUYING = [
    "I have no more calls today, call me tomorrow at 10 and we can sign.",
    "Sounds great! No further calls needed, send the contract and I will sign.",
    "Interested! I have no more calls this week so Monday works.",
]


@pytest.mark.parametrize("text", BUYING)
def test_scheduling_talk_is_not_an_opt_out(text: str) -> None:
    """Observed: ``unsubscribe`` (confidence 0.9) for each of these buying replies. Expected:
    anything but ``unsubscribe``: "no more calls today" says the person's calendar is full, not
    that they revoke consent (the FCC's "reasonable means" is a revocation request, e.g. "no more
    calls, please" / "stop calling me")."""
    assert default_classifier().classify(text).category != "unsubscribe"


def test_an_interested_reply_mentioning_no_more_calls_today_suppresses_nobody(
    db: Database, world: World
) -> None:
    """End to end: a reply the sending tool categorised ``interested`` whose text says "I have no
    more calls today, call me tomorrow" leaves the lead with ``unsubscribed_at`` set (suppressed
    everywhere, for good). Expected: the interested reply is recorded as interested."""
    agency = world.agency()
    campaign = world.campaign(agency, channels=["email"])
    lead = world.lead()
    world.own(lead, agency, campaign)
    _event(db, type="reply", lead_id=lead, channel="email", category="interested", text=BUYING[0])
    with session_scope(db) as s:
        unsubscribed = s.scalar(select(Lead.unsubscribed_at).where(Lead.id == lead))
    assert unsubscribed is None
