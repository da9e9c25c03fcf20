"""Failed sign-ins per client address: a guessed token is refused for a while after too many.

Bearer tokens and agency keys are long and random, but an operator may choose a weak admin token,
and nothing else stopped a client from guessing at the API's or the dashboard's full speed. After
``limit`` failures within ``window`` seconds an address gets 429 with Retry-After until its oldest
failure leaves the window. The address is the connection's peer: behind a proxy all clients share
it, so the limit is generous, and forwarded headers are not trusted (a client could claim any
address).

Counted in the database (``sign_in_failures``, migration 0041), on the database's clock: every
``serve`` worker and every host on one database share one count. Each process once counted its
own, so ``--workers 4`` gave a guesser four times the attempts.

A principal that already signed in from an address is not held back by that address's lockout
(the "device cookie" defence against lockout in OWASP's authentication guidance): one
misconfigured client guessing wrong must not stop its neighbours' gate checks behind the same
address, and a guesser learns nothing from it, since only a token that already signed in gets
through. ``sign_in_trust`` keeps it for every worker, naming the principal as ``admin`` or by the
agency key's stored hash (never a token); each process remembers its own recent ones, so a
signed-in client's requests cost no query for this.

The caller's session is used and committed where a row is written (before anything else of the
request; the failure must stay written though the request then fails): a second connection per
sign-in could exhaust the pool under a spray of guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

LIMIT = 20
WINDOW_SECONDS = 60.0
TRUST_SECONDS = 3600.0  # how long a principal that signed in from an address passes its lockout
_REFRESH_SECONDS = 300.0  # how often a process renews a trust it keeps using
_MAX_TRUSTED = 10_000  # this process's memory of trusted (address, token) pairs stays bounded
_PRUNE = 100  # stale rows deleted per write: the tables stay small under a spray from many addresses

_STATE = text(
    "SELECT f.failures, t.at, statement_timestamp() AS now FROM (SELECT 1) AS one "
    "LEFT JOIN sign_in_failures f ON f.address = :address "
    "LEFT JOIN sign_in_trust t ON t.address = :address AND t.subject = :subject"
)
# the newest ``limit`` failures inside the window, oldest first
_FAILED = text(
    "INSERT INTO sign_in_failures AS f (address, failures, last_at) "
    "VALUES (:address, ARRAY[statement_timestamp()], statement_timestamp()) "
    "ON CONFLICT (address) DO UPDATE SET last_at = statement_timestamp(), failures = ARRAY("
    " SELECT x FROM (SELECT x FROM unnest(f.failures || statement_timestamp()) AS x"
    "  WHERE x > statement_timestamp() - make_interval(secs => :window) ORDER BY x DESC LIMIT :limit) AS recent"
    " ORDER BY x)"
)
_PRUNE_FAILURES = text(
    "DELETE FROM sign_in_failures WHERE address IN (SELECT address FROM sign_in_failures"
    " WHERE last_at < statement_timestamp() - make_interval(secs => :window) LIMIT :n FOR UPDATE SKIP LOCKED)"
)
_TRUSTED = text(
    "INSERT INTO sign_in_trust (address, subject, at) VALUES (:address, :subject, statement_timestamp()) "
    "ON CONFLICT (address, subject) DO UPDATE SET at = EXCLUDED.at"
)
_PRUNE_TRUST = text(
    "DELETE FROM sign_in_trust WHERE (address, subject) IN (SELECT address, subject FROM sign_in_trust"
    " WHERE at < statement_timestamp() - make_interval(secs => :trust) LIMIT :n FOR UPDATE SKIP LOCKED)"
)


class FailedAuth:
    def __init__(self, admin_token: str, limit: int = LIMIT, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._admin_token = admin_token
        self._lock = threading.Lock()
        # (address, token digest) -> when this process last knew it trusted; digests only, never tokens
        self._trusted: OrderedDict[tuple[str, bytes], float] = OrderedDict()

    def retry_after(self, session: Session, address: str, token: str | None = None) -> int | None:
        """Seconds until ``address`` may try ``token`` again, or None when it may now."""
        if token is not None and self._known(address, token, TRUST_SECONDS):
            return None
        row = session.execute(
            _STATE, {"address": address, "subject": self._subject(token) if token else ""}
        ).one()
        failures: list[datetime] = row.failures or []
        now: datetime = row.now
        if token is not None and row.at is not None and row.at > now - timedelta(seconds=TRUST_SECONDS):
            self._remember(address, token, time.monotonic() - (now - row.at).total_seconds())
            return None
        recent = [f for f in failures if f > now - timedelta(seconds=self.window)]
        if len(recent) < self.limit:
            return None
        oldest = recent[-self.limit]
        return max(1, math.ceil((oldest + timedelta(seconds=self.window) - now).total_seconds()))

    def failed(self, session: Session, address: str) -> None:
        """Count a failed sign-in from ``address``; commits ``session``."""
        session.execute(_FAILED, {"address": address, "window": self.window, "limit": self.limit})
        session.execute(_PRUNE_FAILURES, {"window": self.window, "n": _PRUNE})
        session.commit()

    def succeeded(self, session: Session, address: str, token: str) -> None:
        """``token`` signed in from ``address``: that address's lockout no longer holds it back.
        Commits ``session`` when it writes (at most every few minutes per token and address)."""
        if self._known(address, token, _REFRESH_SECONDS):
            return
        session.execute(_TRUSTED, {"address": address, "subject": self._subject(token)})
        session.execute(_PRUNE_TRUST, {"trust": TRUST_SECONDS, "n": _PRUNE})
        session.commit()
        self._remember(address, token, time.monotonic())

    def _subject(self, token: str) -> str:
        raw = token.encode("utf-8", "surrogatepass")
        if hmac.compare_digest(raw, self._admin_token.encode("utf-8", "surrogatepass")):
            return "admin"
        return hashlib.sha256(raw).hexdigest()  # a valid key's is what ``agencies.api_key_hash`` holds

    def _known(self, address: str, token: str, within: float) -> bool:
        with self._lock:
            seen = self._trusted.get((address, _digest(token)))
        return seen is not None and seen > time.monotonic() - within

    def _remember(self, address: str, token: str, at: float) -> None:
        with self._lock:
            key = (address, _digest(token))
            self._trusted.pop(key, None)
            self._trusted[key] = at  # most recent last
            while len(self._trusted) > _MAX_TRUSTED:
                self._trusted.popitem(last=False)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
