"""Settings, read from the environment (``LEADPOOL_*``) by a factory, never at import time.

Domain policies (gate caps, allocation quarantine...) live in their own settings models next to
the code that uses them; this module holds what every part of the service needs.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
