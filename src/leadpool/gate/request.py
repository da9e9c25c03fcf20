"""One question to the gate, checked before anything is asked or stored."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from leadpool.errors import InvalidInput
from leadpool.gate.policy import CHANNELS
from leadpool.limits import EARLIEST, LATEST, MAX_ID


def require_aware(at: datetime | None, what: str) -> None:
    if at is not None and at.tzinfo is None:
        raise InvalidInput(f"{what} {at.isoformat()} has no time zone; give an aware instant")


def normalize_sender(sender: str) -> str:
    """One spelling per sender: trimmed, and a mailbox lower-cased (as webhooks name it), so
    ``Anna@Agency.com`` and ``anna@agency.com `` share one daily cap and one block count."""
    sender = sender.strip()
    return sender.lower() if "@" in sender else sender


def sender_key(channel: str, sender: str) -> str:
    """A sender's key in the gate's counters and pauses: ``channel:sender`` (sender normalised)."""
    return f"{channel}:{sender}"


@dataclass(frozen=True)
class CheckRequest:
    """One question to the gate: may this campaign touch this lead on this channel now?"""

    lead_id: int
    campaign_id: int
    channel: str
    sender: str | None = None
    at: datetime | None = None
    reserve: bool = True
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.sender, str):  # anything else is refused by validate()
            object.__setattr__(self, "sender", normalize_sender(self.sender))
        if isinstance(self.at, datetime) and self.at.tzinfo is not None:
            # one instant, one answer: an aware datetime in a zone with DST does wall-clock
            # arithmetic (a week across a change is 167 or 169 hours, a 15-minute TTL an hour
            # more on the fall-back night), so the gate computes in UTC whatever the caller wrote
            with contextlib.suppress(OverflowError, ValueError):  # out of range: validate() says so
                object.__setattr__(self, "at", self.at.astimezone(UTC))

    @property
    def sender_key(self) -> str | None:
        return sender_key(self.channel, self.sender) if self.sender is not None else None

    def validate(self) -> None:
        for name in ("lead_id", "campaign_id"):
            value = getattr(self, name)
            # an id given as a string (a queue message, a form) would be accepted by SQL but miss
            # the lead's own touches and lock key in memory, which are keyed by int
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
                raise InvalidInput(f"{name} must be a positive integer (a bigint), not {value!r}")
        if not isinstance(self.channel, str) or self.channel not in CHANNELS:
            raise InvalidInput(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")
        if self.at is not None and not isinstance(self.at, datetime):
            raise InvalidInput(f"at must be a datetime with a time zone, not {type(self.at).__name__}")
        require_aware(self.at, "at")
        if self.at is not None and not EARLIEST <= self.at < LATEST:
            # a reservation in the year 9999 would break every timeline that lists it
            raise InvalidInput(f"at {self.at.isoformat()} is not between 1970 and 2999")
        for name in ("sender", "idempotency_key"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InvalidInput(f"{name} must be a string, not {type(getattr(self, name)).__name__}")
        for name in ("sender", "idempotency_key"):
            if "\x00" in (getattr(self, name) or ""):
                raise InvalidInput(f"{name} contains a NUL character")
        if not isinstance(self.reserve, bool):
            raise InvalidInput(f"reserve must be true or false, not {self.reserve!r}")
        if self.sender is not None and not self.sender.strip():
            raise InvalidInput("sender is empty; leave it out instead")
        if self.idempotency_key is not None and not self.idempotency_key.strip():
            raise InvalidInput("idempotency_key is empty; leave it out instead")
