"""What an event looks like coming in (from a webhook, the CLI or the API) and what recording it did."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadpool.gate.request import normalize_sender
from leadpool.limits import EARLIEST, LATEST, MAX_ID

EventType = Literal[
    "hard_bounce",
    "soft_bounce",
    "complaint",
    "unsubscribe",
    "reply",
    "converted",
    "delivered",
    "opened",
    "clicked",
    "sender_block",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

ReplyCategory = Literal[
    "interested", "not_interested", "unsubscribe", "out_of_office", "wrong_person", "other"
]
REPLY_CATEGORIES: tuple[str, ...] = ReplyCategory.__args__  # type: ignore[attr-defined]

Channel = Literal["email", "linkedin", "sms", "phone"]


_SURROGATE = re.compile("[\ud800-\udfff]")


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        value = value.replace("\x00", "")
        # a lone UTF-16 surrogate (valid JSON: half an emoji left when a provider cut a reason
        # short) cannot be encoded for the database either
        return value.encode("utf-8", "replace").decode("utf-8") if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


class EventIn(BaseModel):
    """One event about one person (by lead id, or by an address the pool may not even hold)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: EventType
    lead_id: int | None = Field(None, gt=0, lt=MAX_ID + 1)
    email: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    channel: Channel | None = Field(
        None, description="Defaults from the address given: email, else sms for a phone, else linkedin."
    )
    occurred_at: datetime = Field(description="When it happened at the provider (timezone-aware).")
    source: str = Field(min_length=1, max_length=100, description="sendgrid, mailgun, ..., api, cli")
    provider_event_id: str = Field(min_length=1, max_length=500, description="Unique per source.")
    category: ReplyCategory | None = Field(None, description="Reply category from the sending tool.")
    text: str | None = Field(
        None, max_length=100_000, description="Raw reply text, classified if no category."
    )
    sender: str | None = None
    provider_message_id: str | None = None
    campaign_id: int | None = Field(
        None, gt=0, lt=MAX_ID + 1, description="Our campaign id, when the source knows it."
    )
    detail: dict[str, Any] = Field(default_factory=dict, description="smtp_status, bounce class, ...")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL's text and jsonb cannot hold NUL (nor a lone surrogate), and it never means
        # anything in an event: one in a reply's text must not fail the event (nor, in a webhook,
        # the provider's whole batch)
        return _strip_nul(data)

    @field_validator("email", "phone", "linkedin_url", "sender", "provider_message_id", "text")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("sender")
    @classmethod
    def _one_spelling(cls, v: str | None) -> str | None:
        # as the gate stores it, so a policy block counts against the sender it capped
        return normalize_sender(v) if v else v

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError("occurred_at needs a time zone (e.g. 2025-01-01T00:00:00Z)")
        # effects add months to it (cooling, pauses): a far-future date would overflow them
        if not EARLIEST <= v < LATEST:
            raise ValueError(f"occurred_at {v.isoformat()} is not between 1970 and 2999")
        return v

    @model_validator(mode="after")
    def _who_and_where(self) -> EventIn:
        if not (self.lead_id or self.email or self.phone or self.linkedin_url or self.provider_message_id):
            # the message id names the touch, and the touch its lead (checked when recorded)
            raise ValueError("an event needs lead_id, email, phone, linkedin_url or provider_message_id")
        if self.channel is None:
            if self.email:
                self.channel = "email"
            elif self.phone:
                self.channel = "sms"
            elif self.linkedin_url:
                self.channel = "linkedin"
        if self.category is not None and self.type != "reply":
            raise ValueError(f"category applies to replies only, not to {self.type}")
        return self


@dataclass
class EventOutcome:
    """The stored event and what it changed (``effects`` are stable codes, e.g. ``lead:replied``)."""

    event_id: int
    duplicate: bool
    lead_id: int | None
    effects: list[str] = field(default_factory=list)
    type: str | None = None
    category: str | None = None
