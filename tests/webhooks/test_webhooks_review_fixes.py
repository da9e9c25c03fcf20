"""Webhook adapters against compliance-and-providers.md: sender-side failures, replays, retries, batches."""

from __future__ import annotations

import base64
import copy
import importlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from sqlalchemy import select
from tests.webhooks.conftest import (
    MAILGUN_BODY,
    NOW,
    POSTMARK_AUTH,
    POSTMARK_BOUNCE,
    SENDGRID_EVENTS,
    SMARTLEAD_BOUNCE,
    SendGridSigner,
    dumps,
    later,
    mailgun_signed,
)

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Event, Suppression, WebhookReceipt
from leadpool.webhooks import WebhookReplay, WebhookResult, WebhookSettings, handle

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def run(
    db: Database, provider: str, headers: dict[str, str], body: bytes, secrets: WebhookSettings, **kw: Any
) -> WebhookResult:
    with session_scope(db) as s:
        return handle(provider, headers, body, session=s, settings=secrets, now=kw.pop("now", NOW), **kw)


def kinds(db: Database, email: str = "bounced.person@example.com") -> set[str]:
    h = address_hmac("email", email, get_settings().resolved_secret_key())
    with session_scope(db) as s:
        return set(s.execute(select(Suppression.kind).where(Suppression.value_hmac == h)).scalars())


def stored_types(db: Database) -> list[str]:
    with session_scope(db) as s:
        return list(s.execute(select(Event.type).order_by(Event.id)).scalars())


# --- 1. SendGrid: a replay with a malleated (still valid) ECDSA signature is not refused -------------


def test_sendgrid_replay_with_malleated_signature_is_refused(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    body = dumps(SENDGRID_EVENTS)
    headers = sendgrid_signer.headers(body)
    run(db, "sendgrid", headers, body, secrets)
    # the same signed delivery replayed inside the tolerance window, with (r, n - s) in place of
    # (r, s): an equally valid ECDSA signature of the same timestamp + body
    r, s_ = decode_dss_signature(base64.b64decode(headers["X-Twilio-Email-Event-Webhook-Signature"]))
    malleated = base64.b64encode(encode_dss_signature(r, P256_N - s_)).decode()
    replay = {**headers, "X-Twilio-Email-Event-Webhook-Signature": malleated}
    with pytest.raises(WebhookReplay):
        run(db, "sendgrid", replay, body, secrets, now=later(60))


# --- 2. Replay store is never pruned (no job, CLI or worker calls prune_receipts) -------------------


def test_webhook_receipts_are_pruned_by_a_periodic_job(db: Database) -> None:
    from leadpool import queue
    from leadpool.webhooks.tasks import PRUNE_TASK, prune_receipts_job

    for module in queue.TASK_MODULES:
        importlib.import_module(module)
    assert PRUNE_TASK in {name for name, _ in queue.app.periodic_registry.periodic_tasks}
    with session_scope(db) as s:
        s.add(WebhookReceipt(provider="mailgun", replay_key="old", received_at=later(-10 * 86_400)))
        s.add(WebhookReceipt(provider="mailgun", replay_key="new", received_at=datetime.now(UTC)))
    assert prune_receipts_job.func(None, 0) == 1
    with session_scope(db) as s:
        assert list(s.execute(select(WebhookReceipt.replay_key)).scalars()) == ["new"]


# --- 3. 5.2.3 (message too long) is a content problem: do not suppress the recipient ----------------


def test_mailgun_permanent_5_2_3_message_too_large_does_not_suppress(
    db: Database, secrets: WebhookSettings
) -> None:
    body = copy.deepcopy(MAILGUN_BODY)
    body["event-data"]["delivery-status"]["code"] = 552
    body["event-data"]["delivery-status"]["message"] = "5.2.3 Message size exceeds fixed maximum message size"
    run(db, "mailgun", {}, mailgun_signed(body), secrets)
    assert "email_bounced" not in kinds(db)
    assert stored_types(db) != ["hard_bounce"]


# --- 4. SendGrid Reputation/Content classifications and blocks never suppress the recipient ---------


@pytest.mark.parametrize(
    "change",
    [
        {
            "type": "bounce",
            "bounce_classification": "Reputation",
            "status": None,
            "reason": "550 Message rejected due to poor sender reputation",
        },
        {
            "type": "bounce",
            "bounce_classification": "Content",
            "status": None,
            "reason": "554 Message content rejected",
        },
        {
            "type": "blocked",
            "bounce_classification": "Technical Failure",
            "status": "5.0.0",
            "reason": "550 5.0.0 connection refused by remote server",
        },
    ],
    ids=["bounce-reputation", "bounce-content", "blocked-5.0.0"],
)
def test_sendgrid_sender_side_failures_do_not_suppress_the_recipient(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings, change: dict[str, Any]
) -> None:
    item = {k: v for k, v in {**SENDGRID_EVENTS[0], **change}.items() if v is not None}
    body = dumps([item])
    run(db, "sendgrid", sendgrid_signer.headers(body), body, secrets)
    assert "email_bounced" not in kinds(db), stored_types(db)


# --- 5. An IP address in a DSN is read as the enhanced status code ---------------------------------


def test_smartlead_dsn_with_an_ip_before_the_code_is_a_hard_bounce(
    db: Database, secrets: WebhookSettings
) -> None:
    body = copy.deepcopy(SMARTLEAD_BOUNCE)
    body["bounce_message"]["text"] = (
        "<bounced.person@example.com>: host mx.example.com[212.5.7.10] said: 550 5.1.1 "
        "<bounced.person@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)"
    )
    run(db, "smartlead", {}, dumps(body), secrets)
    assert stored_types(db) == ["hard_bounce"]
    assert "email_bounced" in kinds(db)


# --- 6. Postmark: one complaint (one ID) delivered as Bounce/SpamComplaint and as RecordType SpamComplaint


def test_postmark_same_spam_complaint_via_both_record_types_is_one_event(
    db: Database, secrets: WebhookSettings
) -> None:
    complaint = {**POSTMARK_BOUNCE, "Type": "SpamComplaint", "TypeCode": 100001, "Name": "Spam complaint"}
    as_bounce = {**complaint, "RecordType": "Bounce"}
    as_complaint = {**complaint, "RecordType": "SpamComplaint"}
    run(db, "postmark", {"Authorization": POSTMARK_AUTH}, dumps(as_bounce), secrets)
    second = run(db, "postmark", {"Authorization": POSTMARK_AUTH}, dumps(as_complaint), secrets)
    assert (second.events_recorded, second.duplicates) == (0, 1)
    assert stored_types(db) == ["complaint"]


# --- 7. One item PostgreSQL cannot store loses the whole SendGrid batch ----------------------------


def test_a_lone_surrogate_in_one_item_does_not_lose_the_batch(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    # valid JSON (a \\ud83d escape cut from its pair when SendGrid truncated an SMTP reason)
    odd = {**SENDGRID_EVENTS[0], "email": "other.person@example.com", "sg_event_id": "sur-1"}
    raw_odd = json.dumps(odd).replace('"reason": "550', '"reason": "\\ud83d 550')
    body = ("[" + raw_odd + ", " + json.dumps(SENDGRID_EVENTS[0]) + "]").encode()
    assert json.loads(body)[0]["reason"].startswith("\ud83d")
    result = run(db, "sendgrid", sendgrid_signer.headers(body), body, secrets)
    assert result.events_recorded >= 1
    assert "email_bounced" in kinds(db)


# --- 8. SNS retries under a (custom) delivery policy are refused as stale after 5 minutes ----------


def test_ses_sns_retry_after_ten_minutes_is_accepted(
    db: Database, sns_signer, cert_store, secrets: WebhookSettings
) -> None:
    from tests.webhooks.conftest import SES_MESSAGE

    env = sns_signer.envelope(SES_MESSAGE)  # published 2025-01-01T00:00:01Z; first attempt got a 503
    # SNS redelivers the identical signed message (same Timestamp) 10 minutes later
    result = run(db, "ses", sns_signer.headers(env), dumps(env), secrets, certs=cert_store, now=later(600))
    assert result.events_recorded == 1
