"""Provider fixtures from the reference (compliance-and-providers.md 1.4) and real signers for them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from leadpool.webhooks.certs import CertStore
from leadpool.webhooks.ses import canonical_string
from leadpool.webhooks.settings import WebhookSettings

NOW = datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC)  # 30 s after the fixtures' events
EPOCH = "1735689600"
MAILGUN_KEY = "fixture-signing-key-not-secret"
TOPIC = "arn:aws:sns:us-east-1:111122223333:ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000.pem"

SENDGRID_EVENTS: list[dict[str, Any]] = [
    {
        "email": "bounced.person@example.com",
        "timestamp": 1735689600,
        "event": "bounce",
        "type": "bounce",
        "bounce_classification": "Invalid Address",
        "status": "5.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "smtp-id": "<fixture-0001@mail.example.com>",
        "sg_event_id": "Zml4dHVyZS1ib3VuY2UtMDAwMQ",
        "sg_message_id": "fixture0001.filter0001.12345.ABCDEF.0",
        "tls": 1,
        "ip": "192.0.2.10",
        "tenant_id": "agency-42",
    }
]

MAILGUN_BODY: dict[str, Any] = {
    "signature": {
        "timestamp": "1735689600",
        "token": "f1x7ur370k3n0000000000000000000000000000000000000a",
        "signature": "0b4ee4443d37fab3587a2a8ea7070dd8f792d264d3e920306672e6d01220967d",
    },
    "event-data": {
        "id": "Fx1tUrEbOuNcE0001aaaaa",
        "timestamp": 1735689600.123,
        "log-level": "error",
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "recipient": "bounced.person@example.com",
        "recipient-domain": "example.com",
        "message": {
            "headers": {
                "message-id": "fixture-0001@mg.example.com",
                "from": "Agent <agent@mg.example.com>",
                "to": "bounced.person@example.com",
                "subject": "Hello",
            }
        },
        "delivery-status": {
            "code": 550,
            "attempt-no": 1,
            "mx-host": "mx.example.com",
            "tls": True,
            "description": "",
            "message": "5.1.1 The email account that you tried to reach does not exist.",
        },
        "user-variables": {"tenant_id": "agency-42"},
        "tags": ["campaign-7"],
    },
}

POSTMARK_AUTH = "Basic d2ViaG9vazpmaXh0dXJlLXBhc3M="  # webhook:fixture-pass
POSTMARK_BOUNCE: dict[str, Any] = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 3719297970,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "campaign-7",
    "MessageID": "3f6a1c2e-0000-4000-8000-000000000001",
    "Metadata": {"tenant_id": "agency-42"},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": "bounced.person@example.com",
    "From": "agent@example.com",
    "BouncedAt": "2025-01-01T00:00:00.0000000Z",
    "DumpAvailable": False,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Hello",
}

SES_MESSAGE: dict[str, Any] = {
    "eventType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "bounced.person@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2025-01-01T00:00:00.000Z",
        "feedbackId": "0100019f-fixture-0001-000000",
        "reportingMTA": "dns; a1-2.smtp-out.us-east-1.amazonses.com",
        "remoteMtaIp": "192.0.2.20",
    },
    "mail": {
        "timestamp": "2024-12-31T23:59:58.000Z",
        "source": "agent@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:111122223333:identity/example.com",
        "sendingAccountId": "111122223333",
        "messageId": "0100019f-fixture-mail-0001-000000",
        "destination": ["bounced.person@example.com"],
        "headersTruncated": False,
        "tags": {"tenant_id": ["agency-42"]},
    },
}

SMARTLEAD_BOUNCE: dict[str, Any] = {
    "webhook_id": 101,
    "webhook_name": "agency-42 bounces",
    "event_type": "EMAIL_BOUNCE",
    "event_timestamp": "2025-01-01T00:00:00.000Z",
    "stats_id": "fixture-stats-0001",
    "from_email": "agent@example.com",
    "to_email": "bounced.person@example.com",
    "to_name": "Bo Person",
    "subject": "Quick question",
    "campaign_id": 123,
    "campaign_name": "Q1 outreach",
    "campaign_status": "ACTIVE",
    "sequence_number": 1,
    "sent_message": {
        "message_id": "<fixture-0001@example.com>",
        "html": "<p>Hi</p>",
        "text": "Hi",
        "time": "2024-12-31T23:59:58.000Z",
    },
    "bounce_message": {
        "message_id": "<dsn-0001@mx.example.com>",
        "html": "<p>550 5.1.1 user unknown</p>",
        "text": "550 5.1.1 The email account that you tried to reach does not exist.",
        "time": "2025-01-01T00:00:00.000Z",
    },
    "client_id": 42,
    "app_url": "https://app.example.com/master-inbox/1",
    "secret_key": "fixture-shared-secret",
    "description": "Email bounced",
    "metadata": {"webhook_created_at": "2024-12-01T00:00:00.000Z"},
}

INSTANTLY_BOUNCE: dict[str, Any] = {
    "timestamp": "2025-01-01T00:00:00.000Z",
    "event_type": "email_bounced",
    "workspace": "00000000-0000-4000-8000-000000000042",
    "campaign_id": "00000000-0000-4000-8000-000000000007",
    "campaign_name": "Q1 outreach",
    "lead_email": "bounced.person@example.com",
    "email_account": "agent@example.com",
    "step": 1,
    "variant": 1,
    "is_first": True,
    "email_id": "00000000-0000-4000-8000-000000000099",
}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def mailgun_signed(body: dict[str, Any], *, timestamp: str = EPOCH, token: str = "t" * 50) -> bytes:
    sig = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return dumps({**body, "signature": {"timestamp": timestamp, "token": token, "signature": sig}})


class SendGridSigner:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_b64 = base64.b64encode(der).decode()

    def headers(self, raw_body: bytes, timestamp: str = EPOCH) -> dict[str, str]:
        sig = self.key.sign(timestamp.encode() + raw_body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }


class SnsSigner:
    """A locally generated key and self-signed certificate standing in for SNS's."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(datetime(2024, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2026, 1, 1, tzinfo=UTC))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def envelope(
        self,
        message: dict[str, Any],
        *,
        message_id: str = "6f0c2a4e-0000-4000-8000-000000000001",
        timestamp: str = "2025-01-01T00:00:01.000Z",
        version: str = "2",
        topic: str = TOPIC,
        cert_url: str = CERT_URL,
    ) -> dict[str, Any]:
        env: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic,
            "Subject": "Amazon SES Email Event Notification",
            "Message": json.dumps(message),
            "Timestamp": timestamp,
            "SignatureVersion": version,
            "SigningCertURL": cert_url,
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        }
        return self.sign(env)

    def sign(self, env: dict[str, Any]) -> dict[str, Any]:
        digest = hashes.SHA256() if env.get("SignatureVersion") == "2" else hashes.SHA1()
        sig = self.key.sign(canonical_string(env), padding.PKCS1v15(), digest)
        return {**env, "Signature": base64.b64encode(sig).decode()}

    @staticmethod
    def headers(env: dict[str, Any]) -> dict[str, str]:
        return {"x-amz-sns-message-type": env["Type"], "x-amz-sns-message-id": env["MessageId"]}


@pytest.fixture
def sendgrid_signer() -> SendGridSigner:
    return SendGridSigner()


@pytest.fixture(scope="session")
def sns_signer() -> SnsSigner:
    return SnsSigner()


@pytest.fixture
def cert_store(sns_signer: SnsSigner) -> CertStore:
    def no_network(url: str) -> bytes:
        raise AssertionError(f"tests must not fetch {url}")

    store = CertStore(fetch=no_network)
    store.add(CERT_URL, sns_signer.pem)
    return store


@pytest.fixture
def secrets(sendgrid_signer: SendGridSigner) -> WebhookSettings:
    return WebhookSettings(
        sendgrid_public_keys=[sendgrid_signer.public_b64],
        mailgun_signing_keys=["old-rotated-key", MAILGUN_KEY],
        postmark_basic_auth=["webhook:fixture-pass"],
        ses_topic_arns=[TOPIC],
        smartlead_secret_keys=["fixture-shared-secret"],
        instantly_secrets=["instantly-fixture-secret"],
    )


def later(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)
