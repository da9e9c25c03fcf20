"""Failed sign-ins per client address: a guessed token is refused for a while after too many.

Bearer tokens and agency keys are long and random, but an operator may choose a weak admin token,
and nothing else stopped a client from guessing at the API's or the dashboard's full speed.
Counted in this process (each ``serve`` worker counts its own): after ``limit`` failures within
``window`` seconds an address gets 429 with Retry-After until its oldest failure leaves the
window. The address is the connection's peer: behind a proxy all clients share it, so the limit
is generous, and forwarded headers are not trusted (a client could claim any address).

A token that already signed in from an address is not held back by that address's lockout (the
"device cookie" defence against lockout in OWASP's authentication guidance): one misconfigured
client guessing wrong must not stop its neighbours' gate checks behind the same address, and a
guesser learns nothing from it, since only a token it already used successfully gets through.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict, deque

LIMIT = 20
WINDOW_SECONDS = 60.0
_MAX_ADDRESSES = 10_000  # memory stays bounded under a spray from many addresses
TRUST_SECONDS = 3600.0  # how long a token that signed in from an address passes its lockout
_MAX_TRUSTED = 10_000


class FailedAuth:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()
        # (address, token digest) -> when it last signed in; digests only, never tokens
        self._trusted: OrderedDict[tuple[str, bytes], float] = OrderedDict()

    def retry_after(self, address: str, token: str | None = None) -> int | None:
        """Seconds until ``address`` may try ``token`` again, or None when it may now."""
        now = time.monotonic()
        with self._lock:
            if token is not None:
                seen = self._trusted.get((address, _digest(token)))
                if seen is not None and seen > now - TRUST_SECONDS:
                    return None
            fails = self._fails.get(address)
            if fails is None:
                return None
            while fails and fails[0] <= now - self.window:
                fails.popleft()
            if len(fails) < self.limit:
                return None
            return max(1, math.ceil(fails[0] + self.window - now))

    def failed(self, address: str) -> None:
        with self._lock:
            fails = self._fails.pop(address, None) or deque(maxlen=self.limit)
            fails.append(time.monotonic())
            self._fails[address] = fails  # most recent last
            while len(self._fails) > _MAX_ADDRESSES:
                self._fails.popitem(last=False)

    def succeeded(self, address: str, token: str) -> None:
        """``token`` signed in from ``address``: that address's lockout no longer holds it back."""
        with self._lock:
            key = (address, _digest(token))
            self._trusted.pop(key, None)
            self._trusted[key] = time.monotonic()  # most recent last
            while len(self._trusted) > _MAX_TRUSTED:
                self._trusted.popitem(last=False)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
