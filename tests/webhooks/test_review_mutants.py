"""Webhook authentication edges the rest of the webhook suite could not tell from a weaker check
(found by mutation): timestamps from the future, certificates out of their validity, look-alike
SNS hosts, and a Mailgun delivery older than its (long) tolerance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadpool.db import Database, session_scope
from leadpool.webhooks import WebhookResult, WebhookSettings, WebhookUnauthorized, handle
from leadpool.webhooks.certs import CertStore

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


def run(
    db: Database, provider: str, headers: dict[str, str], body: bytes, secrets: WebhookSettings, **kw: Any
) -> WebhookResult:
    with session_scope(db) as s:
        return handle(provider, headers, body, session=s, settings=secrets, now=kw.pop("now", NOW), **kw)


def test_a_sendgrid_delivery_signed_in_the_future_is_refused(
    db: Database, sendgrid_signer: SendGridSigner, secrets: WebhookSettings
) -> None:
    """A signed timestamp more than the tolerance (300 s) ahead of our clock is refused: a
    signature made for the future would otherwise stay fresh, and replayable once its receipt is
    pruned, for as long as its maker chose."""
    body = dumps(SENDGRID_EVENTS)
    ahead = str(int(NOW.timestamp()) + 3600)
    with pytest.raises(WebhookUnauthorized, match="future"):
        run(db, "sendgrid", sendgrid_signer.headers(body, timestamp=ahead), body, secrets)
    # within the tolerance (clock skew) it is accepted
    skewed = str(int(NOW.timestamp()) + 200)
    assert (
        run(db, "sendgrid", sendgrid_signer.headers(body, timestamp=skewed), body, secrets).events_recorded
        == 1
    )


def test_a_mailgun_delivery_older_than_nine_hours_is_refused(db: Database, secrets: WebhookSettings) -> None:
    """Mailgun's tolerance is long (9 h, its retries take about 8) but not unlimited: a signature
    older than that is stale, so a captured delivery cannot be replayed once its token's receipt
    has been pruned."""
    body = mailgun_signed({"event-data": MAILGUN_BODY["event-data"]})
    with pytest.raises(WebhookUnauthorized, match="stale"):
        run(db, "mailgun", {}, body, secrets, now=later(32_400 + 60))
    assert run(db, "mailgun", {}, body, secrets, now=later(32_400 - 60)).events_recorded == 1


def test_an_sns_certificate_url_on_a_look_alike_host_is_refused(
    db: Database, sns_signer: SnsSigner, secrets: WebhookSettings
) -> None:
    """Only sns.<region>.amazonaws.com may serve the signing certificate: a host that merely starts
    like one (sns.us-east-1.amazonaws.com.evil.example) is the forger's own, and its certificate
    would verify the forger's signature."""
    url = "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem"
    store = CertStore(fetch=lambda u: sns_signer.pem)  # the forger's server would serve a cert
    env = sns_signer.envelope(SES_MESSAGE, cert_url=url)
    with pytest.raises(WebhookUnauthorized, match="host is not sns"):
        run(db, "ses", sns_signer.headers(env), dumps(env), secrets, certs=store)


def test_an_sns_message_signed_with_an_expired_certificate_is_refused(
    db: Database, sns_signer: SnsSigner, cert_store: CertStore, secrets: WebhookSettings
) -> None:
    """The fixture certificate is valid 2024-01-01..2026-01-01: a fresh message verified in June
    2026 with it is refused (a retired SNS key must not keep authenticating deliveries)."""
    at = datetime(2026, 6, 1, 0, 0, 30, tzinfo=UTC)
    env = sns_signer.envelope(SES_MESSAGE, timestamp="2026-06-01T00:00:01.000Z")
    assert env["SigningCertURL"] == CERT_URL
    with pytest.raises(WebhookUnauthorized, match="not valid now"):
        run(db, "ses", sns_signer.headers(env), dumps(env), secrets, certs=cert_store, now=at)
    # the same message while the certificate was valid is accepted
    ok = sns_signer.envelope(SES_MESSAGE, timestamp="2025-12-31T00:00:01.000Z", message_id="other-id")
    assert (
        run(
            db,
            "ses",
            sns_signer.headers(ok),
            dumps(ok),
            secrets,
            certs=cert_store,
            now=datetime(2025, 12, 31, 0, 0, 30, tzinfo=UTC),
        ).events_recorded
        >= 1
    )
