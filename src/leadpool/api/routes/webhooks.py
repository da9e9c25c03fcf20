"""Provider webhooks: authenticated by each provider's own signature or secret, not a bearer token.

The raw body bytes go to :func:`leadpool.webhooks.handle` untouched (signatures cover them). The
events are committed before the answer leaves: a 2xx means stored; a database failure is a 503,
so the provider delivers again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from leadpool import webhooks
from leadpool.api import metrics
from leadpool.api.deps import database
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import WebhookResult
from leadpool.db import session_scope

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=COMMON_RESPONSES)
Provider = Annotated[str, Path(pattern=r"^[a-z]{1,32}$", description=", ".join(sorted(webhooks.ADAPTERS)))]

_BODY = {
    "requestBody": {
        "required": True,
        "description": "The provider's payload exactly as it sends it (JSON or form-encoded).",
        "content": {"application/json": {"schema": {}}},
    }
}


@router.post("/{provider}", response_model=WebhookResult, openapi_extra=_BODY)
async def receive(provider: Provider, request: Request) -> WebhookResult:
    """Verify the delivery against the raw body, record its events (idempotently), then answer."""
    raw = await request.body()
    headers = dict(request.headers)
    settings = getattr(request.app.state, "webhook_settings", None)
    certs = getattr(request.app.state, "webhook_certs", None)

    def record() -> webhooks.WebhookResult:
        with session_scope(database(request)) as session:
            return webhooks.handle(provider, headers, raw, session=session, settings=settings, certs=certs)

    try:
        result = await run_in_threadpool(record)
    except Exception as exc:
        metrics.WEBHOOKS.labels(provider=_label(provider), status=str(getattr(exc, "status_code", 500))).inc()
        raise
    metrics.WEBHOOKS.labels(provider=provider, status="200").inc()
    for outcome in result.outcomes:
        if not outcome.duplicate:
            metrics.EVENTS.labels(type=outcome.type or "unknown", via=provider).inc()
    return WebhookResult(
        provider=provider,
        events_recorded=result.events_recorded,
        duplicates=result.duplicates,
        rejected=result.rejected,
        subscribe_url=result.subscribe_url,
    )


def _label(provider: str) -> str:
    return provider if provider in webhooks.ADAPTERS else "unknown"
