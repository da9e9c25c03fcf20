"""The rule-based reply classifier: accuracy on the labelled sets, return dates, stop words, bounces."""

from __future__ import annotations

from datetime import date

import pytest

from leadpool.errors import InvalidInput
from leadpool.events.bounces import classify_dsn, classify_status, smtp_status
from leadpool.events.classifier import Classifier, RuleClassifier, fold, is_stop_word, strip_quoted
from leadpool.events.evaluate import evaluate, load_labelled
from leadpool.events.return_date import find_return_date
from leadpool.events.schemas import REPLY_CATEGORIES


def test_labelled_set_is_big_and_varied() -> None:
    replies = load_labelled()
    assert len(replies) >= 150
    counts = {c: sum(r.category == c for r in replies) for c in {r.category for r in replies}}
    assert set(counts) == {
        "interested",
        "not_interested",
        "unsubscribe",
        "out_of_office",
        "wrong_person",
        "other",
    }
    assert min(counts.values()) >= 20
    assert sum(r.return_date is not None for r in replies) >= 20
    assert sum(r.category == "out_of_office" and r.return_date is None for r in replies) >= 10


def test_accuracy_on_the_labelled_set() -> None:
    """The development set the first rules were written against (241 replies; 100%), and since the
    SMS revocation review 22 more (free-text revocations, per se words inside SMS replies, SMS
    HELP/START keywords, everyday uses of the words; 252/263 before the rules for them, 263/263
    after)."""
    report = evaluate(RuleClassifier(), load_labelled())
    print(
        f"\nlabelled set: {report.accuracy:.1%} ({report.correct}/{report.total}); "
        f"return dates {report.return_dates_correct}/{report.return_dates_total}"
    )
    assert report.accuracy >= 0.95, report.mistakes
    assert report.return_date_accuracy >= 0.95, report.mistakes


@pytest.mark.parametrize(
    ("name", "size", "accuracy", "return_dates", "confident_misses"),
    [
        # Held out when written (55.2% and 60.6% before the rewrite), then used to generalise the
        # rules: 57/58 (the miss is a label we disagree with: "Please stop - not interested" is
        # labelled not_interested, the rules read an opt-out) and 99/99.
        ("holdout", 58, 0.95, 0.9, 1),
        ("fresh", 80, 0.95, 0.9, 0),
        # Written after the rules were frozen and measured once: 69.4% (50/72), return dates
        # 13/13; then used to generalise the rules: 71/72 (the miss: a sarcastic "Interesting
        # approach to a cold email." read as interested).
        ("final", 60, 0.95, 0.9, 1),
        # Written blind (the writer saw neither the rules nor the other sets), measured once
        # after that generalisation: 88.3% (106/120; the rules before it: 87.5%), return dates
        # 16/20. Two confident misses: a referral that praises the offer read as interested, a
        # job seeker's "would love to chat" read as interested. 107/120 since "no more texts"
        # became an opt-out (taken from the FCC's revocation rule, and it is one of the set's
        # misses: the set is no longer blind to that rule).
        ("blind", 120, 0.88, 0.8, 2),
        # Written before the rules for SMS/free-text revocation and HELP/START keywords, by the
        # engineer who then wrote them (not blind), measured once after: 57.1% (16/28) before,
        # 96.4% (27/28) after (the miss: "I had to cancel our call tomorrow, can we reschedule for
        # Thursday?" read as other, not interested). Never tuned on.
        ("revocation", 28, 0.95, 1.0, 0),
    ],
)
def test_accuracy_on_later_sets(
    name: str, size: int, accuracy: float, return_dates: float, confident_misses: int
) -> None:
    replies = load_labelled(shipped=name)
    assert len(replies) >= size
    assert {r.category for r in replies} == set(REPLY_CATEGORIES)
    report = evaluate(RuleClassifier(), replies)
    print(
        f"\n{name}: {report.accuracy:.1%} ({report.correct}/{report.total}); "
        f"return dates {report.return_dates_correct}/{report.return_dates_total}"
    )
    assert report.accuracy >= accuracy, report.mistakes
    assert report.return_date_accuracy >= return_dates, report.mistakes
    wrong = sum(n for (expected, got), n in report.confusion.items() if got not in (expected, "other"))
    assert wrong <= confident_misses, report.mistakes


def test_unknown_shipped_set_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown labelled set 'nope'"):
        load_labelled(shipped="nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unsubscribe outranks everything, including a not-interested reason and an auto-reply
        ("Not interested, and take me off your list.", "unsubscribe"),
        ("I'm out of office until Monday. Please unsubscribe me.", "unsubscribe"),
        ("pls unsubcribe", "unsubscribe"),
        # a revocation on the channel it came by (FCC 24-24: any reasonable wording)
        ("No more texts.", "unsubscribe"),
        ("Not interested. No more calls please.", "unsubscribe"),
        ("no further text messages", "unsubscribe"),
        # a departure notice outranks out-of-office (these are auto-replies themselves)
        ("Automatic reply: Jane has left the company and this mailbox is not monitored.", "wrong_person"),
        # out-of-office outranks a referral ("for urgent matters contact ...") and intent ("call me")
        ("I'm on leave until 20 June. For urgent matters please contact Tom instead.", "out_of_office"),
        ("Out of office until Friday, call me on my mobile if urgent.", "out_of_office"),
        # a referral outranks interest and disinterest: the addressee is not the buyer
        ("Sounds interesting, but I'm not the right person. Talk to Jane, she handles this.", "wrong_person"),
        ("I'll pass this along to the right person.", "wrong_person"),
        # negation: the not-interested family holds the negated interest words
        ("Not really interested.", "not_interested"),
        ("This isn't a fit for us.", "not_interested"),
        ("Interesting, but we're not in a position to take this on.", "not_interested"),
        ("Not now, maybe in Q3.", "not_interested"),
        ("We already use another agency.", "not_interested"),
        ("I'll pass.", "not_interested"),
        ("No problem, happy to chat on Tuesday.", "interested"),
        ("No worries, send me the deck.", "interested"),
        ("Sounds good, book a call.", "interested"),
        ("Happy to chat, what times work?", "interested"),
        # accents and curly quotes fold away
        ("Désabonnez-moi", "unsubscribe"),
        ("We\u2019re not interested", "not_interested"),
        # neither
        ("Thanks, received.", "other"),
        ("Can you tell me more about who you are?", "other"),
        ("Stop by our booth at the expo!", "other"),
    ],
)
def test_precedence_and_negation(text: str, expected: str) -> None:
    assert RuleClassifier().classify(text, received=date(2025, 6, 11)).category == expected


def test_only_quoted_text_is_other() -> None:
    """Nothing of their own above our email: our footer's "unsubscribe" is not their opt-out."""
    reply = "\n\nSent from my iPhone\n\nOn Tue, Sep 16, 2025 Alex <a@x.com> wrote:\n> Reply unsubscribe to opt out."
    assert RuleClassifier().classify(reply).category == "other"


def test_signature_and_disclaimer_are_not_read() -> None:
    reply = (
        "Happy to take a call on Thursday.\n--\nThis e-mail is confidential. If you are not the intended "
        "recipient, please notify the sender and delete it. To unsubscribe, reply STOP."
    )
    assert strip_quoted(reply) == "Happy to take a call on Thursday."
    assert RuleClassifier().classify(reply).category == "interested"


def test_fold() -> None:
    assert fold("D\u00e9sabonner \u2014 it\u2019s \u00dcBER") == "desabonner - it's uber"


def test_the_rule_classifier_is_a_classifier() -> None:
    classifier: Classifier = RuleClassifier()
    assert classifier.classify("Not interested").category == "not_interested"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("back on 2025-02-03", date(2025, 2, 3)),
        ("back 03.02.2025", date(2025, 2, 3)),
        ("back 3/2/2025 in the office", date(2025, 3, 2)),  # English text: month/day
        ("zurück am 3/2/2025", date(2025, 2, 3)),  # otherwise day/month
        ("until 25/01/2025 and back", date(2025, 1, 25)),  # day > 12: unambiguous
        ("back Feb 3rd", date(2025, 2, 3)),
        ("de retour le 3 février", date(2025, 2, 3)),
        ("hasta el 3 de febrero", date(2025, 2, 3)),
        ("ab dem 3. Februar", date(2025, 2, 3)),
        ("back on Monday", date(2025, 1, 13)),
        ("back tomorrow", date(2025, 1, 11)),
        ("away from Jan 2 until January 20", date(2025, 1, 20)),  # the latest date wins
        ("back on January 5", None),  # a day just past: a stale auto-reply, no return date
        ("back on the 16th", date(2025, 1, 16)),  # a bare day: this month while still ahead
        ("back on the 2nd", date(2025, 2, 2)),  # ... else next month
        ("off until Thu 16/1, back Friday", date(2025, 1, 17)),  # first Friday on/after the date
        ("back on Monday 20 January", date(2025, 1, 20)),
        ("I was out on 2025-01-02", None),  # only dates after arrival count
        ("out of office", None),
    ],
)
def test_return_dates(text: str, expected: date | None) -> None:
    assert find_return_date(text, date(2025, 1, 10)) == expected


@pytest.mark.parametrize(
    ("text", "received", "expected"),
    [
        # one slashed date that can only be day/month settles the order for all of them
        (
            "I am on vacation from 10/3 to 17/3 and will be back on 18/3.",
            date(2025, 3, 10),
            date(2025, 3, 18),
        ),
        ("Out 2/4 until 14/4, back in the office 15/4", date(2025, 4, 1), date(2025, 4, 15)),
        ("away 10/3 - 13/3, back on 4/4", date(2025, 3, 10), date(2025, 4, 4)),
        # ... and one that can only be month/day the other way
        ("I'm out from 3/10 to 3/17, back 3/18", date(2025, 3, 10), date(2025, 3, 18)),
        ("back on 4/3, out since 3/28", date(2025, 3, 28), date(2025, 4, 3)),
        # nothing settles it: month/day in English text, day/month otherwise
        ("back on 3/4", date(2025, 3, 1), date(2025, 3, 4)),
        ("zurück am 4/3", date(2025, 3, 1), date(2025, 3, 4)),
        # dotted dates are day.month and settle nothing for the slashed ones
        ("Urlaub bis 17.3., back on 3/18", date(2025, 3, 10), date(2025, 3, 18)),
    ],
)
def test_the_order_of_slashed_dates_is_decided_once_per_message(
    text: str, received: date, expected: date
) -> None:
    assert find_return_date(text, received) == expected


def test_a_date_long_past_without_a_year_is_next_year() -> None:
    assert find_return_date("back on January 6", date(2024, 12, 20)) == date(2025, 1, 6)
    assert find_return_date("back on 12/30", date(2024, 12, 19)) == date(2024, 12, 30)


def test_a_date_just_before_new_year_read_in_january_is_last_years() -> None:
    # a holiday auto-reply read on 2 January: 22 December is the one just past, not next December
    assert find_return_date("Out from 22 December until 5 January", date(2026, 1, 2)) == date(2026, 1, 5)
    assert find_return_date("Abwesend vom 22.12. bis 5.1.", date(2026, 1, 2)) == date(2026, 1, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Back at 9.30 on Monday 9 March", date(2026, 3, 9)),
        ("Ich bin ab 8.30 Uhr am 12.3. wieder da", date(2026, 3, 12)),
        ("Bin bis 12.03. im Urlaub", date(2026, 3, 12)),  # "bis" names a date as often as a time
        ("away until 9.10", date(2026, 10, 9)),
    ],
)
def test_a_time_of_day_is_not_a_date(text: str, expected: date) -> None:
    assert find_return_date(text, date(2026, 3, 4)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop!",
        " STOPALL ",
        "opt-out",
        "Opt Out",
        "REVOKE",
        "Arrêt",
        "td",
        "Cancel?",
        "Quit pls",
        "CANCEL 🙏",
        '"STOP"',
        "please stop!!",
        "Unsubscribe, thanks",
    ],
)
def test_stop_words(text: str) -> None:
    assert is_stop_word(text)


@pytest.mark.parametrize(
    "text",
    [
        "please don't stop",
        "stop by our booth",
        "The end of the quarter",
        "START",
        "stop?? why",
        "end of day pls",
    ],
)
def test_not_stop_words(text: str) -> None:
    assert not is_stop_word(text)


def test_quoted_history_is_not_read_as_the_reply() -> None:
    reply = "Sounds good, let's talk Tuesday.\n\nOn Mon, Jan 6, 2025 at 9:00 AM Agent <a@x.com> wrote:\n> not interested?"
    assert strip_quoted(reply) == "Sounds good, let's talk Tuesday."
    assert RuleClassifier().classify(reply).category == "interested"
    assert RuleClassifier().classify("> unsubscribe\nYes please send details").category == "interested"


@pytest.mark.parametrize(
    ("status", "reported", "expected"),
    [
        ("5.1.1", "hard_bounce", "hard_bounce"),
        ("5.2.2", "hard_bounce", "soft_bounce"),
        ("4.2.2", "hard_bounce", "soft_bounce"),
        ("4.7.1", "hard_bounce", "soft_bounce"),
        ("5.7.1", "hard_bounce", "sender_block"),
        ("5.7.26", "soft_bounce", "sender_block"),
        # the provider's severity wins upward: a code never makes a transient bounce hard
        ("5.1.1", "soft_bounce", "soft_bounce"),
        ("5.1.2", "soft_bounce", "soft_bounce"),
        (None, "soft_bounce", "soft_bounce"),
        ("garbage", "hard_bounce", "hard_bounce"),
    ],
)
def test_status_codes(status: str | None, reported: str, expected: str) -> None:
    assert classify_status(status, reported) == expected  # type: ignore[arg-type]


def test_dsn_text() -> None:
    assert smtp_status("smtp;550 5.1.1 user unknown") == "5.1.1"
    assert classify_dsn("550 5.1.1 The email account does not exist") == "hard_bounce"
    assert classify_dsn("452 4.2.2 Mailbox full") == "soft_bounce"
    assert classify_dsn("421 Try again later") == "soft_bounce"
    assert classify_dsn("550 Message blocked by spam filter") == "sender_block"
    assert classify_dsn(None) == "hard_bounce"


def test_a_labelled_line_without_a_field_names_the_field(tmp_path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"text": "Not now, thanks.", "category": "not_interested"}\n')
    with pytest.raises(InvalidInput, match=r"line 1: missing field 'received'"):
        load_labelled(path)
