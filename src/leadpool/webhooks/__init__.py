"""Provider webhooks: verify, parse into events, record them. One adapter module per provider.

``handle`` is the single entry point (the API mounts it at ``POST /v1/webhooks/{provider}``).
Authentication comes first, against the raw body bytes, before anything is parsed or stored.

Replays: where the provider signs a one-time value (Mailgun token, SNS MessageId, SendGrid
timestamp + signature) a second delivery of it is refused with WebhookReplay (409). Where it
does not (Postmark, Smartlead, Instantly) a replayed body is accepted but every event in it is a
duplicate of a stored one and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType

from pydantic import ValidationError
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from leadpool.db.refusals import refused_value
from leadpool.errors import InvalidInput, LeadpoolError, NotFound
from leadpool.events import EventOutcome, record_event
from leadpool.events.record import lock_leads_of
from leadpool.models import WebhookReceipt
from leadpool.webhooks import instantly, mailgun, postmark, sendgrid, ses, smartlead
from leadpool.webhooks.certs import CertStore
from leadpool.webhooks.common import Unusable, first_error
from leadpool.webhooks.errors import WebhookReplay, WebhookUnauthorized
from leadpool.webhooks.settings import WebhookSettings

ADAPTERS: dict[str, ModuleType] = {
    m.NAME: m for m in (sendgrid, mailgun, postmark, ses, smartlead, instantly)
}


@dataclass
class WebhookResult:
    events_recorded: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)  # events that could not be recorded, and why
    outcomes: list[EventOutcome] = field(default_factory=list)
    subscribe_url: str | None = None  # SNS SubscriptionConfirmation: confirm by visiting it


def handle(
    provider: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    session: Session,
    settings: WebhookSettings | None = None,
    now: datetime | None = None,
    certs: CertStore | None = None,
) -> WebhookResult:
    """Verify one delivery, then record every event in it in ``session`` (the caller commits).

    Raises NotFound for an unknown provider, WebhookUnauthorized (401) for an unsigned, forged or
    stale delivery, WebhookReplay (409) for a one-time token seen before, InvalidInput (422) for a
    body that is authentic but malformed. An event the pool cannot use (say, an unparseable
    address) is skipped and listed in ``rejected``; the others in the batch are still recorded.
    """
    adapter = ADAPTERS.get(provider)
    if adapter is None:
        raise NotFound(f"unknown webhook provider {provider!r} (known: {', '.join(sorted(ADAPTERS))})")
    settings = settings or WebhookSettings()
    now = now or datetime.now(UTC)
    if adapter is ses:
        ses.verify(headers, raw_body, settings, now, certs=certs)
    else:
        adapter.verify(headers, raw_body, settings, now)

    token = adapter.replay_key(headers, raw_body)
    if token is not None:
        stmt = (
            pg_insert(WebhookReceipt)
            .values(provider=provider, replay_key=token, received_at=now)
            .on_conflict_do_nothing(constraint="uq_webhook_receipts_provider_replay_key")
            .returning(WebhookReceipt.id)
        )
        if session.execute(stmt).scalar() is None:
            raise WebhookReplay(f"{provider}: this signed delivery was already received (replay)")

    try:
        events = adapter.parse(raw_body, headers)
    except ValidationError as e:
        raise InvalidInput(f"{provider}: {first_error(e)}") from None
    result = WebhookResult(subscribe_url=ses.subscribe_url(raw_body) if adapter is ses else None)
    lock_leads_of(session, [e for e in events if not isinstance(e, Unusable)])
    for event in events:
        if isinstance(event, Unusable):
            result.rejected.append(f"{event.ref}: {event.reason}")
            continue
        try:
            with session.begin_nested():
                outcome = record_event(session, event, at=now)
        except LeadpoolError as e:
            result.rejected.append(f"{event.provider_event_id}: {e.message}")
            continue
        except DBAPIError as e:
            # a value the database refused (its savepoint is rolled back): one event lost, not the
            # provider's whole batch, which it would otherwise retry, and fail, for a day. Anything
            # else (a lock timeout, a deadlock, a lost connection) may pass: the delivery fails
            # and the provider retries it
            if not refused_value(e):
                raise
            result.rejected.append(
                f"{event.provider_event_id}: the database refused it ({type(e.orig).__name__})"
            )
            continue
        result.outcomes.append(outcome)
        if outcome.duplicate:
            result.duplicates += 1
        else:
            result.events_recorded += 1
    return result


def prune_receipts(session: Session, *, now: datetime, settings: WebhookSettings | None = None) -> int:
    """Forget one-time tokens too old to matter; returns how many were deleted.

    A delivery is refused as stale once its signed timestamp is older than the tolerance, and its
    receipt was written no earlier than (signed timestamp - tolerance), so receipts older than
    twice the (longest) tolerance can never again be the only thing stopping a replay.
    """
    tolerance = (settings or WebhookSettings()).longest_tolerance_seconds
    cutoff = now - timedelta(seconds=2 * tolerance)
    return len(
        session.execute(
            delete(WebhookReceipt).where(WebhookReceipt.received_at < cutoff).returning(WebhookReceipt.id)
        ).all()
    )


__all__ = [
    "ADAPTERS",
    "WebhookReplay",
    "WebhookResult",
    "WebhookSettings",
    "WebhookUnauthorized",
    "handle",
    "prune_receipts",
]
