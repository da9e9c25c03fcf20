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
address. Only tokens no one can guess have it: agency keys (random, 256 bits) and an admin token
of at least ``STRONG_ADMIN_TOKEN`` characters (the generated one has 49). Behind a shared address
the exception answers a right token differently from a wrong one during a lockout, so for a short
chosen admin token (the weak kind the throttle exists for) it would tell a guesser when it has
guessed right; such a token waits out a lockout like a guess. ``sign_in_trust`` keeps the
exception for every worker, naming the principal as ``admin`` or by the agency key's stored hash
(never a token); each process remembers its own recent ones, so a signed-in client's requests
cost no query for this.

An address's sign-ins are decided one at a time (a transaction lock on the address, from the
count's read to the failure's or the trust's commit): checked and counted in separate steps,
every guess in flight when the count reached the limit got through (30 of 120 concurrent ones).
The caller's session is used and committed there, before anything else of the request (the
failure must stay written though the request then fails): a second connection per sign-in could
exhaust the pool under a spray of guesses.
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

from leadpool.api.auth import AGENCY_KEY_PREFIX

LIMIT = 20
WINDOW_SECONDS = 60.0
STRONG_ADMIN_TOKEN = 32  # characters: an admin token this long passes a lockout once it signed in
TRUST_SECONDS = 3600.0  # how long a principal that signed in from an address passes its lockout
_REFRESH_SECONDS = 300.0  # how often a process renews a trust it keeps using
_MAX_TRUSTED = 10_000  # this process's memory of trusted (address, token) pairs stays bounded
_LOCKED = "leadpool.sign_in_lock"  # session.info: this session holds an address's lock
_PRUNE = 100  # stale rows deleted per write: the tables stay small under a spray from many addresses

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('sign-in:' || :address, 0))")
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
        """Seconds until ``address`` may try ``token`` again, or None when it may now: then
        ``failed`` or ``succeeded`` must follow in the same session (they end its transaction,
        which holds the address's lock)."""
        strong = token if token is not None and self._strong(token) else None
        if strong is not None and self._known(address, strong, TRUST_SECONDS):
            return None
        session.execute(_LOCK, {"address": address})
        session.info[_LOCKED] = True
        row = session.execute(
            _STATE, {"address": address, "subject": self._subject(strong) if strong is not None else ""}
        ).one()
        now: datetime = row.now
        trusted: datetime | None = row.at
        if strong is not None and trusted is not None and trusted > now - timedelta(seconds=TRUST_SECONDS):
            self._remember(address, strong, time.monotonic() - (now - trusted).total_seconds())
            return None
        failures: list[datetime] = row.failures or []
        recent = [f for f in failures if f > now - timedelta(seconds=self.window)]
        if len(recent) < self.limit:
            return None
        oldest = recent[-self.limit]
        return max(1, math.ceil((oldest + timedelta(seconds=self.window) - now).total_seconds()))

    def may_try(self, session: Session, address: str) -> int | None:
        """``retry_after`` for a credential that is not a bearer token (a webhook's signature or
        shared secret), ending ``session``'s transaction (and the address's lock) at once: the
        delivery is handled in a transaction of its own, and ``failed`` counts it if it fails."""
        wait = self.retry_after(session, address)
        session.info.pop(_LOCKED, None)
        session.commit()
        return wait

    def failed(self, session: Session, address: str) -> None:
        """Count a failed sign-in from ``address``; commits ``session``."""
        session.execute(_FAILED, {"address": address, "window": self.window, "limit": self.limit})
        session.execute(_PRUNE_FAILURES, {"window": self.window, "n": _PRUNE})
        session.info.pop(_LOCKED, None)
        session.commit()

    def succeeded(self, session: Session, address: str, token: str) -> None:
        """``token`` signed in from ``address``: that address's lockout no longer holds it back
        (a strong token). Commits ``session`` when it holds the address's lock or writes (at most
        every few minutes per token and address)."""
        locked = session.info.pop(_LOCKED, False)
        if not self._strong(token):
            if locked:
                session.commit()
            return
        if not locked and self._known(address, token, _REFRESH_SECONDS):
            return
        session.execute(_TRUSTED, {"address": address, "subject": self._subject(token)})
        session.execute(_PRUNE_TRUST, {"trust": TRUST_SECONDS, "n": _PRUNE})
        session.commit()
        self._remember(address, token, time.monotonic())

    def _strong(self, token: str) -> bool:
        if token.startswith(AGENCY_KEY_PREFIX):
            return True  # a wrong one is no one's; a right one is random
        return len(self._admin_token) >= STRONG_ADMIN_TOKEN and self._is_admin(token)

    def _is_admin(self, token: str) -> bool:
        raw = token.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(raw, self._admin_token.encode("utf-8", "surrogatepass"))

    def _subject(self, token: str) -> str:
        if self._is_admin(token):
            return "admin"
        # a valid key's is what ``agencies.api_key_hash`` holds
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()

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
