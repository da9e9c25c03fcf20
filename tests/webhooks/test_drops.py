"""A provider's *drop*: the message was never sent, because the provider already had the address
on its suppression list (SendGrid ``dropped``, Mailgun ``failed`` with a ``suppress-*`` reason,
SES ``OnAccountSuppressionList``, as a bounce subtype or a complaint's ``complaintSubType``). The
person is suppressed as the drop says, but nothing was sent to bounce or to complain about: the
event is marked ``detail.dropped`` and counts in no campaign or mailbox guard (neither when it
arrives nor when a later bounce or complaint counts the window), and pauses no company.

Compliance reference, section 1.1: "Dropped / blocked before sending" is its own concept, distinct
from "Spam complaint" and "Hard bounce"; section 3, SES account-level list: a suppressed send
"Does **not** count toward the bounce rate".
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select
from tests.events.conftest import T0, World
from tests.webhooks.conftest import (
    MAILGUN_BODY,
    NOW,
    SES_MESSAGE,
    SendGridSigner,
    SnsSigner,
    dumps,
    mailgun_signed,
)

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Campaign, Event, Lead, Suppression
from leadpool.webhooks import WebhookSettings, handle
from leadpool.webhooks.certs import CertStore

SENDS = 50


@pytest.fixture
def world(db: Database) -> World:
    return World(db)


def _campaign_with_sends(world: World) -> tuple[int, list[tuple[str, str]]]:
    agency = world.agency()
    campaign = world.campaign(agency, channels=["email"])
    sent: list[tuple[str, str]] = []
    for i in range(SENDS):
        lead = world.lead()
        world.own(lead, agency, campaign)
        world.touch(lead, campaign, agency, message_id=f"drop-msg-{i}", at=T0)
        with session_scope(world.db) as s:
            sent.append((s.get(Lead, lead).email, f"drop-msg-{i}"))  # type: ignore[union-attr]
    return campaign, sent


def _status(db: Database, campaign: int) -> tuple[str, str | None]:
    with session_scope(db) as s:
        c = s.get(Campaign, campaign)
        return c.status, c.paused_reason  # type: ignore[union-attr]


def _suppressions(db: Database, email: str) -> list[str]:
    h = address_hmac("email", email, get_settings().resolved_secret_key())
    with session_scope(db) as s:
        return list(s.execute(select(Suppression.kind).where(Suppression.value_hmac == h)).scalars())


def _ses(
    db: Database, signer: SnsSigner, secrets: WebhookSettings, certs: CertStore, msg: dict[str, Any], n: str
) -> list[str]:
    env = signer.envelope(msg, message_id=f"sns-{n}")
    with session_scope(db) as s:
        result = handle(
            "ses", signer.headers(env), dumps(env), session=s, settings=secrets, now=NOW, certs=certs
        )
    assert result.events_recorded == 1
    return result.outcomes[0].effects


def _ses_bounce(email: str, mid: str, n: str, subtype: str) -> dict[str, Any]:
    msg: dict[str, Any] = copy.deepcopy(SES_MESSAGE)
    msg["bounce"]["bounceSubType"] = subtype
    msg["bounce"]["feedbackId"] = f"fb-{n}"
    msg["bounce"]["bouncedRecipients"] = [
        {
            "emailAddress": email,
            "action": "failed",
            "diagnosticCode": "Amazon SES did not send the message to this address because it is on the "
            "suppression list for your account.",
        }
    ]
    msg["mail"]["messageId"] = mid
    msg["mail"]["destination"] = [email]
    return msg


def _ses_complaint(email: str, mid: str, n: str, subtype: str | None) -> dict[str, Any]:
    complaint: dict[str, Any] = {
        "complainedRecipients": [{"emailAddress": email}],
        "timestamp": "2025-01-01T00:00:00.000Z",
        "feedbackId": f"fb-c-{n}",
    }
    if subtype:
        complaint["complaintSubType"] = subtype
    else:
        complaint["complaintFeedbackType"] = "abuse"
    mail = {**SES_MESSAGE["mail"], "messageId": mid, "destination": [email]}
    return {"eventType": "Complaint", "complaint": complaint, "mail": mail}


def test_sendgrid_drops_of_spam_reporting_addresses_suppress_but_pause_no_campaign(
    db: Database, world: World, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    campaign, sent = _campaign_with_sends(world)
    drops = [
        {
            "email": email,
            "timestamp": 1735689600,
            "event": "dropped",
            "reason": "Spam Reporting Address",
            "sg_event_id": f"drop-{i}",
            "sg_message_id": f"{mid}.filter0001.1.A.0",
        }
        for i, (email, mid) in enumerate(sent[:2])
    ]
    body = dumps(drops)
    with session_scope(db) as s:
        result = handle("sendgrid", sendgrid_signer.headers(body), body, session=s, settings=secrets, now=NOW)
    assert result.events_recorded == 2
    assert all("company:paused" not in o.effects for o in result.outcomes)
    # nothing was sent and nobody complained about this campaign's mail: it must keep running
    assert _status(db, campaign) == ("active", None)
    assert "complained" in _suppressions(db, sent[0][0])  # the person is still suppressed
    with session_scope(db) as s:
        assert [e.detail["dropped"] for e in s.scalars(select(Event))] == [True, True]  # type: ignore[index]


def test_ses_on_account_suppression_list_drops_count_in_no_bounce_guard(
    db: Database, world: World, sns_signer: SnsSigner, secrets: WebhookSettings, cert_store: CertStore
) -> None:
    campaign, sent = _campaign_with_sends(world)
    for i, (email, mid) in enumerate(sent[:2]):
        effects = _ses(
            db,
            sns_signer,
            secrets,
            cert_store,
            _ses_bounce(email, mid, f"d{i}", "OnAccountSuppressionList"),
            f"d{i}",
        )
        assert "suppressed:email_bounced" in effects
    # SES never attempted these sends (reference: not counted toward the bounce rate)
    assert _status(db, campaign) == ("active", None)
    # a real bounce afterwards counts 1 in 50 (2%), not 3 in 50: under the 3% campaign limit and
    # not above the mailbox's 2%
    email, mid = sent[2]
    _ses(db, sns_signer, secrets, cert_store, _ses_bounce(email, mid, "real", "General"), "real")
    assert _status(db, campaign) == ("active", None)


def test_ses_complaints_of_suppressed_addresses_count_in_no_complaint_guard(
    db: Database, world: World, sns_signer: SnsSigner, secrets: WebhookSettings, cert_store: CertStore
) -> None:
    campaign, sent = _campaign_with_sends(world)
    for i, (email, mid) in enumerate(sent[:2]):
        msg = _ses_complaint(email, mid, f"d{i}", "OnAccountSuppressionList")
        assert "suppressed:complained" in _ses(db, sns_signer, secrets, cert_store, msg, f"c{i}")
    # one real complaint: with the drops counted it would be 3 (at least 2, above 0.3%)
    email, mid = sent[2]
    _ses(db, sns_signer, secrets, cert_store, _ses_complaint(email, mid, "real", None), "real")
    assert _status(db, campaign) == ("active", None)


def test_mailgun_suppress_reasons_are_drops(db: Database, world: World, secrets: WebhookSettings) -> None:
    campaign, sent = _campaign_with_sends(world)
    for i, (email, mid) in enumerate(sent[:2]):
        body = copy.deepcopy(MAILGUN_BODY)
        data = body["event-data"]
        data.update({"id": f"mg-drop-{i}", "recipient": email, "reason": "suppress-complaint"})
        data["message"] = {"headers": {"message-id": mid, "from": "agent@example.com"}}
        raw = mailgun_signed(
            {k: v for k, v in body.items() if k != "signature"}, token=f"drop{i}".ljust(50, "x")
        )
        with session_scope(db) as s:
            result = handle("mailgun", {}, raw, session=s, settings=secrets, now=NOW)
        assert [o.type for o in result.outcomes] == ["complaint"]
    assert _status(db, campaign) == ("active", None)
