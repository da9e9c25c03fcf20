"""Revoking consent in free text and with the FCC's per se words anywhere in an SMS reply; SMS
HELP / INFO / START / UNSTOP keywords are not a person answering.

Reference (../shared/reference/compliance-and-providers.md section 4):

- FCC revocation order (FCC 24-24): "Consent may be revoked by **any reasonable means**. Replies of
  'stop, quit, end, revoke, opt out, cancel, unsubscribe' are revocation per se"; gate
  implication: "Also parse free text ('remove me') and emails/calls as revocation".
- SMS keywords: "Carriers/CTIA: STOP and HELP are mandatory ... Opt back in with START/YES/UNSTOP".

A review found SMS replies such as "Cancel my subscription", "End all messages", "cancel these
texts", "Delete my number", "Cease and desist", "Leave me alone" and "Lose my number" read as
``other``: the number was not suppressed, the person's consents stayed live and every other lead on
the number kept being texted. cancel/end counted only opening a reply before a separator, or as a
clause of their own closing it. Now the free-text forms are opt-outs on every channel, and on
``sms``/``phone`` (when the recorder passes the channel) one of the per se words anywhere in the
reply is one too, unless it is plainly something else ("stop by", "end of the month", "the end",
"don't stop", "cancel our call tomorrow").

A bare HELP / INFO (the carrier's information keyword) or START / UNSTOP (opting back in) was read
as a reply ``other``: ``replied_at`` for good (automation stops) and the company paused for every
agency. The classifier now marks them (``Classification.keyword``); opting back in stays out of
scope (docs/events.md: SMS START never re-subscribes).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tests.allocation.factories import make_leads

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.events.classifier import Classification, RuleClassifier, sms_keyword
from leadpool.events.evaluate import LabelledReply, evaluate

from .conftest import World

AT = datetime(2025, 1, 14, 17, 0, tzinfo=UTC)
DAY = date(2025, 1, 14)


def _category(text: str, channel: str | None = None) -> str:
    return RuleClassifier().classify(text, received=DAY, channel=channel).category


# the review's cases (tests/review_tmp4/test_fcc_per_se_words_by_sms.py)
REVIEW_CASES = [
    "Cancel my subscription",
    "End all messages",
    "cancel these texts",
    "Delete my number",
    # "any reasonable means" (free text)
    "Cease and desist",
    "Leave me alone",
    "Lose my number",
]


@pytest.mark.parametrize("text", REVIEW_CASES)
def test_per_se_revocation_words_by_sms_unsubscribe(db: Database, world: World, text: str) -> None:
    """Recorded as the recorder does today (no channel passed to the classifier): the free-text
    forms are opt-outs on every channel, so the number is suppressed."""
    lead = world.lead(phone="+17205550199")
    with session_scope(db) as s:
        out = record_event(
            s,
            EventIn(
                type="reply",
                phone="+17205550199",
                channel="sms",
                text=text,
                occurred_at=AT,
                source="twilio",
                provider_event_id=f"sms-{text}",
            ),
            at=AT + timedelta(minutes=1),
        )
    assert out.lead_id == lead
    assert (out.category, "suppressed:unsubscribed" in out.effects) == ("unsubscribe", True), out


@pytest.mark.parametrize("channel", [None, "sms", "phone", "email", "linkedin"])
@pytest.mark.parametrize(
    "text",
    [
        *REVIEW_CASES,
        "Not interested. Cancel my subscription",
        "Please cancel my subscription to these emails.",
        "cancel all future texts",
        "End all communication with me.",
        "Erase my number from your system",
        "Forget my email address, thanks.",
        "Leave us alone please",
        "This is harassment. Cease and desist immediately.",
        "I don't want any more of these texts",
        "We do not want your emails",
        "I don't want to be contacted again.",
    ],
)
def test_free_text_revocation_is_an_unsubscribe_on_every_channel(text: str, channel: str | None) -> None:
    assert _category(text, channel) == "unsubscribe"


@pytest.mark.parametrize("channel", ["sms", "phone"])
@pytest.mark.parametrize(
    "text",
    [
        "I want to cancel",
        "Please end this",
        "Who is this? Stop",
        "Not interested END",  # END after a word: "month end" elsewhere, per se in a reply to a text
        "Wrong person, end",
        "You can cancel me from whatever list this is",
        "Can you stop",
        "quit it",
        "Stop? why",  # a question too: one confirmation text may ask
        "revoke",
    ],
)
def test_a_per_se_word_anywhere_in_a_reply_to_a_text_is_an_unsubscribe(text: str, channel: str) -> None:
    assert _category(text, channel) == "unsubscribe"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to cancel", "other"),
        ("Please end this", "other"),
        ("Not interested END", "not_interested"),
        ("Let's end the call at 5", "other"),
        ("Cancel my order", "other"),
    ],
)
def test_by_email_the_per_se_words_count_only_where_the_rules_find_them(text: str, expected: str) -> None:
    """By email "cancel"/"end" have everyday uses; the reply needs an opt-out's shape."""
    assert _category(text, "email") == expected
    assert _category(text) == expected  # no channel: as before channels were passed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sure, stop by the office on Tuesday", "interested"),
        ("Stop in anytime", "other"),
        ("End of the month works", "interested"),
        ("At the end of the day we went with another vendor.", "not_interested"),
        ("We'll see in the end.", "other"),
        ("month end is busy", "other"),
        ("End-to-end encryption is a must for us. Send details", "interested"),
        ("Non-stop meetings this week, call me Friday", "interested"),
        ("Please don't stop, this is great", "other"),
        ("Keep going, don't stop!", "other"),
        ("Will it ever end?", "other"),
        ("Smoking? I quit.", "other"),
        ("Quit my job last month, not at Acme anymore", "other"),
        ("Let's end the call at 5", "other"),
        ("Can't make the call, cancel.", "other"),
        ("Cancel, something came up, can we reschedule?", "other"),
        ("I had to cancel our call tomorrow", "other"),
        ("Let's do 30 minutes, I have a hard stop.", "interested"),
        ("We went with another vendor, full stop.", "not_interested"),
        ("Did you lose my number? Call me back", "interested"),
        ("Don't lose my number!", "other"),
        ("Weekend works for me", "interested"),
    ],
)
def test_other_uses_of_the_per_se_words_in_a_text_are_not_opt_outs(text: str, expected: str) -> None:
    assert _category(text, "sms") == expected


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("HELP", "help"),
        ("help", "help"),
        ("Help?", "help"),
        ("INFO", "help"),
        ("START", "start"),
        ("Start.", "start"),
        ("UNSTOP", "start"),
        ("help me understand the pricing", None),
        ("more info please", None),
        ("Yes", None),  # an opt-in keyword too, but by far more often a person saying yes
        ("stop", None),
    ],
)
def test_sms_keywords(text: str, keyword: str | None) -> None:
    assert sms_keyword(text) == keyword
    got = RuleClassifier().classify(text, received=DAY, channel="sms")
    assert got.keyword == keyword
    if keyword is not None:
        assert got.category == "other"  # recorded as a reply the recorder gives no effects


@pytest.mark.parametrize("channel", ["email", "linkedin", None])
def test_help_in_an_email_is_a_person_writing(channel: str | None) -> None:
    """Not on SMS (or on no channel known), "Help" or "Info" is a person writing back."""
    assert RuleClassifier().classify("HELP", channel=channel) == Classification("other", 0.3)


def test_a_classifier_without_channels_is_still_a_classifier_for_the_evaluation() -> None:
    """The interface grew an optional ``channel``: a classifier written before it is still scored
    on lines that name none."""

    class Legacy:
        def classify(self, text: str, *, received: date | None = None) -> Classification:
            return Classification("other", 0.3)

    report = evaluate(Legacy(), [LabelledReply("Thanks, received.", "other", DAY, None)])  # type: ignore[arg-type]
    assert report.accuracy == 1.0
    channelled = [LabelledReply("I want to cancel", "unsubscribe", DAY, None, channel="sms")]
    assert evaluate(RuleClassifier(), channelled).accuracy == 1.0


@pytest.mark.parametrize("text", ["HELP", "INFO", "START", "UNSTOP"])
def test_an_sms_keyword_is_recorded_without_reply_effects(db: Database, world: World, text: str) -> None:
    """HELP / INFO ask for the program's information, START / UNSTOP opt back in (which is never
    automatic here): neither is a person answering, so automation does not stop for good and the
    person's company is not paused for every agency."""
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(phone="+17205550123")
    world.own(lead, agency, campaign)
    with session_scope(db) as s:
        out = record_event(
            s,
            EventIn(
                type="reply",
                lead_id=lead,
                channel="sms",
                text=text,
                occurred_at=AT,
                source="twilio",
                provider_event_id=f"kw-{text}",
            ),
            at=AT + timedelta(minutes=1),
        )
    assert out.event_id and out.type == "reply"
    assert not {"lead:replied", "company:paused", "enrollment:ended"} & set(out.effects), out.effects


def test_a_per_se_word_inside_an_sms_reply_unsubscribes(db: Database, world: World) -> None:
    lead = world.lead(phone="+17205550124")
    with session_scope(db) as s:
        out = record_event(
            s,
            EventIn(
                type="reply",
                phone="+17205550124",
                channel="sms",
                text="I want to cancel",
                occurred_at=AT,
                source="twilio",
                provider_event_id="sms-cancel",
            ),
            at=AT + timedelta(minutes=1),
        )
    assert out.lead_id == lead
    assert (out.category, "suppressed:unsubscribed" in out.effects) == ("unsubscribe", True), out


def test_a_reply_info_on_no_known_channel_is_a_reply(db: Database) -> None:
    """A reply named by its lead alone (no channel, no send): "Info" is a person asking, not an
    SMS keyword; the lead is marked replied and its sequences stop."""
    with session_scope(db) as s:
        (lead,) = make_leads(s, 1)
    event = EventIn.model_validate(
        {
            "type": "reply",
            "lead_id": lead,
            "text": "Info",
            "occurred_at": datetime.now(UTC).isoformat(),
            "provider_event_id": "info-no-channel-1",
            "source": "engine",
        }
    )
    with session_scope(db) as s:
        out = record_event(s, event)
    assert "lead:replied" in out.effects, out.effects
