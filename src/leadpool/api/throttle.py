"""Failed sign-ins per client address: a guessed token is refused for a while after too many.

Bearer tokens and agency keys are long and random, but an operator may choose a weak admin token,
and nothing else stopped a client from guessing at the API's or the dashboard's full speed.
Counted in this process (each ``serve`` worker counts its own): after ``limit`` failures within
``window`` seconds an address gets 429 with Retry-After until its oldest failure leaves the
window. The address is the connection's peer: behind a proxy all clients share it, so the limit
is generous, and forwarded headers are not trusted (a client could claim any address).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

LIMIT = 20
WINDOW_SECONDS = 60.0
_MAX_ADDRESSES = 10_000  # memory stays bounded under a spray from many addresses


class FailedAuth:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        now = time.monotonic()
        with self._lock:
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
