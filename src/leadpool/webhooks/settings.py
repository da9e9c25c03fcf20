"""Webhook secrets and tolerances, from ``LEADPOOL_WEBHOOK_*`` (lists are JSON arrays).

Each list holds every currently valid secret, so a secret can be rotated by adding the new one,
switching the provider over, then removing the old one. An empty list refuses every delivery
from that provider (fail closed).

| variable | meaning |
|---|---|
| ``LEADPOOL_WEBHOOK_TOLERANCE_SECONDS`` | max age (and clock skew) of a signed timestamp, default 300 |
| ``LEADPOOL_WEBHOOK_SENDGRID_PUBLIC_KEYS`` | SendGrid verification keys: base64 DER SubjectPublicKeyInfo (P-256) |
| ``LEADPOOL_WEBHOOK_MAILGUN_SIGNING_KEYS`` | Mailgun HTTP webhook signing keys (not the API key) |
| ``LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH`` | ``user:password`` pairs accepted in ``Authorization: Basic`` |
| ``LEADPOOL_WEBHOOK_SES_TOPIC_ARNS`` | SNS topic ARNs allowed to deliver SES events |
| ``LEADPOOL_WEBHOOK_SMARTLEAD_SECRET_KEYS`` | values accepted in the body's ``secret_key`` |
| ``LEADPOOL_WEBHOOK_INSTANTLY_SECRETS`` | values accepted in the Instantly auth header |
| ``LEADPOOL_WEBHOOK_INSTANTLY_HEADER`` | that header's name, default ``Authorization`` (``Bearer <secret>`` or the bare secret) |
| ``LEADPOOL_WEBHOOK_INSTANTLY_WORKSPACES`` | if set, only these Instantly workspace ids are accepted |
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPOOL_WEBHOOK_", extra="ignore")

    tolerance_seconds: int = Field(300, ge=1, description="Max age (and clock skew) of a signed timestamp.")
    mailgun_tolerance_seconds: int = Field(
        32_400,
        ge=1,
        description=(
            "Max age of a Mailgun signed timestamp: Mailgun retries a failed delivery for about 8 hours "
            "(5 min, 10 min, 15 min, 1 h, 2 h, 4 h) and asks not to check freshness strictly; its "
            "one-time token still refuses a replay."
        ),
    )
    ses_tolerance_seconds: int = Field(
        3_900,
        ge=1,
        description=(
            "Max age of an SNS message's signed Timestamp: SNS redelivers the same signed message, "
            "for up to 3,600 s under a custom retry policy; its one-time MessageId still refuses a replay."
        ),
    )
    sendgrid_public_keys: list[str] = Field(
        default_factory=list,
        description="SendGrid verification keys (JSON array): base64 DER SubjectPublicKeyInfo (P-256). "
        "Empty: every SendGrid delivery is refused.",
    )
    mailgun_signing_keys: list[str] = Field(
        default_factory=list,
        description="Mailgun HTTP webhook signing keys (JSON array; not the API key). "
        "Empty: every Mailgun delivery is refused.",
    )
    postmark_basic_auth: list[str] = Field(
        default_factory=list,
        description="user:password pairs (JSON array) accepted in Postmark's Authorization: Basic. "
        "Empty: every Postmark delivery is refused.",
    )
    ses_topic_arns: list[str] = Field(
        default_factory=list,
        description="SNS topic ARNs (JSON array) allowed to deliver SES events. "
        "Empty: every SES delivery is refused.",
    )
    smartlead_secret_keys: list[str] = Field(
        default_factory=list,
        description="Values (JSON array) accepted in a Smartlead body's secret_key. "
        "Empty: every Smartlead delivery is refused.",
    )
    instantly_secrets: list[str] = Field(
        default_factory=list,
        description="Values (JSON array) accepted in the Instantly auth header. "
        "Empty: every Instantly delivery is refused.",
    )
    instantly_header: str = Field(
        default="Authorization",
        description="Name of the header carrying the Instantly secret (Bearer <secret> or the bare secret).",
    )
    instantly_workspaces: list[str] = Field(
        default_factory=list,
        description="If set (JSON array), only these Instantly workspace ids are accepted.",
    )

    @property
    def longest_tolerance_seconds(self) -> int:
        return max(self.tolerance_seconds, self.mailgun_tolerance_seconds, self.ses_tolerance_seconds)
