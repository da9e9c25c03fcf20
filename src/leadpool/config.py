"""Settings, read from the environment (``LEADPOOL_*``) by a factory, never at import time.

Domain policies (gate caps, allocation quarantine...) live in their own settings models next to
the code that uses them; this module holds what every part of the service needs.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPOOL_", extra="ignore")

    home: Path = Field(
        default=Path(".leadpool"),
        description="Data directory: the embedded server's files, generated secrets, reports.",
    )
    database_url: str | None = Field(
        default=None,
        description="External PostgreSQL 14+ (postgresql://...). Unset: an embedded server under home.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Platform secret for keyed hashes (erasure, suppression). Unset: generated under home.",
    )
    apollo_api_key: str | None = None
    apollo_base_url: str = "https://api.apollo.io/api/v1"

    def resolved_home(self) -> Path:
        home = self.home.expanduser().resolve()
        home.mkdir(parents=True, exist_ok=True)
        return home

    def resolved_secret_key(self) -> bytes:
        """The HMAC key; generated once and kept under home so hashes stay stable across runs."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.resolved_home() / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


# every settings model of the service, by class name, with its environment prefix
SETTINGS_PREFIXES = {
    "Settings": "LEADPOOL_",
    "ApiSettings": "LEADPOOL_",
    "AllocationSettings": "LEADPOOL_",
    "EventSettings": "LEADPOOL_EVENTS_",
    "WebhookSettings": "LEADPOOL_WEBHOOK_",
}


def settings_error_message(error: Exception) -> str | None:
    """One line naming the environment variables a settings model refused, never their values
    (they may be secrets); None when ``error`` is not about settings."""
    if isinstance(error, SettingsError):
        return f"invalid setting: {error}"
    if not isinstance(error, ValidationError) or error.title not in SETTINGS_PREFIXES:
        return None
    prefix = SETTINGS_PREFIXES[error.title]
    parts = []
    for err in error.errors(include_input=False, include_url=False, include_context=False):
        loc = err.get("loc") or ()
        name = f"{prefix}{str(loc[0]).upper()}" if loc else error.title
        parts.append(f"{name}: {err.get('msg', 'invalid')}")
    return "invalid setting " + "; ".join(parts)


def check_settings() -> None:
    """Read every domain's settings once, so a bad value fails at start, not on a request."""
    from leadpool.allocation.settings import AllocationSettings
    from leadpool.events.settings import EventSettings
    from leadpool.webhooks.settings import WebhookSettings

    for model in (AllocationSettings, EventSettings, WebhookSettings):
        model()
