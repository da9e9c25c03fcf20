"""SNS signing certificates: fetched only over HTTPS from an ``sns.<region>.amazonaws.com`` host, cached.

Tests (and operators who pin certificates) seed the cache with ``add``; nothing is fetched then.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from leadpool.webhooks.errors import WebhookUnauthorized

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")


def check_cert_url(url: str) -> None:
    """Refuse any certificate URL that is not HTTPS on an SNS host (a forger would host their own)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise WebhookUnauthorized(f"ses: SigningCertURL must be https: {url!r}")
    if parts.username or parts.password or parts.port not in (None, 443):
        raise WebhookUnauthorized(f"ses: SigningCertURL has credentials or a port: {url!r}")
    if not _SNS_HOST.match((parts.hostname or "").lower()):
        raise WebhookUnauthorized(f"ses: SigningCertURL host is not sns.<region>.amazonaws.com: {url!r}")
    if not parts.path.endswith(".pem"):
        raise WebhookUnauthorized(f"ses: SigningCertURL is not a .pem certificate: {url!r}")


def _fetch(url: str) -> bytes:
    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.content


class CertStore:
    """Certificates by URL; fetched once (thread-safe), bounded so a flood of URLs cannot grow it."""

    def __init__(self, fetch: Callable[[str], bytes] = _fetch, max_entries: int = 64) -> None:
        self._fetch = fetch
        self._max = max_entries
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def add(self, url: str, pem: bytes) -> None:
        check_cert_url(url)
        cert = x509.load_pem_x509_certificate(pem)
        with self._lock:
            if len(self._certs) >= self._max:
                self._certs.pop(next(iter(self._certs)))
            self._certs[url] = cert

    def get(self, url: str) -> x509.Certificate:
        check_cert_url(url)
        with self._lock:
            cert = self._certs.get(url)
        if cert is not None:
            return cert
        try:
            pem = self._fetch(url)
        except httpx.HTTPError as e:
            raise WebhookUnauthorized(f"ses: cannot fetch the signing certificate {url!r}: {e}") from None
        try:
            self.add(url, pem)
        except ValueError:
            raise WebhookUnauthorized(f"ses: {url!r} is not a PEM certificate") from None
        return self._certs[url]


default_cert_store = CertStore()
