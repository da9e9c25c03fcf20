"""SMS/email replies that START with a STOP keyword and say one more thing are opt-outs.

Reference (compliance-and-providers.md section 4, "SMS keywords" and "FCC revocation order"):
"Replies of 'stop, quit, end, revoke, opt out, cancel, unsubscribe' are revocation per se" and
revocation may come "by any reasonable means ... Also parse free text". Issue 4: "an unsubscribe
request in a reply is an unsubscribe"; docs/events.md: "not interested, take me off your list"
must stop all contact. The classifier used to read "stop" as an opt-out only when it was the whole
message, preceded by please/so/just, or *ended* the message, so a leading "STOP." followed by a
second sentence fell through to not_interested / wrong_person / other, and "Yes, stop." (answering
"Reply STOP to opt out") was read as interested.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, EventOutcome, record_event
from leadpool.events.classifier import RuleClassifier
from leadpool.models import Lead

from .conftest import World
from .test_events_end_to_end import NOON
from .test_events_end_to_end import gate as _gate
from .test_events_end_to_end import owned_lead as _owned_lead

# phone numbers outside the builders' default range (+1303555nnnn), so no other lead holds them
PHONE_A = "+17205550142"
PHONE_B = "+17205550177"
PHONE_C = "+17205550155"
PHONE_D = "+17205550181"


def _record(db: Database, **kw: Any) -> EventOutcome:
    kw.setdefault("occurred_at", NOON - timedelta(hours=1))
    kw.setdefault("source", "test")
    kw.setdefault(
        "provider_event_id",
        f"{kw['type']}-{kw.get('email')}-{kw.get('phone')}-{kw.get('lead_id')}-{kw.get('text')}",
    )
    with session_scope(db) as s:
        return record_event(s, EventIn(**kw), at=kw["occurred_at"] + timedelta(minutes=1))


def _category(text: str) -> str:
    return RuleClassifier().classify(text, received=date(2025, 1, 14)).category


REAL_OPT_OUTS = [
    # the reviewer's cases
    "Stop. Not interested.",
    "STOP - not interested",
    "Stop, I am not interested",
    "STOP - wrong number",
    "Stop. Wrong number.",
    "STOP STOP",
    # the same shape with other separators, keywords and placements
    "STOP\u2014not interested",
    "Stop: wrong number",
    "STOP!!! Not interested",
    "STOP \U0001f64f not interested",
    "STOP not interested",
    "stop stop stop",
    "STOP\nnot interested",
    "Hi,\nSTOP - wrong number",
    "Not for me. Stop, thanks",
    "Quit, not interested",
    "Revoke. Not interested.",
    "Opt out - wrong person",
    "Cancel - not interested",
    "END. Wrong number.",
    "Remove - not interested",
    # yes / ok / sure + stop: an opt-out, not interest
    "Yes, stop.",
    "Yes STOP",
    "Sure, stop it",
    "ok stop",
    "Yes, cancel.",
]


@pytest.mark.parametrize("text", REAL_OPT_OUTS)
def test_a_reply_that_starts_with_stop_is_an_unsubscribe(text: str) -> None:
    assert _category(text) == "unsubscribe", text


NOT_OPT_OUTS = [
    ("Stop by our booth at the expo!", "other"),
    ("Sure, stop by the office on Tuesday", "interested"),
    ("Stop by next week, we'd love to see you", "interested"),
    ("I'll stop by next week", "other"),
    ("Stop in anytime", "other"),
    ("don't stop", "other"),
    ("Please don't stop, this is great", "other"),
    ("stop?? why", "other"),
    ("Stop? Why?", "other"),
    ("End of the month works", "interested"),
    ("Yes, end of the month works", "interested"),
    ("At the end of the day we went with another vendor.", "not_interested"),
    ("End of quarter is busy, try me in May", "other"),
    ("Cancel my meeting", "other"),
    ("Cancel, something came up, can we reschedule?", "other"),
    ("Ok, cancel the call, let's do Monday", "other"),
    ("Quit my job last month, not at Acme anymore", "other"),
    ("Non-stop meetings this week, call me Friday", "interested"),
    # a hyphen joined to a word is not a separator
    ("End-to-end testing is what we need", "other"),
    ("End-to-end encryption is a must for us. Send details", "interested"),
    ("Stop-gap solution is what we have now, interested", "interested"),
    ("Stop-and-go traffic tracking is exactly our use case", "other"),
    ("Quit-rate analytics? Yes please, send a deck", "interested"),
]


@pytest.mark.parametrize(("text", "expected"), NOT_OPT_OUTS)
def test_other_uses_of_the_keywords_are_not_opt_outs(text: str, expected: str) -> None:
    assert _category(text) == expected, text


# The FCC's per se words ending a reply or a clause, and revoking consent in words: they used to be
# opt-outs only at the start of a line or a sentence, so these were read as not_interested (12
# months of cooling, then texted again) or other.
OPT_OUTS_AFTER_OTHER_WORDS = [
    # the reviewer's cases
    "Not interested STOP",
    "Not interested, QUIT",
    "Not interested. Revoke my consent.",
    "Please revoke my consent",
    # ending the reply, after a word or a separator, politeness after it
    "not interested stop",
    "Not interested - STOP",
    "Not interested: quit",
    "Not interested STOP!!",
    "no thanks stop pls",
    "Wrong number stopall",
    "Not relevant STOP",  # a word ending in "nt" is not "dont"/"cant"
    # after a comma or a semicolon, then a separator, another keyword or a word like "it"/"now"
    "Not interested; stop",
    "Thanks, stop now",
    "Not interested, stop it. Wrong number",
    # cancel/end only as a clause of their own closing a reply not about a meeting
    "Not interested, cancel.",
    "No thanks. END",
    # cancel/end with what is to end as their object, on every channel (it used to be
    # not_interested: "subscription" read as a meeting word; test_sms_revocation.py)
    "Not interested. Cancel my subscription",
    # consent revoked in words
    "I withdraw my consent to be contacted.",
    "Consent withdrawn.",
    "Ich widerrufe meine Einwilligung.",
    "Je retire mon consentement.",
    "Retiro mi consentimiento.",
]


@pytest.mark.parametrize("text", OPT_OUTS_AFTER_OTHER_WORDS)
def test_a_stop_word_after_other_words_is_an_unsubscribe(text: str) -> None:
    assert _category(text) == "unsubscribe", text


# ... but not a keyword that is part of a statement, a question or a noun phrase
NOT_OPT_OUTS_AFTER_OTHER_WORDS = [
    ("I can't stop thinking about it", "other"),
    ("Keep going, don't stop!", "other"),
    ("dont stop", "other"),
    ("Never stop", "other"),
    ("Where should we stop?", "other"),
    ("Does it ever stop?", "other"),
    ("Smoking? I quit.", "other"),
    ("We decided to revoke the API keys", "other"),
    ("Let's do 30 minutes, I have a hard stop.", "interested"),
    ("We went with another vendor, full stop.", "not_interested"),
    ("Sure, let's talk. Where is your nearest bus stop", "interested"),
    ("Thanks, stop by anytime", "other"),
    ("Hi Tom, quit my job last month", "other"),
    ("Sounds good, talk at quarter end", "interested"),
    ("We'll see in the end.", "other"),
    ("Can't make the call, cancel.", "other"),
    ("Not interested END", "not_interested"),  # end after a word: "month end", "quarter end"
]


@pytest.mark.parametrize(("text", "expected"), NOT_OPT_OUTS_AFTER_OTHER_WORDS)
def test_keywords_in_a_statement_after_other_words_are_not_opt_outs(text: str, expected: str) -> None:
    assert _category(text) == expected, text


def test_stop_not_interested_by_sms_unsubscribes_the_person_on_every_channel(
    db: Database, world: World
) -> None:
    _, campaign, lead = _owned_lead(world, phone=PHONE_A)
    out = _record(db, type="reply", phone="+1 720 555 0142", channel="sms", text="Stop. Not interested.")
    assert out.category == "unsubscribe", out
    for channel in ("email", "linkedin", "sms", "phone"):
        assert "unsubscribed" in _gate(db, lead, campaign, channel).codes, channel


def test_stop_reply_from_a_number_two_leads_hold_stops_both(db: Database, world: World) -> None:
    """The same person twice in the pool (say an Apollo lead and a CSV lead) holding one mobile:
    a bare "STOP" from that number flags both (docs/events.md "Every lead holding the address");
    "STOP - not interested" used to name no single lead and change nothing at all."""
    agency = world.agency()
    campaign = world.campaign(agency)
    a = world.lead(phone=PHONE_B)
    b = world.lead(phone=PHONE_B)
    world.own(a, agency, campaign)
    world.own(b, agency)
    out = _record(db, type="reply", phone=PHONE_B, channel="sms", text="STOP - not interested")
    assert out.category == "unsubscribe", out
    assert "unsubscribed" in _gate(db, a, campaign, "sms").codes


@pytest.mark.parametrize(
    "text",
    [
        "Not interested STOP",
        "Not interested, QUIT",
        "Not interested. Revoke my consent.",
        "Please revoke my consent",
    ],
)
def test_sms_reply_with_a_stop_word_after_other_words_is_an_opt_out(
    db: Database, world: World, get_lead: Callable[[int], Lead], text: str
) -> None:
    """An FCC per se revocation word (reference section 4: "stop, quit, end, revoke, opt out,
    cancel, unsubscribe") written after the words instead of before them. Each was read as
    not_interested (or other): 12 months of cooling, then the person is texted again, although they
    said STOP."""
    _, campaign, lead = _owned_lead(world, phone=PHONE_D)
    out = _record(db, type="reply", lead_id=lead, channel="sms", text=text)
    assert out.category == "unsubscribe", (text, out.category)
    assert get_lead(lead).unsubscribed_at is not None
    assert "unsubscribed" in _gate(db, lead, campaign, "sms").codes


@pytest.mark.parametrize("text", ["Yes, stop.", "Yes STOP", "Sure, stop it"])
def test_yes_stop_is_not_read_as_interested(db: Database, world: World, text: str) -> None:
    """An opt-out read as *interested* would report the person to the agency as a warm lead and
    write no suppression."""
    _, campaign, lead = _owned_lead(world, phone=PHONE_C)
    out = _record(db, type="reply", phone=PHONE_C, channel="sms", text=text)
    assert out.category == "unsubscribe", (text, out.category)
    assert "unsubscribed" in _gate(db, lead, campaign, "sms").codes


def _classify(text: str) -> None:
    RuleClassifier().classify(text, received=date(2026, 1, 1))


@pytest.mark.parametrize(
    "text",
    [
        "a" + "\n" * 100_000 + "b",  # every line start rescanned the blank lines (minutes before)
        "a" + "\n." * 100_000 + "b",
        ". yes, stop " * 100_000 + "?",
        "\n stop" * 100_000,
        "cancel. " * 100_000,
        "STOP \U0001f64f " * 100_000,
        "word stop x " * 50_000 + "?",  # a keyword after a word, not ending the reply
        ". end x" * 50_000,  # cancel/end closing a clause, not the reply
        ", quit x" * 50_000,
        "revoke my " * 50_000 + "consen",
    ],
    ids=[
        "blank-lines",
        "dotted-lines",
        "yes-stop-run",
        "stop-lines",
        "cancel-run",
        "emoji-run",
        "word-stop-run",
        "clause-end-run",
        "comma-quit-run",
        "consent-run",
    ],
)
def test_the_stop_rules_finish_on_crafted_text(text: str) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_classify, args=(text,))
    proc.start()
    proc.join(30)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        pytest.fail(f"classifying {len(text):,} crafted characters did not finish in 30 s")
    assert proc.exitcode == 0
