"""Provider webhooks: authenticated by each provider's own signature or secret, not a bearer token.

The raw body bytes go to :func:`leadpool.webhooks.handle` untouched (signatures cover them). The
events are committed before the answer leaves: a 2xx means stored; a database failure is a 503,
so the provider delivers again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool

from leadpool import webhooks
from leadpool.api import metrics
from leadpool.api.deps import client_address, database
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.api.throttle import FailedAuth
from leadpool.client.models import WebhookResult
from leadpool.db import session_scope
from leadpool.webhooks.errors import WebhookUnauthorized

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

    db = database(request)
    throttle: FailedAuth = request.app.state.failed_auth
    address = client_address(request)

    def record() -> webhooks.WebhookResult:
        # only a secret an operator chose (an adapter's CHOSEN_SECRET) is throttled: the others
        # sign with keys nobody can guess, and throttling them let anyone sending bad deliveries
        # from the provider's address (another customer of it, a shared proxy) keep its real ones out
        adapter = webhooks.ADAPTERS.get(provider)
        if adapter is None or not adapter.CHOSEN_SECRET:
            with session_scope(db) as session:
                return webhooks.handle(
                    provider, headers, raw, session=session, settings=settings, certs=certs
                )
        # a wrong shared secret counts as a failed sign-in from its address, as a wrong bearer
        # token does: Postmark's user:password and Smartlead's and Instantly's secrets are chosen
        # by an operator, the weak kind the throttle exists for, and a right guess writes events
        # for every agency's leads
        with session_scope(db) as session:
            wait = throttle.may_try(session, address)
        if wait is not None:
            raise HTTPException(
                429,
                f"Too many unauthenticated deliveries from this address; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        try:
            with session_scope(db) as session:
                return webhooks.handle(
                    provider, headers, raw, session=session, settings=settings, certs=certs
                )
        except WebhookUnauthorized:
            with session_scope(db) as session:
                throttle.retry_after(session, address)  # the address's lock, then the count
                throttle.failed(session, address)
            raise

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
