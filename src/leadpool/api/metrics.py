"""Prometheus metrics: gate decisions by code, events by type, allocation and import counters,
webhooks, and request latency.

Counted at the API edge, where each result is known. With several uvicorn workers ``leadpool
serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker starts, and ``/metrics`` then adds up
every worker's numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_LATENCY = Histogram(
    "leadpool_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DECISIONS = Counter("leadpool_gate_decisions_total", "Gate decisions.", ["decision"])
DECISION_REASONS = Counter(
    "leadpool_gate_decision_reasons_total", "Reasons given by gate decisions, by code.", ["code"]
)
# "via" is how the event arrived (api, or the webhook provider), never a caller-chosen string,
# so the number of label values stays bounded
EVENTS = Counter("leadpool_events_total", "Events recorded, by type and how they arrived.", ["type", "via"])
WEBHOOKS = Counter(
    "leadpool_webhooks_total", "Webhook deliveries, by provider and status.", ["provider", "status"]
)
ALLOCATIONS = Counter("leadpool_allocations_total", "On-demand allocations requested.")
ALLOCATED_LEADS = Counter("leadpool_allocated_leads_total", "Leads allocated, by origin.", ["origin"])
ALLOCATION_SHORTFALL = Counter("leadpool_allocation_shortfall_leads_total", "Leads asked for but not found.")
IMPORTED_RECORDS = Counter("leadpool_imported_records_total", "Records imported, by outcome.", ["outcome"])


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def count_decision(decision: str, codes: Iterable[str]) -> None:
    DECISIONS.labels(decision=decision).inc()
    for code in codes:
        DECISION_REASONS.labels(code=code).inc()


def render() -> tuple[bytes, str]:
    """The exposition text of every metric (summed over workers in multi-process mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class LatencyMiddleware:
    """Times each request, labelled by its route template (not the raw path, to bound labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            REQUEST_LATENCY.labels(method=method, route=template, status=str(status)).observe(
                time.perf_counter() - start
            )
