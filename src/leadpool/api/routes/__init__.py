"""One router per domain; the app includes them in this order."""

from __future__ import annotations

from fastapi import APIRouter

from leadpool.api.routes import (
    agencies,
    campaigns,
    consents,
    dead_domains,
    events,
    jobs,
    leads,
    ops,
    pool,
    raw_payloads,
    senders,
    sends,
    unsubscribe,
    webhooks,
)

ROUTERS: list[APIRouter] = [
    ops.router,
    agencies.router,
    leads.router,
    consents.router,
    raw_payloads.router,
    pool.router,
    pool.blocklist_router,
    campaigns.router,
    sends.router,
    senders.router,
    dead_domains.router,
    events.router,
    webhooks.router,
    unsubscribe.router,
    jobs.router,
]
