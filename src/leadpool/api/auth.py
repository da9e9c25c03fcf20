"""Bearer-token authentication: one platform admin token and one API key per agency.

Agency keys are 256-bit random strings shown once at creation; only their SHA-256 is stored. A
slow password hash (bcrypt, argon2) exists to make guessing *low-entropy* secrets expensive; a
256-bit random key cannot be guessed whatever the hash costs, so a fast hash loses nothing and
lets every request find its agency through the unique index on ``agencies.api_key_hash`` in one
lookup. A stolen copy of the table still yields no usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool.api.settings import ApiSettings
from leadpool.config import Settings
from leadpool.models import Agency

AGENCY_KEY_PREFIX = "lpa_"
ADMIN_TOKEN_FILE = "admin_token"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the platform admin, or one agency."""

    kind: Literal["admin", "agency"]
    agency_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    @property
    def actor(self) -> str:
        """How the caller is named in history and audit rows."""
        return "admin" if self.is_admin else f"agency:{self.agency_id}"


ADMIN = Principal(kind="admin")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_agency_key() -> tuple[str, str]:
    """A fresh agency key and the hash to store; the key itself is never stored."""
    key = AGENCY_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


def issue_agency_key(session: Session, agency: Agency) -> str:
    """Give ``agency`` a fresh key (a key it had stops working at once); returns it, to be shown
    this once (API and CLI alike)."""
    key, agency.api_key_hash = new_agency_key()
    session.flush()
    return key


def resolve_admin_token(settings: Settings, api_settings: ApiSettings) -> tuple[str, bool]:
    """The admin token and whether it was generated just now (so the caller prints it once).

    ``LEADPOOL_ADMIN_TOKEN`` wins; otherwise the token kept in ``<home>/admin_token`` (0600),
    created on first start.
    """
    if api_settings.admin_token:
        return api_settings.admin_token, False
    path = settings.resolved_home() / ADMIN_TOKEN_FILE
    try:
        return path.read_text().strip(), False
    except FileNotFoundError:
        pass
    token = "lpadm_" + secrets.token_urlsafe(32)
    # O_EXCL: when several workers start at once only one creates the file, the others read it
    try:
        with path.open("x") as f:
            path.chmod(0o600)
            f.write(token)
    except FileExistsError:
        return path.read_text().strip(), False
    return token, True


def announce_admin_token(token: str, path_hint: str) -> None:
    """Print a freshly generated admin token, once, on stderr (never to logs)."""
    sys.stderr.write(
        f"leadpool: generated the admin token (kept in {path_hint}, shown only now):\n  {token}\n"
    )
    sys.stderr.flush()


def authenticate(session: Session, token: str, admin_token: str) -> Principal | None:
    """The principal a bearer token stands for, or None when it is nobody's."""
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        return ADMIN
    if not token.startswith(AGENCY_KEY_PREFIX):
        return None
    agency_id = session.scalar(select(Agency.id).where(Agency.api_key_hash == hash_key(token)))
    return Principal(kind="agency", agency_id=agency_id) if agency_id is not None else None
