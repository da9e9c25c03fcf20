"""SendGrid, Mailgun and SES (SNS): real signatures, forged ones, missing ones, stale ones, replays."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.events import record_event
from leadpool.events.senders import sender_blocks
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Event, Lead, Suppression
from leadpool.webhooks import (
    WebhookReplay,
    WebhookResult,
    WebhookSettings,
    WebhookUnauthorized,
    handle,
    mailgun,
    prune_receipts,
    sendgrid,
    ses,
)
from leadpool.webhooks.certs import CertStore
from leadpool.webhooks.common import Unusable

from .conftest import (
    CERT_URL,
    MAILGUN_BODY,
    NOW,
    SENDGRID_EVENTS,
    SES_MESSAGE,
    SendGridSigner,
    SnsSigner,
    dumps,
    later,
    mailgun_signed,
)


def bounced_suppressed(db: Database, email: str = "bounced.person@example.com") -> bool:
    h = address_hmac("email", email, get_settings().resolved_secret_key())
    with session_scope(db) as s:
        kinds = s.execute(select(Suppression.kind).where(Suppression.value_hmac == h)).scalars().all()
    return "email_bounced" in kinds


def run(
    db: Database, provider: str, headers: dict[str, str], body: bytes, secrets: WebhookSettings, **kw: Any
) -> WebhookResult:
    with session_scope(db) as s:
        return handle(provider, headers, body, session=s, settings=secrets, now=kw.pop("now", NOW), **kw)


# --- SendGrid -------------------------------------------------------------------------------------


def test_sendgrid_fixture_bounce_is_a_hard_bounce(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    body = dumps(SENDGRID_EVENTS)
    result = run(db, "sendgrid", sendgrid_signer.headers(body), body, secrets)
    assert (result.events_recorded, result.duplicates, result.rejected) == (1, 0, [])
    assert bounced_suppressed(db)
    [event] = sendgrid.parse(body, {})
    assert event.provider_event_id == "Zml4dHVyZS1ib3VuY2UtMDAwMQ"
    assert event.provider_message_id == "fixture0001"
    assert event.detail["smtp_status"] == "5.1.1" and event.detail["tenant_id"] == "agency-42"


def test_sendgrid_maps_blocked_dropped_and_the_rest() -> None:
    base = SENDGRID_EVENTS[0]
    variants: list[tuple[dict[str, Any], str | None]] = [
        ({"type": "blocked", "bounce_classification": "Reputation", "status": None}, "sender_block"),
        # a block is the sender's problem whatever its classification: never counted against the recipient
        ({"type": "blocked", "bounce_classification": "Mailbox Unavailable", "status": None}, "sender_block"),
        ({"type": "blocked", "bounce_classification": "Unclassified", "status": "5.1.1"}, "sender_block"),
        ({"event": "dropped", "reason": "Bounced Address"}, "hard_bounce"),
        ({"event": "dropped", "reason": "Unsubscribed Address"}, "unsubscribe"),
        ({"event": "dropped", "reason": "Spam Reporting Address"}, "complaint"),
        ({"event": "dropped", "reason": "Exceeded Rate Limit"}, None),
        ({"event": "spamreport"}, "complaint"),
        ({"event": "group_unsubscribe"}, "unsubscribe"),
        ({"event": "deferred"}, None),
        ({"event": "processed"}, None),
        ({"event": "open"}, "opened"),
    ]
    for change, expected in variants:
        item = {k: v for k, v in {**base, **change}.items() if v is not None}
        events = sendgrid.parse(dumps([item]), {})
        assert [e.type for e in events] == ([expected] if expected else []), change


def test_sendgrid_rejects_forged_missing_stale_and_replayed(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    body = dumps(SENDGRID_EVENTS)
    headers = sendgrid_signer.headers(body)
    with pytest.raises(WebhookUnauthorized, match="unsigned"):
        run(db, "sendgrid", {}, body, secrets)
    tampered = body.replace(b"bounced.person", b"someone.else")
    with pytest.raises(WebhookUnauthorized, match="does not match"):
        run(db, "sendgrid", headers, tampered, secrets)
    other = SendGridSigner()
    with pytest.raises(WebhookUnauthorized, match="does not match"):
        run(db, "sendgrid", other.headers(body), body, secrets)
    with pytest.raises(WebhookUnauthorized, match="stale"):
        run(db, "sendgrid", headers, body, secrets, now=later(301))
    assert not bounced_suppressed(db)  # nothing rejected left a trace
    run(db, "sendgrid", headers, body, secrets)
    with pytest.raises(WebhookReplay):
        run(db, "sendgrid", headers, body, secrets)
    # a fresh, re-signed delivery of the same events (SendGrid's retry) is accepted as duplicates
    again = run(db, "sendgrid", sendgrid_signer.headers(body, timestamp="1735689610"), body, secrets)
    assert (again.events_recorded, again.duplicates) == (0, 1)


def test_sendgrid_with_no_key_configured_fails_closed(db: Database, sendgrid_signer: SendGridSigner) -> None:
    body = dumps(SENDGRID_EVENTS)
    with pytest.raises(WebhookUnauthorized, match="no verification key"):
        run(db, "sendgrid", sendgrid_signer.headers(body), body, WebhookSettings())


# --- Mailgun --------------------------------------------------------------------------------------


def test_mailgun_reference_fixture_verifies_with_its_key(db: Database, secrets: WebhookSettings) -> None:
    body = dumps(MAILGUN_BODY)  # the reference's real HMAC, unchanged
    result = run(db, "mailgun", {}, body, secrets)
    assert result.events_recorded == 1 and bounced_suppressed(db)
    [event] = mailgun.parse(body, {})
    assert event.type == "hard_bounce" and event.detail["smtp_status"] == "5.1.1"
    assert event.provider_message_id == "fixture-0001@mg.example.com"
    assert event.sender == "agent@mg.example.com"  # the mailbox, as the gate knows senders


def test_mailgun_temporary_failure_is_soft(secrets: WebhookSettings) -> None:
    body = copy.deepcopy(MAILGUN_BODY)
    body["event-data"].update({"severity": "temporary", "reason": "generic"})
    body["event-data"]["delivery-status"].update(
        {"code": 450, "retry-seconds": 300, "message": "4.2.2 mailbox full"}
    )
    [event] = mailgun.parse(dumps(body), {})
    assert event.type == "soft_bounce" and event.detail["smtp_status"] == "4.2.2"


def test_a_mailgun_policy_rejection_counts_against_the_sending_mailbox(db: Database) -> None:
    body = copy.deepcopy(MAILGUN_BODY)  # From: "Agent <agent@mg.example.com>"
    body["event-data"]["delivery-status"]["message"] = "5.7.1 Message rejected due to local policy"
    [event] = mailgun.parse(dumps(body), {})
    assert event.sender == "agent@mg.example.com"
    with session_scope(db) as s:
        assert record_event(s, event).type == "sender_block"
    with session_scope(db) as s:
        assert sender_blocks(s, "agent@mg.example.com", since=event.occurred_at) == 1


def test_mailgun_rejects_forged_missing_stale_and_replayed(db: Database, secrets: WebhookSettings) -> None:
    forged = copy.deepcopy(MAILGUN_BODY)
    forged["signature"]["signature"] = "0" * 64
    with pytest.raises(WebhookUnauthorized, match="does not match"):
        run(db, "mailgun", {}, dumps(forged), secrets)
    forged["signature"]["signature"] = "é" * 64  # not hex at all: still a 401, not a crash
    with pytest.raises(WebhookUnauthorized, match="does not match"):
        run(db, "mailgun", {}, dumps(forged), secrets)
    unsigned = {k: v for k, v in MAILGUN_BODY.items() if k != "signature"}
    with pytest.raises(WebhookUnauthorized, match="unsigned"):
        run(db, "mailgun", {}, dumps(unsigned), secrets)
    with pytest.raises(WebhookUnauthorized, match="unsigned"):
        run(db, "mailgun", {}, b"not json", secrets)
    with pytest.raises(WebhookUnauthorized, match="stale"):
        run(db, "mailgun", {}, dumps(MAILGUN_BODY), secrets, now=later(9 * 3600 + 1))
    run(db, "mailgun", {}, dumps(MAILGUN_BODY), secrets)
    with pytest.raises(WebhookReplay):
        run(db, "mailgun", {}, dumps(MAILGUN_BODY), secrets)
    # a new token (Mailgun's retry) carrying the same event is a duplicate with no new effect
    retry = run(db, "mailgun", {}, mailgun_signed(MAILGUN_BODY, token="u" * 50), secrets)
    assert (retry.events_recorded, retry.duplicates) == (0, 1)


def test_malformed_but_authentic_body_is_invalid_input(db: Database, secrets: WebhookSettings) -> None:
    body = {**MAILGUN_BODY, "event-data": {**MAILGUN_BODY["event-data"], "timestamp": "yesterday"}}
    with pytest.raises(InvalidInput, match=r"event-data\.timestamp"):
        run(db, "mailgun", {}, mailgun_signed(body), secrets)
    with session_scope(db) as s:
        assert s.execute(select(Event)).first() is None


def test_unknown_provider(db: Database, secrets: WebhookSettings) -> None:
    with pytest.raises(NotFound, match="unknown webhook provider 'mailchimp'"):
        run(db, "mailchimp", {}, b"{}", secrets)


# --- SES via SNS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_fixture_bounce_verifies_with_sns_signature(
    db: Database, sns_signer: SnsSigner, cert_store: CertStore, secrets: WebhookSettings, version: str
) -> None:
    env = sns_signer.envelope(SES_MESSAGE, version=version)
    result = run(db, "ses", sns_signer.headers(env), dumps(env), secrets, certs=cert_store)
    assert result.events_recorded == 1 and bounced_suppressed(db)
    [event] = result.outcomes
    assert event.type == "hard_bounce"


def test_ses_splits_a_multi_recipient_bounce_and_maps_subtypes() -> None:
    msg = copy.deepcopy(SES_MESSAGE)
    msg["bounce"]["bouncedRecipients"].append({"emailAddress": "second@example.com", "status": "5.1.1"})
    events = ses.parse(dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps(msg)}), {})
    assert [(e.email, e.type) for e in events] == [
        ("bounced.person@example.com", "hard_bounce"),
        ("second@example.com", "hard_bounce"),
    ]
    assert len({e.provider_event_id for e in events}) == 2
    for subtype, expected in (
        ("MailboxFull", "soft_bounce"),
        ("ContentRejected", "sender_block"),
        ("General", "soft_bounce"),
    ):
        m = copy.deepcopy(SES_MESSAGE)
        m["bounce"].update({"bounceType": "Transient", "bounceSubType": subtype})
        m["bounce"]["bouncedRecipients"][0]["status"] = "4.2.2"
        [e] = ses.parse(dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps(m)}), {})
        assert e.type == expected, subtype
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "a@example.com"}, {"emailAddress": "b@example.com"}],
            "timestamp": "2025-01-01T00:00:00.000Z",
            "feedbackId": "fb-1",
            "complaintFeedbackType": "abuse",
        },
        "mail": {"messageId": "mid", "destination": ["a@example.com", "b@example.com"]},
    }
    events = ses.parse(
        dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps(complaint)}), {}
    )
    assert [(e.email, e.type) for e in events] == [
        ("a@example.com", "complaint"),
        ("b@example.com", "complaint"),
    ]


def test_ses_subscription_opt_outs_are_unsubscribes() -> None:
    """SES list management: leaving every topic (unsubscribeAll) or one topic (its status OptOut)
    is an unsubscribe, as SendGrid's group unsubscribe is; opting in, or no change, is nothing."""

    def parse(prefs: dict) -> list[tuple[str | None, str]]:
        msg = {
            "eventType": "Subscription",
            "mail": {"messageId": "mid", "destination": ["sub@example.com"]},
            "subscription": {
                "contactList": "cold",
                "timestamp": "2025-01-01T00:00:00.000Z",
                "source": "UnsubscribeHeader",
                "newTopicPreferences": prefs,
                "oldTopicPreferences": {"unsubscribeAll": False},
            },
        }
        events = ses.parse(dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps(msg)}), {})
        return [(e.email, e.type) for e in events]

    opted_out = [("sub@example.com", "unsubscribe")]
    assert parse({"unsubscribeAll": True}) == opted_out
    topic = {"topicName": "Outreach", "subscriptionStatus": "OptOut"}
    assert parse({"unsubscribeAll": False, "topicSubscriptionStatus": [topic]}) == opted_out
    assert parse({"topicSubscriptionStatus": [{**topic, "subscriptionStatus": "OPT_OUT"}]}) == opted_out
    assert (
        parse(
            {"unsubscribeAll": False, "topicSubscriptionStatus": [{**topic, "subscriptionStatus": "OptIn"}]}
        )
        == []
    )
    assert parse({"unsubscribeAll": False}) == []
    # shapes the documentation does not give: read as nothing, never an error
    for odd in ("OptOut", [None, "OptOut", {"subscriptionStatus": None}], {"topicName": "x"}):
        assert parse({"topicSubscriptionStatus": odd}) == []


def _ses_subscription(
    new: dict[str, Any], old: dict[str, Any] | None, destination: list[str] | None = None
) -> bytes:
    sub: dict[str, Any] = {
        "contactList": "cold",
        "timestamp": "2025-01-01T00:00:00.000Z",
        "source": "UnsubscribeHeader",
        "newTopicPreferences": new,
    }
    if old is not None:
        sub["oldTopicPreferences"] = old
    msg = {
        "eventType": "Subscription",
        "mail": {"messageId": "mid", "destination": destination or ["sub@example.com"]},
        "subscription": sub,
    }
    return dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps(msg)})


def test_ses_subscription_that_opts_in_unsubscribes_nobody() -> None:
    """SES's landing page lets a contact opt back in; the event then still lists the topics that
    stay OptOut (perhaps set by the sender, never by the person): only an opt-out made in this
    event, new against old, is the person asking not to be mailed."""
    out = {"topicName": "Newsletter", "subscriptionStatus": "OptOut"}

    def parse(new: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str | None, str]]:
        events = ses.parse(_ses_subscription(new, old), {})
        return [(e.email, e.type) for e in events if not isinstance(e, Unusable)]

    opted_in = {"topicName": "Outreach", "subscriptionStatus": "OptIn"}
    back_in = {"unsubscribeAll": False, "topicSubscriptionStatus": [opted_in, out]}
    # re-subscribed after leaving everything, one topic still out as it was
    assert parse(back_in, {"unsubscribeAll": True, "topicSubscriptionStatus": [out]}) == []
    # opted in to one topic; another was out before and stays out
    assert parse(back_in, {"unsubscribeAll": False, "topicSubscriptionStatus": [out]}) == []
    # still out of everything: nothing changed
    assert parse({"unsubscribeAll": True}, {"unsubscribeAll": True}) == []
    # a topic left now, while another stays out
    left = {"topicName": "Outreach", "subscriptionStatus": "OptOut"}
    now_out = {"unsubscribeAll": False, "topicSubscriptionStatus": [left, out]}
    assert parse(now_out, {"unsubscribeAll": False, "topicSubscriptionStatus": [out]}) == [
        ("sub@example.com", "unsubscribe")
    ]
    # no old preferences to compare with: the new ones decide (an opt-out is never missed)
    assert parse({"unsubscribeAll": False, "topicSubscriptionStatus": [out]}, None) == [
        ("sub@example.com", "unsubscribe")
    ]


def test_ses_subscription_of_several_recipients_unsubscribes_them_all(
    db: Database, sns_signer: SnsSigner, cert_store: CertStore, secrets: WebhookSettings
) -> None:
    """SES adds its unsubscribe header and link only to mail sent to one recipient: an event
    naming several cannot say which of them opted out, and the gate fails closed."""
    body = _ses_subscription(
        {"unsubscribeAll": True}, {"unsubscribeAll": False}, ["one@example.com", "two@example.com"]
    )
    env = sns_signer.envelope(json.loads(json.loads(body)["Message"]))
    result = run(db, "ses", sns_signer.headers(env), dumps(env), secrets, certs=cert_store)
    assert result.events_recorded == 2 and result.rejected == []
    with session_scope(db) as s:
        assert sorted(s.execute(select(Suppression.kind)).scalars().all()) == ["unsubscribed", "unsubscribed"]


def test_ses_rejects_forgeries(
    db: Database, sns_signer: SnsSigner, cert_store: CertStore, secrets: WebhookSettings
) -> None:
    env = sns_signer.envelope(SES_MESSAGE)
    headers = sns_signer.headers(env)

    def attempt(body: dict[str, Any], hdrs: dict[str, str] = headers, **kw: Any) -> None:
        run(db, "ses", hdrs, dumps(body), secrets, certs=cert_store, **kw)

    forged_message = {**env, "Message": env["Message"].replace("bounced.person", "someone.else")}
    with pytest.raises(WebhookUnauthorized, match="signature does not match"):
        attempt(forged_message)
    with pytest.raises(WebhookUnauthorized, match="unsigned"):
        attempt({k: v for k, v in env.items() if k != "Signature"})
    with pytest.raises(WebhookUnauthorized, match="host is not sns"):
        attempt(
            sns_signer.sign(
                {**env, "SigningCertURL": "https://evil.example.com/SimpleNotificationService-1.pem"}
            )
        )
    with pytest.raises(WebhookUnauthorized, match="must be https"):
        attempt(sns_signer.sign({**env, "SigningCertURL": CERT_URL.replace("https", "http")}))
    with pytest.raises(WebhookUnauthorized, match="is not allowed"):
        attempt(sns_signer.envelope(SES_MESSAGE, topic="arn:aws:sns:us-east-1:999999999999:other"))
    with pytest.raises(WebhookUnauthorized, match="x-amz-sns-message-id"):
        attempt(env, {**headers, "x-amz-sns-message-id": "something-else"})
    with pytest.raises(WebhookUnauthorized, match="stale"):
        attempt(env, now=later(3_900 + 60))  # past what an SNS retry policy can take
    # a different key signing with a certificate URL the store knows is still a forgery
    impostor = SnsSigner()
    with pytest.raises(WebhookUnauthorized, match="signature does not match"):
        attempt(impostor.envelope(SES_MESSAGE))
    assert not bounced_suppressed(db)
    attempt(env)
    with pytest.raises(WebhookReplay):
        attempt(env)


def test_ses_subscription_confirmation_is_verified_not_followed(
    db: Database, sns_signer: SnsSigner, cert_store: CertStore, secrets: WebhookSettings
) -> None:
    env = sns_signer.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "sub-1",
            "Token": "tok",
            "TopicArn": secrets.ses_topic_arns[0],
            "Message": "You have chosen to subscribe...",
            "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
            "Timestamp": "2025-01-01T00:00:01.000Z",
            "SignatureVersion": "2",
            "SigningCertURL": CERT_URL,
        }
    )
    result = run(db, "ses", sns_signer.headers(env), dumps(env), secrets, certs=cert_store)
    assert result.events_recorded == 0
    assert result.subscribe_url is not None and "ConfirmSubscription" in result.subscribe_url


def test_one_bad_event_in_a_batch_does_not_lose_the_others(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    bad = {**SENDGRID_EVENTS[0], "email": "not-an-address", "sg_event_id": "bad-1"}
    body = dumps([bad, SENDGRID_EVENTS[0]])
    result = run(db, "sendgrid", sendgrid_signer.headers(body), body, secrets)
    assert result.events_recorded == 1
    assert len(result.rejected) == 1 and result.rejected[0].startswith("bad-1: ")
    assert "not-an-address" in result.rejected[0]
    assert bounced_suppressed(db)


def test_a_batch_item_with_an_unreadable_address_keeps_the_unsubscribe_next_to_it(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    """An item whose address cannot be normalised is listed in rejected; the unsubscribe next to it
    (its address in another case than the lead's) is recorded and reaches the lead."""
    with session_scope(db) as s:
        lead = Lead(email="batch.keep.review@example.com")
        s.add(lead)
        s.flush()
        lead_id = lead.id
    base = SENDGRID_EVENTS[0]
    items = [
        dict(base, email="not an address", sg_event_id="bad-1"),
        dict(base, event="unsubscribe", email="Batch.Keep.Review@EXAMPLE.com", sg_event_id="good-1"),
    ]
    body = json.dumps(items).encode()
    result = run(db, "sendgrid", sendgrid_signer.headers(body), body, secrets)
    assert result.events_recorded == 1 and len(result.rejected) == 1
    with session_scope(db) as s:
        got = s.get(Lead, lead_id)
        assert got is not None and got.unsubscribed_at is not None


def test_an_unreadable_item_in_a_batch_is_rejected_and_the_rest_stored(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    bad_time = {**SENDGRID_EVENTS[0], "timestamp": "yesterday", "sg_event_id": "t-1"}
    no_id = {k: v for k, v in SENDGRID_EVENTS[0].items() if k != "sg_event_id"}
    bad_type = {**SENDGRID_EVENTS[0], "email": ["a@b.example"], "sg_event_id": "e-1"}
    body = dumps([bad_time, no_id, bad_type, SENDGRID_EVENTS[0]])
    result = run(db, "sendgrid", sendgrid_signer.headers(body), body, secrets)
    assert result.events_recorded == 1
    assert [r.split(":")[0] for r in result.rejected] == ["event [0]", "event [1]", "event [2]"]
    assert "timestamp" in result.rejected[0] and "lacks sg_event_id" in result.rejected[1]
    assert "email" in result.rejected[2]
    assert bounced_suppressed(db)


def test_a_nul_character_in_an_event_does_not_lose_it_or_its_batch(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    odd = {**SENDGRID_EVENTS[0], "reason": "550 5.1.1 no such user\u0000", "sg_event_id": "nul-1"}
    body = dumps([odd])
    result = run(db, "sendgrid", sendgrid_signer.headers(body), body, secrets)
    assert (result.events_recorded, result.rejected) == (1, [])
    assert bounced_suppressed(db)


def test_old_receipts_are_pruned_only_when_replays_would_be_stale(
    db: Database, secrets: WebhookSettings
) -> None:
    run(db, "mailgun", {}, dumps(MAILGUN_BODY), secrets)
    # Mailgun's signatures stay valid for 9 hours (its retries): receipts are kept for twice that
    with session_scope(db) as s:
        assert prune_receipts(s, now=later(18 * 3600 - 60), settings=secrets) == 0
        assert prune_receipts(s, now=later(18 * 3600 + 60), settings=secrets) == 1
    # with the receipt gone, the same delivery is still refused: its signature is stale by now
    with pytest.raises(WebhookUnauthorized, match="stale"):
        run(db, "mailgun", {}, dumps(MAILGUN_BODY), secrets, now=later(18 * 3600 + 60))


def test_a_bad_mailgun_tolerance_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_WEBHOOK_MAILGUN_TOLERANCE_SECONDS", "0")
    with pytest.raises(ValidationError, match="mailgun_tolerance_seconds"):
        WebhookSettings()
    monkeypatch.setenv("LEADPOOL_WEBHOOK_MAILGUN_TOLERANCE_SECONDS", "nine hours")
    with pytest.raises(ValidationError, match="mailgun_tolerance_seconds"):
        WebhookSettings()


def test_a_mailgun_retry_hours_later_with_the_same_signature_is_accepted(
    db: Database, secrets: WebhookSettings
) -> None:
    # our first answer was a 5xx (nothing stored); Mailgun resends the delivery after 1 h, then 4 h
    result = run(db, "mailgun", {}, dumps(MAILGUN_BODY), secrets, now=later(4 * 3600))
    assert result.events_recorded == 1


def test_sender_blocks_are_counted_per_sender(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    blocked = [
        {
            **SENDGRID_EVENTS[0],
            "type": "blocked",
            "bounce_classification": "Reputation",
            "sg_event_id": f"blk-{i}",
        }
        for i in range(3)
    ]
    body = dumps(blocked)
    run(db, "sendgrid", sendgrid_signer.headers(body), body, secrets)
    # SendGrid events carry no from-address: in production the sender comes from the linked touch
    with session_scope(db) as s:
        s.execute(update(Event).values(sender="agent@example.com"))
    with session_scope(db) as s:
        assert sender_blocks(s, "agent@example.com", since=later(-3600)) == 3
        assert sender_blocks(s, "other@example.com", since=later(-3600)) == 0
    assert not bounced_suppressed(db)
