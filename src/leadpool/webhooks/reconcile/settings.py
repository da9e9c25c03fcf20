"""Provider API credentials for the suppression reconciliation, from ``LEADPOOL_RECONCILE_*``.

A provider whose key (or token list) is unset is not reconciled. Lists are JSON arrays.

| variable | meaning |
|---|---|
| ``LEADPOOL_RECONCILE_SENDGRID_API_KEY`` | SendGrid API key with read access to suppressions |
| ``LEADPOOL_RECONCILE_SENDGRID_BASE_URL`` | default ``https://api.sendgrid.com`` (EU subusers: ``https://api.eu.sendgrid.com``) |
| ``LEADPOOL_RECONCILE_MAILGUN_API_KEY`` | Mailgun API key (HTTP basic auth ``api:KEY``; not the webhook signing key) |
| ``LEADPOOL_RECONCILE_MAILGUN_DOMAINS`` | sending domains whose lists are read (required with the key) |
| ``LEADPOOL_RECONCILE_MAILGUN_BASE_URL`` | default ``https://api.mailgun.net`` (EU: ``https://api.eu.mailgun.net``) |
| ``LEADPOOL_RECONCILE_POSTMARK_SERVER_TOKENS`` | Postmark server API tokens, one per server |
| ``LEADPOOL_RECONCILE_POSTMARK_STREAMS`` | message streams read on every server, default ``["outbound"]`` |
| ``LEADPOOL_RECONCILE_POSTMARK_BASE_URL`` | default ``https://api.postmarkapp.com`` |
| ``LEADPOOL_RECONCILE_SES_ACCESS_KEY_ID`` | AWS access key id allowed ``ses:ListSuppressedDestinations`` |
| ``LEADPOOL_RECONCILE_SES_SECRET_ACCESS_KEY`` | its secret (and ``..._SES_SESSION_TOKEN`` for temporary credentials) |
| ``LEADPOOL_RECONCILE_SES_REGIONS`` | regions whose account-level suppression lists are read (required with the keys) |
| ``LEADPOOL_RECONCILE_SES_BASE_URL`` | one base URL for every region (a VPC endpoint); default ``https://email.<region>.amazonaws.com`` |
| ``LEADPOOL_RECONCILE_OVERLAP_HOURS`` | how far before the last run's newest entry the next run reads again, default 24 |
| ``LEADPOOL_RECONCILE_PAGE_SIZE`` | entries asked for per request, default 500 (SendGrid's maximum) |
| ``LEADPOOL_RECONCILE_MAX_ATTEMPTS`` | tries of one request answered 429, 5xx or not at all, default 4 |
| ``LEADPOOL_RECONCILE_TIMEOUT_SECONDS`` | per request, default 30 |
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63}$")
_STREAM = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")


class ReconcileSettings(BaseSettings):
    # the checks across fields see every value: pydantic would quote them (keys included) in its errors
    model_config = SettingsConfigDict(
        env_prefix="LEADPOOL_RECONCILE_", extra="ignore", hide_input_in_errors=True
    )

    sendgrid_api_key: SecretStr | None = Field(
        None, description="SendGrid API key (suppressions read access). Unset: SendGrid is not reconciled."
    )
    sendgrid_base_url: str = Field(
        "https://api.sendgrid.com",
        description="SendGrid API base URL (EU regional subusers: https://api.eu.sendgrid.com).",
    )
    mailgun_api_key: SecretStr | None = Field(
        None,
        description="Mailgun API key, sent as basic auth api:KEY (not the webhook signing key). "
        "Unset: Mailgun is not reconciled.",
    )
    mailgun_domains: list[str] = Field(
        default_factory=list,
        description="Mailgun sending domains (JSON array) whose bounces, complaints and unsubscribes are read.",
    )
    mailgun_base_url: str = Field(
        "https://api.mailgun.net",
        description="Mailgun API base URL: https://api.mailgun.net (US) or https://api.eu.mailgun.net (EU).",
    )
    postmark_server_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Postmark server API tokens (JSON array, one per server). Empty: Postmark is not reconciled.",
    )
    postmark_streams: list[str] = Field(
        default_factory=lambda: ["outbound"],
        description="Postmark message stream ids (JSON array) whose suppressions are read on every server.",
    )
    postmark_base_url: str = Field("https://api.postmarkapp.com", description="Postmark API base URL.")
    ses_access_key_id: SecretStr | None = Field(
        None,
        description="AWS access key id allowed ses:ListSuppressedDestinations. Unset: SES is not reconciled.",
    )
    ses_secret_access_key: SecretStr | None = Field(None, description="Its AWS secret access key.")
    ses_session_token: SecretStr | None = Field(
        None, description="AWS session token, for temporary credentials only."
    )
    ses_regions: list[str] = Field(
        default_factory=list,
        description='AWS regions (JSON array, e.g. ["us-east-1"]) whose account-level suppression '
        "lists are read: SES keeps one per region.",
    )
    ses_base_url: str | None = Field(
        None,
        description="SES API base URL for every region (a VPC endpoint); default https://email.<region>.amazonaws.com.",
    )
    overlap_hours: int = Field(
        24,
        ge=0,
        le=24 * 90,
        description="A run reads each list from the previous run's newest entry minus this many hours "
        "(entries a provider adds late, or with an older time, are still seen).",
    )
    page_size: int = Field(
        500, ge=1, le=500, description="Entries asked for per request (SendGrid allows 500)."
    )
    max_attempts: int = Field(
        4, ge=1, le=10, description="Tries of one request answered 429, 5xx or not at all, with backoff."
    )
    timeout_seconds: float = Field(30.0, gt=0, le=600, description="Timeout of one request, in seconds.")

    @field_validator("sendgrid_base_url", "mailgun_base_url", "postmark_base_url", "ses_base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL with no query, e.g. https://api.mailgun.net")
        return v.strip().rstrip("/")

    @field_validator("mailgun_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if not _DOMAIN.match(d.strip())]
        if bad:
            raise ValueError(f"{len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not a domain name")
        return [d.strip().lower() for d in v]

    @field_validator("postmark_streams")
    @classmethod
    def _streams(cls, v: list[str]) -> list[str]:
        if not v or not all(_STREAM.match(s) for s in v):
            raise ValueError("must be a non-empty list of stream ids (letters, digits, - and _)")
        return v

    @field_validator("ses_regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        if not all(_REGION.match(r) for r in v):
            raise ValueError("must be AWS region names, e.g. us-east-1")
        return v

    @model_validator(mode="after")
    def _complete(self) -> ReconcileSettings:
        if self.mailgun_api_key is not None and not self.mailgun_domains:
            raise ValueError(
                "LEADPOOL_RECONCILE_MAILGUN_DOMAINS is empty while the Mailgun API key is set: Mailgun's lists "
                "are per domain, name at least one"
            )
        if (self.ses_access_key_id is None) != (self.ses_secret_access_key is None):
            raise ValueError(
                "LEADPOOL_RECONCILE_SES_ACCESS_KEY_ID and LEADPOOL_RECONCILE_SES_SECRET_ACCESS_KEY go together"
            )
        if self.ses_access_key_id is not None and not self.ses_regions:
            raise ValueError(
                "LEADPOOL_RECONCILE_SES_REGIONS is empty while the SES keys are set: SES keeps a "
                "suppression list per region, name at least one"
            )
        return self
