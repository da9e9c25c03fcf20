"""Settings, read from the environment (``LEADPOOL_*``) by a factory, never at import time.

Domain policies (gate caps, allocation quarantine...) live in their own settings models next to
the code that uses them; this module holds what every part of the service needs.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from leadpool.errors import InvalidInput, LeadpoolError


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
    apollo_api_key: str | None = Field(
        default=None,
        description="Apollo API key (sent as x-api-key) for refill and re-enrichment jobs. "
        "Unset: no refill is deferred.",
    )
    apollo_base_url: str = Field(
        default="https://api.apollo.io/api/v1",
        description="Base URL of Apollo's API (another one for a test server such as the fake Apollo).",
    )

    def resolved_home(self) -> Path:
        home = self.home.expanduser().resolve()
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # the variable is what to fix, not a traceback to read
            raise InvalidInput(f"LEADPOOL_HOME {str(home)!r} cannot be used: {e.strerror or e}") from None
        return home

    def resolved_secret_key(self) -> bytes:
        """The HMAC key: ``LEADPOOL_SECRET_KEY``, else generated once under home so hashes stay
        stable across runs of one machine. Every host using one database needs the same key (the
        database keeps its fingerprint and refuses another: ``ingestion.hashing.check_key``)."""
        if self.secret_key is not None:
            if len(self.secret_key.strip()) < MIN_SECRET_KEY_LENGTH:
                raise InvalidInput(
                    f"LEADPOOL_SECRET_KEY is too short: at least {MIN_SECRET_KEY_LENGTH} characters"
                )
            return self.secret_key.encode()
        path = self.resolved_home() / "secret_key"
        if not path.exists():
            _create_key_file(path)
        key = path.read_text().strip()
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise InvalidInput(
                f"{path} holds no usable secret key (at least {MIN_SECRET_KEY_LENGTH} characters)"
            )
        return key.encode()


MIN_SECRET_KEY_LENGTH = 16


def _create_key_file(path: Path) -> None:
    """Write a new key whole, readable by its owner only, where no other key is yet: processes
    starting at once on a fresh home all end up with the first one written, never an empty file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process's key was linked first
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_models() -> list[tuple[str, type[BaseSettings]]]:
    """Every settings model of the service with its group name (``leadpool settings`` lists them;
    each reads its own ``LEADPOOL_*`` prefix). Imported here, not at the top: domains import
    this module."""
    from leadpool.allocation.settings import AllocationSettings
    from leadpool.api.settings import ApiSettings
    from leadpool.events.settings import EventSettings
    from leadpool.gate.settings import RetentionSettings
    from leadpool.webhooks.reconcile.settings import ReconcileSettings
    from leadpool.webhooks.settings import WebhookSettings

    return [
        ("service", Settings),
        ("api", ApiSettings),
        ("allocation", AllocationSettings),
        ("retention (the gate's denials)", RetentionSettings),
        ("events", EventSettings),
        ("webhooks", WebhookSettings),
        ("reconcile", ReconcileSettings),
    ]


def env_prefix(model: type[BaseSettings]) -> str:
    return str(model.model_config.get("env_prefix") or "")


S = TypeVar("S")


def job_settings(load: Callable[[], S], prefix: str) -> S:
    """``load()`` for a background job: settings it refuses raise one line naming the variables,
    never their values (they may be secrets; the worker logs a failed job's exception)."""
    try:
        return load()
    except (ValidationError, SettingsError) as e:
        raise LeadpoolError(settings_error_message(e) or f"invalid {prefix}* settings") from None


def settings_error_message(error: Exception) -> str | None:
    """One line naming the environment variables a settings model refused, never their values
    (they may be secrets); None when ``error`` is not about settings."""
    if isinstance(error, SettingsError):
        # pydantic-settings names the field ("error parsing value for field "x" from source
        # "EnvSettingsSource"), not the variable an operator set: name the variables it may be
        found = re.search(r'field "([^"]+)"', str(error))
        if found is None:
            return f"invalid setting: {error}"
        names = [
            f"{env_prefix(model)}{found.group(1).upper()}"
            for _, model in settings_models()
            if found.group(1) in model.model_fields
        ]
        return f"invalid setting {' or '.join(names) or found.group(1)}: not a valid value (a list or object is JSON)"
    if not isinstance(error, ValidationError):
        return None
    model = next((m for _, m in settings_models() if m.__name__ == error.title), None)
    if model is None:
        return None
    prefix = env_prefix(model)
    parts = []
    for err in error.errors(include_input=False, include_url=False, include_context=False):
        loc = err.get("loc") or ()
        # a rule across fields has no field: the variables' common prefix names the group
        name = f"{prefix}{str(loc[0]).upper()}" if loc else f"{prefix}*"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{name}: {message}")
    return "invalid setting " + "; ".join(parts)


def check_settings() -> None:
    """Read every domain's settings once, so a bad value fails at start, not on a request."""
    for _group, model in settings_models():
        model()
