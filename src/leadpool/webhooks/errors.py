"""Webhook failures, rendered by the API as 401 (not authentic) or 409 (replayed)."""

from __future__ import annotations

from leadpool.errors import LeadpoolError


class WebhookUnauthorized(LeadpoolError):
    """The webhook delivery is not authentic (unsigned, forged or stale)."""

    status_code = 401


class WebhookReplay(LeadpoolError):
    """This signed webhook delivery was already received."""

    status_code = 409
