"""Peer complaints about bounce handling (peers.md 2.2) replayed through the Smartlead webhook.

Smartlead sends no hard/soft field: leadpool reads the DSN text in ``bounce_message`` (codes first,
then wording). compliance section 2: "5.2.2 / 4.2.2 Mailbox full ... Soft: count it, never
suppress on one event"; Postmark: "SoftBounce/Transient do not deactivate"; peers.md 2.2:
"listmonk showed a 4% bounce rate where SES showed 0.6%, because OOO replies and soft bounces
were counted (#1334)", "Mautic put soft bounces into DNC (#9190)".
"""

from __future__ import annotations

from typing import Any

import pytest

from leadpool.db import Database, session_scope
from leadpool.models import Lead
from leadpool.webhooks import WebhookSettings, handle
from leadpool.webhooks.certs import CertStore

from .conftest import (
    MAILGUN_BODY,
    NOW,
    SES_MESSAGE,
    SMARTLEAD_BOUNCE,
    SendGridSigner,
    SnsSigner,
    dumps,
    mailgun_signed,
)

EMAIL = "bounced.person@example.com"


def _deliver(db: Database, secrets: WebhookSettings, text: str) -> tuple[Any, list[str]]:
    with session_scope(db) as s:
        s.add(Lead(email=EMAIL, email_status="verified", time_zone="America/New_York"))
    body = {
        **SMARTLEAD_BOUNCE,
        "bounce_message": {**SMARTLEAD_BOUNCE["bounce_message"], "text": text, "html": ""},
    }
    with session_scope(db) as s:
        result = handle("smartlead", {}, dumps(body), session=s, settings=secrets, now=NOW)
    with session_scope(db) as s:
        lead = s.query(Lead).filter(Lead.email == EMAIL).one()
        return lead.email_bounced_at, [e for o in result.outcomes for e in o.effects]


@pytest.mark.parametrize(
    "text",
    [
        # Outlook / Exchange Online's own wording for a full mailbox (no status code in the text part)
        (
            "Delivery has failed to these recipients or groups: bounced.person@example.com. The "
            "recipient's mailbox is full and can't accept messages now. Please try resending this "
            "message later, or contact the recipient directly."
        ),
        # Gmail's wording
        (
            "Your message wasn't delivered to bounced.person@example.com because the recipient's "
            "inbox is out of storage space. Please try resending your message later."
        ),
    ],
    ids=["outlook", "gmail"],
)
def test_a_full_mailbox_reported_in_words_is_a_soft_bounce(
    db: Database, secrets: WebhookSettings, text: str
) -> None:
    """A Smartlead bounce whose DSN says, in the provider's own words, that the mailbox is full (and
    to try again later) is recorded as a hard bounce: the address is suppressed for every agency
    for good after one temporary failure. classify_dsn's wording list has "mailbox full" and "try
    again later" but real DSNs say "mailbox is full", "inbox is out of storage space", "try
    resending ... later". Expected: a soft bounce (counted, not suppressing). Fault:
    events/bounces.py classify_dsn (literal phrases, then everything else defaults to hard).
    """
    bounced_at, effects = _deliver(db, secrets, text)
    assert bounced_at is None, f"a full mailbox suppressed the address for good: effects {effects}"


def test_an_auto_reply_reported_as_a_bounce_suppresses_nothing(
    db: Database, secrets: WebhookSettings
) -> None:
    """listmonk #1334 (peers.md 2.2): out-of-office replies counted as bounces. Smartlead detects
    bounces by reading the mailbox, and an auto-reply that reaches it as EMAIL_BOUNCE (its text an
    out-of-office notice, no SMTP code, no failure wording) is classified as a hard bounce by the
    fallback: the person, who is only on holiday, is suppressed for every agency, and the bounce
    counts toward the campaign's bounce guard. Expected: not a hard bounce (an out-of-office pause,
    or at most a soft bounce, as Postmark's AutoResponder bounce type is mapped). Fault:
    events/bounces.py classify_dsn returns ``hard_bounce`` for any text it does not recognise.
    """
    bounced_at, effects = _deliver(
        db,
        secrets,
        "Automatic reply: Quick question. I am out of the office until Monday 6 January with limited "
        "access to email. For urgent matters please contact my colleague.",
    )
    assert bounced_at is None, f"an out-of-office auto-reply hard-bounced the address: effects {effects}"


def test_three_sendgrid_blocks_do_not_suppress_the_recipient(
    db: Database, secrets: WebhookSettings, sendgrid_signer: SendGridSigner
) -> None:
    """compliance section 3, SendGrid: "Blocks are not suppressions; later sends are attempted";
    section 2: "Send 5.7.x, blocks and Reputation/Content classifications to sender-health metrics,
    not to recipient suppression". The adapter's own docstring: type ``blocked`` is "a soft bounce
    (never hard: blocks are not suppressions)". But soft bounces add up: three blocks of three
    messages (a receiving server refusing the sender's IP for a few weeks, classification
    "Unclassified", no status code) reach the soft-bounce threshold and the recipient is
    suppressed as hard bounced for every agency, for good: a sender's problem becomes the
    person's. Expected: email_bounced_at stays empty. Fault: webhooks/sendgrid.py _type maps
    ``blocked`` to ``soft_bounce``, which events/record.py counts toward the hard threshold.
    """
    with session_scope(db) as s:
        s.add(Lead(email=EMAIL, email_status="verified", time_zone="America/New_York"))
    day = 86400
    events = [
        {
            "email": EMAIL,
            "timestamp": 1735689600 - (20 - 7 * i) * day,
            "event": "bounce",
            "type": "blocked",
            "bounce_classification": "Unclassified",
            "reason": "550 Message rejected: sending host is not allowed to deliver here",
            "sg_event_id": f"YmxvY2staW{i}",
            "sg_message_id": f"blockmsg{i}.filter0001.1.A.0",
        }
        for i in range(3)
    ]
    body = dumps(events)
    with session_scope(db) as s:
        result = handle("sendgrid", sendgrid_signer.headers(body), body, session=s, settings=secrets, now=NOW)
    effects = [e for o in result.outcomes for e in o.effects]
    with session_scope(db) as s:
        bounced_at = s.query(Lead).filter(Lead.email == EMAIL).one().email_bounced_at
    assert bounced_at is None, f"three blocks suppressed the recipient: effects {effects}"


def test_an_ses_not_spam_feedback_report_is_no_complaint(
    db: Database, secrets: WebhookSettings, sns_signer: SnsSigner, cert_store: CertStore
) -> None:
    """compliance section 1.2: the SES complaint object carries ``complaintFeedbackType``. SES
    documents the ARF feedback types, among them ``not-spam``: the reporting mailbox provider says
    the message is *not* spam (a correction of an earlier classification). leadpool records every
    SES Complaint notification as a complaint whatever its feedback type: the person is suppressed
    on every channel for every agency, for good ("complained"), and their colleagues are paused 30
    days, on a report that says they did not complain. peers.md 2.2: "no false blocklisting".
    Expected: a not-spam report is stored but suppresses nobody. Fault: webhooks/ses.py parse
    (Complaint -> complaint, feedback type only copied into detail).
    """
    with session_scope(db) as s:
        s.add(Lead(email=EMAIL, email_status="verified", time_zone="America/New_York"))
    message = {
        "eventType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": EMAIL}],
            "timestamp": "2025-01-01T00:00:00.000Z",
            "feedbackId": "0100019f-fixture-notspam-0001",
            "complaintFeedbackType": "not-spam",
            "userAgent": "Yahoo!-Mail-Feedback/2.0",
        },
        "mail": SES_MESSAGE["mail"],
    }
    env = sns_signer.envelope(message)
    with session_scope(db) as s:
        result = handle(
            "ses", sns_signer.headers(env), dumps(env), session=s, settings=secrets, now=NOW, certs=cert_store
        )
    effects = [e for o in result.outcomes for e in o.effects]
    with session_scope(db) as s:
        complained_at = s.query(Lead).filter(Lead.email == EMAIL).one().complained_at
    assert complained_at is None, f"a not-spam feedback report made the person a complainer: {effects}"


def test_a_mailgun_message_given_up_after_4xx_answers_is_a_soft_bounce(
    db: Database, secrets: WebhookSettings
) -> None:
    """compliance section 3, Mailgun: "Retries 4xx for hours, then a permanent failure ("reached
    retry limit")"; section 2: 4.x.x (421/450/451, greylisting) is transient, "Retry (the ESP does
    this); count per recipient", and the suggested policy suppresses on "Mailgun failed+permanent
    with reason ``bounce``". When Mailgun gives up on a message whose every attempt got a 4xx, it
    reports ``failed`` / ``permanent`` with a reason other than ``bounce`` and the last 4xx as the
    delivery status. leadpool maps every permanent failure to a hard bounce and reads only enhanced
    codes (x.y.z) from the text, never ``delivery-status.code``: a recipient whose server answered
    "421 Too many connections" for a few hours is suppressed for every agency, for good.
    Expected: a soft bounce (the server never refused the address). Fault: webhooks/mailgun.py
    _type / parse (severity alone decides; the basic SMTP code is ignored).
    """
    with session_scope(db) as s:
        s.add(Lead(email=EMAIL, email_status="verified", time_zone="America/New_York"))
    data = {
        **MAILGUN_BODY["event-data"],
        "id": "Fx1tUrEbOuNcE0002timeout",
        "severity": "permanent",
        "reason": "generic",
        "delivery-status": {
            "code": 421,
            "attempt-no": 7,
            "mx-host": "mx.example.com",
            "description": "",
            "message": "Too many concurrent SMTP connections; please try again later",
        },
    }
    body = mailgun_signed({"event-data": data})
    with session_scope(db) as s:
        result = handle("mailgun", {}, body, session=s, settings=secrets, now=NOW)
    effects = [e for o in result.outcomes for e in o.effects]
    with session_scope(db) as s:
        bounced_at = s.query(Lead).filter(Lead.email == EMAIL).one().email_bounced_at
    assert bounced_at is None, f"4xx answers until Mailgun gave up suppressed the address: {effects}"
