"""Outreach events: bounces, complaints, unsubscribes, replies and conversions, and what they change.

``record_event`` is the one entry point; webhooks, the CLI and the API all end there.
"""

from leadpool.events.record import record_event
from leadpool.events.schemas import EVENT_TYPES, REPLY_CATEGORIES, EventIn, EventOutcome

__all__ = ["EVENT_TYPES", "REPLY_CATEGORIES", "EventIn", "EventOutcome", "record_event"]
