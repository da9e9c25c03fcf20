"""Keyed hashes of addresses, so suppressions outlive the person's data (erasure) yet still match.

The hash is HMAC-SHA256 (hex) of the *normalised* address with the platform secret
(``get_settings().resolved_secret_key()``), so ``Jane@X.com`` and ``jane@x.com`` hash alike.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from sqlalchemy import Connection, text

from leadpool.errors import InvalidInput, LeadpoolError
from leadpool.ingestion.normalize import (
    NotNormalisable,
    normalize_email,
    normalize_linkedin_url,
    normalize_phone,
)

ADDRESS_TYPES = ("email", "phone", "linkedin")


def normalize_address(kind: str, value: str, *, region: str | None = None) -> str:
    """The canonical form of an address of type ``kind`` (email | phone | linkedin).

    Phones without a leading ``+`` need ``region`` (ISO alpha-2). Raises InvalidInput when the
    value is not a usable address of that type.
    """
    try:
        if kind == "email":
            result = normalize_email(value)
        elif kind == "phone":
            result = normalize_phone(value, region)
        elif kind == "linkedin":
            result = normalize_linkedin_url(value)
        else:
            raise InvalidInput(f"unknown address type {kind!r} (expected one of {', '.join(ADDRESS_TYPES)})")
    except NotNormalisable as e:
        raise InvalidInput(f"invalid {kind} address: {e}") from None
    if result is None:
        raise InvalidInput(f"empty {kind} address")
    return result


def hmac_hex(normalised: str, key: bytes) -> str:
    """HMAC-SHA256 hex of an already normalised address (the importer's hot path)."""
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


def older_hmacs(kind: str, normalised: str, key: bytes) -> list[str]:
    """Other keyed hashes a suppression of this address may be stored under: before migration
    0045 a LinkedIn slug was hashed in the Unicode form it came in, and one written decomposed
    (NFD, as macOS and some exports write it) kept that hash for good (no migration can rehash:
    it holds no key, and an erased person's URL is gone). Whoever tests a LinkedIn URL against
    suppressions asks for these too. An ASCII slug (nearly all) has no other form: one isascii()."""
    if kind != "linkedin" or normalised.isascii():
        return []
    decomposed = unicodedata.normalize("NFD", normalised)
    return [hmac_hex(decomposed, key)] if decomposed != normalised else []


def address_hmac(kind: str, value: str, key: bytes, *, region: str | None = None) -> str:
    """HMAC-SHA256 hex of the normalised address: the ``value_hmac`` of ``suppressions``."""
    return hmac_hex(normalize_address(kind, value, region=region), key)


def key_fingerprint(key: bytes) -> str:
    """A fingerprint that names the key without revealing it (an HMAC of a constant)."""
    return hmac.new(key, b"leadpool secret key fingerprint", hashlib.sha256).hexdigest()[:32]


def check_key(conn: Connection, key: bytes) -> None:
    """Refuse a secret key other than the one this database's hashes were made with.

    The first key a database sees is kept (as its fingerprint). A second host that generated its
    own key under its LEADPOOL_HOME would hash addresses differently, and suppressions (erasure
    above all) would stop matching what it imports. Raises LeadpoolError naming the remedy.
    """
    mine = key_fingerprint(key)
    conn.execute(
        text(
            "INSERT INTO platform_keys (name, fingerprint) VALUES ('secret_key', :f) "
            "ON CONFLICT (name) DO NOTHING"
        ),
        {"f": mine},
    )
    kept = conn.execute(text("SELECT fingerprint FROM platform_keys WHERE name = 'secret_key'")).scalar_one()
    if kept != mine:
        raise LeadpoolError(
            "this process's secret key is not the one the database's keyed hashes were made with: "
            "set LEADPOOL_SECRET_KEY to the same value on every host using this database"
        )
