"""Settings of the HTTP service (``LEADPOOL_*``), read by a factory, never at import time."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPOOL_", extra="ignore")

    admin_token: str | None = Field(
        default=None,
        min_length=16,
        description=(
            "The platform admin bearer token, at least 16 characters (random, like the generated one; "
            "from 32 on it passes a sign-in lockout of an address it signed in from). "
            "Unset: generated once and kept under LEADPOOL_HOME."
        ),
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; larger ones are refused with 413 while streaming.",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Mark the dashboard cookie Secure (set it when the service is behind HTTPS).",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^(https://[^\s/?#]+|http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?)(/[^\s?#]*)?$",
        description=(
            "The address people reach this service at from the internet (https://...): the gate hands "
            "out one-click unsubscribe links under it with allowed emails (RFC 8058 wants HTTPS; plain "
            "http only for localhost, to try it). Unset: no link is handed out."
        ),
    )
    api_statement_timeout_seconds: float = Field(
        default=30,
        ge=0,
        le=3600,
        description=(
            "Longest one SQL statement of an API request may run, waits for a row lock included; "
            "past it the request gets 503 (a gate check: deny gate_error) and its connection goes "
            "back to the pool. 0: no limit. Migrations at start are not limited."
        ),
    )
