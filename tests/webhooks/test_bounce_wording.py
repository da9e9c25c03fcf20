"""Bounce texts without a status code (Smartlead, Instantly): the wordings classify_dsn reads.

Full mailboxes in the providers' own words are soft (compliance section 2: "5.2.2 / 4.2.2 Mailbox
full ... Soft: count it, never suppress on one event"); real hard-bounce wordings stay hard, so the
soft phrases never excuse an address that does not exist; an automatic reply filed as a bounce is
never hard (Smartlead records it as an out-of-office reply). Pure functions, plus adapter parses.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.events.bounces import classify_dsn, reads_as_auto_reply
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Lead, Suppression
from leadpool.webhooks import WebhookSettings, handle, mailgun, sendgrid, ses, smartlead

from .conftest import (
    MAILGUN_BODY,
    NOW,
    SENDGRID_EVENTS,
    SES_MESSAGE,
    SMARTLEAD_BOUNCE,
    SnsSigner,
    dumps,
    mailgun_signed,
)


@pytest.mark.parametrize(
    "text",
    [
        # Outlook / Exchange Online
        "The recipient's mailbox is full and can't accept messages now. Please try resending this message later.",
        "The recipient\u2019s mailbox is full and can\u2019t accept messages now.",
        "Mailbox size limit exceeded",
        "The recipient's mailbox is over its size limit",
        # Gmail
        "The recipient's inbox is out of storage space. Please try resending your message later.",
        "The email account that you tried to reach is over quota.",
        "The recipient's inbox is full",
        # Yahoo
        "Mailbox quota exceeded",
        "user is over quota",
        "This user doesn't have enough space in the mailbox: mailbox full",
        # generic / RFC 5321 texts
        "Requested action not taken: insufficient system storage",
        "Requested mail action aborted: exceeded storage allocation",
        "quota exceeded",
        "insufficient storage",
        "mailbox full",
        "Mailbox is full",
        "over quota",
        "Disk quota exceeded",
        "There is not enough storage space for this user",
        "The recipient has a full mailbox",
        "Temporary local problem, please try again later",
    ],
)
def test_full_mailbox_wordings_are_soft(text: str) -> None:
    assert classify_dsn(text) == "soft_bounce"
    assert not reads_as_auto_reply(text)


@pytest.mark.parametrize(
    "text",
    [
        "550 5.1.1 user unknown",
        "mailbox does not exist",
        "The mailbox doesn't exist",
        "no such user",
        "No such user here",
        "address rejected",
        "Recipient address rejected: User unknown in virtual mailbox table",
        "550 Requested action not taken: mailbox unavailable",
        "The email account that you tried to reach does not exist.",
        (
            "Address not found. Your message wasn't delivered to x@example.com because the address "
            "couldn't be found, or is unable to receive mail."
        ),
        (
            "The email address you entered couldn't be found. Please check the recipient's email "
            "address and try to resend the message."
        ),
        (
            "Delivery has failed to these recipients or groups: x@example.com. The email address you "
            "entered couldn't be found."
        ),
        "This account has been disabled or discontinued",
        "Invalid recipient",
        "unknown user",
        # a bounce that merely mentions an absence is still a failed delivery
        "Undeliverable: Out of office. The mailbox does not exist.",
        "",
    ],
)
def test_real_hard_bounce_wordings_stay_hard(text: str) -> None:
    assert classify_dsn(text) == "hard_bounce"
    assert not reads_as_auto_reply(text)


def test_codes_still_decide_before_words() -> None:
    assert classify_dsn("550 5.1.1 mailbox full? no: user unknown") == "hard_bounce"
    assert classify_dsn("552 5.2.2 The email account that you tried to reach is over quota") == "soft_bounce"
    assert classify_dsn("452 mailbox is full") == "soft_bounce"
    assert classify_dsn("550 5.7.1 Message rejected, mailbox full") == "sender_block"
    assert classify_dsn("550 Message blocked by spam filter") == "sender_block"
    # a message too large is not a full mailbox
    assert classify_dsn("552 5.3.4 Message size exceeds fixed maximum message size") == "sender_block"


@pytest.mark.parametrize(
    "text",
    [
        "Automatic reply: Quick question. I am out of the office until Monday 6 January.",
        "Auto-Reply: I'm on annual leave until the 14th with no access to email.",
        "Thanks for your email. I am currently away and will be back on Monday.",
        "I'm on vacation until 3 Feb; for urgent matters call 555 421 1234.",
        "OOO until Friday",
        "Abwesenheitsnotiz: Ich bin bis zum 6.1. nicht im B\u00fcro.",
        "R\u00e9ponse automatique : je suis absent du bureau jusqu'au 6 janvier.",
        "Respuesta autom\u00e1tica: estoy fuera de la oficina hasta el lunes.",
    ],
)
def test_an_auto_reply_is_never_hard(text: str) -> None:
    assert reads_as_auto_reply(text)
    assert classify_dsn(text) == "soft_bounce"


@pytest.mark.parametrize(
    "text",
    [
        "550 Automatic reply: out of office",  # an SMTP reply code opens it: a DSN
        "5.1.1 out of office",
        "Mail delivery failed: returning message to sender. Out of office until Monday.",
        "Undeliverable: Automatic reply",
        "Quick question",
    ],
)
def test_what_is_not_an_auto_reply(text: str) -> None:
    assert not reads_as_auto_reply(text)


def _smartlead(text: str) -> list[tuple[str, str | None, Any]]:
    body = {
        **SMARTLEAD_BOUNCE,
        "bounce_message": {**SMARTLEAD_BOUNCE["bounce_message"], "text": text, "html": ""},
    }
    return [(e.type, e.category, e.detail.get("reported_as")) for e in smartlead.parse(dumps(body), {})]


def test_smartlead_files_an_auto_reply_bounce_as_an_out_of_office_reply() -> None:
    assert _smartlead("Automatic reply: I am out of the office until Monday 6 January.") == [
        ("reply", "out_of_office", "bounce")
    ]
    assert _smartlead("The recipient's mailbox is full and can't accept messages now.") == [
        ("soft_bounce", None, None)
    ]
    assert _smartlead("mailbox does not exist") == [("hard_bounce", None, None)]


def test_a_sendgrid_block_is_a_sender_block_whatever_it_says() -> None:
    base = SENDGRID_EVENTS[0]
    for change in (
        {"type": "blocked", "bounce_classification": "Unclassified"},
        {"type": "blocked", "bounce_classification": "Invalid Address", "status": "5.1.1"},
        {"type": "blocked", "bounce_classification": "Technical Failure", "status": "4.2.2"},
    ):
        [event] = sendgrid.parse(dumps([{**base, **change}]), {})
        assert event.type == "sender_block" and "smtp_status" not in event.detail, change
    [hard] = sendgrid.parse(dumps([base]), {})
    assert hard.type == "hard_bounce"


def _mailgun(severity: str, code: Any, message: str, reason: str = "generic") -> str:
    body = copy.deepcopy(MAILGUN_BODY)
    body["event-data"].update({"severity": severity, "reason": reason})
    body["event-data"]["delivery-status"].update({"code": code, "message": message})
    [event] = mailgun.parse(mailgun_signed({"event-data": body["event-data"]}), {})
    return event.type


def test_mailgun_reads_the_basic_code_when_there_is_no_enhanced_one() -> None:
    assert _mailgun("permanent", 421, "Too many concurrent SMTP connections") == "soft_bounce"
    assert _mailgun("permanent", "450", "Requested mail action not taken") == "soft_bounce"
    assert _mailgun("permanent", 550, "Requested action not taken: mailbox unavailable") == "hard_bounce"
    assert _mailgun("permanent", 550, "5.1.1 user unknown", reason="bounce") == "hard_bounce"
    # an enhanced code is read by recording, as before (a 5.1.1 stays hard whatever the basic code)
    assert _mailgun("permanent", 421, "5.1.1 user unknown") == "hard_bounce"
    assert _mailgun("temporary", 550, "try later") == "soft_bounce"
    # a code of another shape says nothing: the severity decides, as before
    for odd in (True, "4xx", "42", 4.21, None, [421], {"code": 421}):
        assert _mailgun("permanent", odd, "Requested action not taken") == "hard_bounce", odd


def test_ses_not_spam_feedback_is_skipped_other_complaints_are_not(sns_signer: SnsSigner) -> None:
    def parsed(feedback: str | None) -> list[str]:
        complaint: dict[str, Any] = {
            "complainedRecipients": [{"emailAddress": "bounced.person@example.com"}],
            "timestamp": "2025-01-01T00:00:00.000Z",
            "feedbackId": "fb-ns-1",
        }
        if feedback is not None:
            complaint["complaintFeedbackType"] = feedback
        message = {"eventType": "Complaint", "complaint": complaint, "mail": SES_MESSAGE["mail"]}
        return [e.type for e in ses.parse(dumps(sns_signer.envelope(message)), {})]

    assert parsed("not-spam") == []
    assert parsed("Not-Spam") == []
    assert parsed("abuse") == ["complaint"]
    assert parsed(None) == ["complaint"]


def test_a_smartlead_auto_reply_bounce_pauses_the_person_and_suppresses_nothing(
    db: Database, secrets: WebhookSettings
) -> None:
    email = SMARTLEAD_BOUNCE["to_email"]
    with session_scope(db) as s:
        s.add(Lead(email=email, email_status="verified", time_zone="America/New_York"))
    text = "Automatic reply: I am out of the office until Monday 6 January with limited access to email."
    body = {**SMARTLEAD_BOUNCE, "bounce_message": {"text": text, "html": ""}}
    with session_scope(db) as s:
        result = handle("smartlead", {}, dumps(body), session=s, settings=secrets, now=NOW)
    [outcome] = result.outcomes
    assert outcome.type == "reply" and outcome.category == "out_of_office"
    assert "lead:paused" in outcome.effects and not any("bounce" in e for e in outcome.effects)
    with session_scope(db) as s:
        lead = s.query(Lead).filter(Lead.email == email).one()
        assert lead.email_bounced_at is None and lead.replied_at is None
        assert lead.paused_until is not None and lead.paused_until.date().isoformat() == "2025-01-06"


@pytest.mark.parametrize(
    ("address", "dsn"),
    [
        (
            "pat@policygenius.example",
            (
                "Address not found. Your message wasn't delivered to pat@policygenius.example because "
                "the address couldn't be found, or is unable to receive mail."
            ),
        ),
        ("jo@acme.example", "550 No such user here. Remote host: mx1.spamexperts.com"),
        (
            "jo@unblocked.example",
            "Delivery to the following recipient failed permanently: jo@unblocked.example - no such user",
        ),
        ("jo@acme2.example", "Message of 412 KB for jo@acme2.example rejected: 550 user unknown"),
    ],
)
def test_an_unknown_user_dsn_is_hard_whatever_its_addresses_and_hosts_read_like(
    db: Database, secrets: WebhookSettings, address: str, dsn: str
) -> None:
    """Policy words are whole words read with the DSN's addresses and host names left out
    (``policygenius.example``, SpamExperts' ``mx1.spamexperts.com`` relay, ``unblocked.example``),
    unknown-user wording is read before them, and a basic reply code only opening a line ("412 KB"
    is a size, not a 4xx): each is a hard bounce that suppresses the address. Compliance reference
    section 2 (5.x.x "a permanent failure"; 5.1.1 "Suppress now (hard)"), section 1.4 Smartlead
    ("parse the DSN text in ``bounce_message`` yourself")."""
    body: dict[str, Any] = {
        **SMARTLEAD_BOUNCE,
        "to_email": address,
        "bounce_message": {
            "message_id": "<dsn@mx>",
            "text": dsn,
            "html": "",
            "time": "2025-01-01T00:00:00.000Z",
        },
    }
    with session_scope(db) as s:
        result = handle("smartlead", {}, dumps(body), session=s, settings=secrets, now=NOW)
    assert [o.type for o in result.outcomes] == ["hard_bounce"]
    h = address_hmac("email", address, get_settings().resolved_secret_key())
    with session_scope(db) as s:
        kinds = s.execute(select(Suppression.kind).where(Suppression.value_hmac == h)).scalars().all()
    assert "email_bounced" in kinds


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("550 Message blocked by spam filter", "sender_block"),
        ("554 Rejected: listed at Spamhaus", "sender_block"),
        ("550 Your message was blocked.Please contact the postmaster", "sender_block"),
        ("550 Rejected by policy; contact spam@acme.example", "sender_block"),
        ("550 Mail from spam.acme.example refused", "hard_bounce"),  # a host name, no policy word
        ("452 Too many recipients", "soft_bounce"),
    ],
)
def test_policy_words_and_reply_codes_in_free_text(text: str, kind: str) -> None:
    assert classify_dsn(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "host mx.example.com[203.0.113.5] said: 421 Service not available, closing transmission channel",
        "The mail server responded: 450 Requested mail action not taken: mailbox unavailable",
        "Delivery failed: 451 Requested action aborted: local error in processing",
    ],
)
def test_a_temporary_reply_code_quoted_mid_line_is_soft(text: str) -> None:
    """Postfix's "host ... said: 4xx" and "responded: 4xx" quote the server's temporary answer
    mid-line (reading only a code opening a line, these fell through to hard: suppressed for good)."""
    assert classify_dsn(text) == "soft_bounce", text
