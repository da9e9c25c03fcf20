"""Reconciliation: read each configured provider's suppression lists and record what webhooks missed.

Webhook deliveries are lost when a provider's retries run out (compliance reference, sections 3
and 6.6), so ``reconcile`` pages through SendGrid's, Mailgun's, Postmark's and SES's suppression
APIs and records every entry as an event (source ``<provider>_suppression``): a hard bounce, a
complaint or an unsubscribe, suppressing the address whether or not the pool holds it. Recording is
idempotent: the event id is the list, the address's keyed hash (never the address) and the
entry's creation time, so a second run, or an entry a webhook already reported, changes nothing
(suppression is a set union).

Each list's newest creation time seen is kept in ``reconcile_marks`` once the list was read to
its end, and never later than that run's start; the next run reads from it less ``overlap_hours``
(``full`` ignores it). A page's events commit together; an entry that cannot be recorded is
listed in ``rejected`` (without its address). A list the provider refuses, that still fails after
retries, or that the database fails on, is reported in its provider's summary; the provider's
other lists and the other providers still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.db.refusals import failed, refused_value
from leadpool.errors import InvalidInput, LeadpoolError
from leadpool.events import EventIn, record_event
from leadpool.events.record import hash_addresses, lock_leads_of
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Event, ReconcileMark
from leadpool.webhooks.reconcile import mailgun, postmark, sendgrid, ses
from leadpool.webhooks.reconcile.base import (
    Entry,
    ProviderAuthError,
    ProviderError,
    ProviderHttp,
    Target,
    Unreadable,
)
from leadpool.webhooks.reconcile.settings import ReconcileSettings

PROVIDERS: dict[str, ModuleType] = {m.NAME: m for m in (sendgrid, mailgun, postmark, ses)}

#: called after each page: provider, list scope, entries read so far in that list
Progress = Callable[[str, str, int], None]


@dataclass
class ProviderSummary:
    provider: str
    entries_read: int = 0
    events_recorded: int = 0
    duplicates: int = 0
    skipped: int = 0  # entries that are not suppressions of the person (soft bounces, tag unsubscribes)
    older: int = 0  # entries before the mark less the overlap: read again, not recorded again
    rejected: list[str] = field(default_factory=list)  # entries that could not be recorded, and why
    lists: dict[str, str | None] = field(default_factory=dict)  # scope -> high-water mark after the run
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def configured_providers(settings: ReconcileSettings) -> list[str]:
    return [name for name, mod in PROVIDERS.items() if mod.configured(settings)]


def reconcile(
    db: Database,
    *,
    providers: Iterable[str] | None = None,
    full: bool = False,
    settings: ReconcileSettings | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
) -> list[ProviderSummary]:
    """Reconcile ``providers`` (default: every configured one); one summary per provider.

    Raises InvalidInput for an unknown provider name. A provider asked for by name but not
    configured, or failing, gets its ``error`` and the others still run."""
    settings = settings or ReconcileSettings()
    names = list(dict.fromkeys(providers)) if providers else configured_providers(settings)
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown:
        raise InvalidInput(f"unknown provider {unknown[0]!r} (known: {', '.join(PROVIDERS)})")
    summaries = []
    for name in names:
        summary = ProviderSummary(name)
        mod = PROVIDERS[name]
        if not mod.configured(settings):
            summary.error = f"{name}: not configured (set {mod.SETTING})"
        else:
            _provider(db, mod, settings, summary, full=full, progress=progress, sleep=sleep, now=now)
        summaries.append(summary)
    return summaries


def _provider(
    db: Database,
    mod: ModuleType,
    settings: ReconcileSettings,
    summary: ProviderSummary,
    *,
    full: bool,
    progress: Progress | None,
    sleep: Callable[[float], None],
    now: datetime | None,
) -> None:
    key = get_settings().resolved_secret_key()
    errors: list[str] = []
    refused: set[tuple[object, ...]] = set()
    for target in mod.targets(settings, key):
        if target.credentials() in refused:
            continue  # the same credentials were refused for another list: asking again is noise
        try:
            _list(db, mod, target, settings, summary, key, full=full, progress=progress, sleep=sleep, now=now)
        except ProviderError as e:
            errors.append(e.message)
            if isinstance(e, ProviderAuthError) and e.key_refused:
                refused.add(target.credentials())
        except SQLAlchemyError as e:
            # a lock timeout, a lost connection: its text may quote values, so only its class and
            # SQLSTATE are reported
            errors.append(f"{mod.NAME}: {target.scope}: {failed(e)}")
        # a failed list keeps its old mark (the next run reads it again); the provider's other
        # lists are still read: an unsubscribe list is not left unread because the bounces failed
        summary.error = "; ".join(errors) or None


def _list(
    db: Database,
    mod: ModuleType,
    target: Target,
    settings: ReconcileSettings,
    summary: ProviderSummary,
    key: bytes,
    *,
    full: bool,
    progress: Progress | None,
    sleep: Callable[[float], None],
    now: datetime | None,
) -> None:
    mark = None if full else _mark(db, mod.NAME, target.scope)
    since = mark - timedelta(hours=settings.overlap_hours) if mark is not None else None
    summary.lists[target.scope] = mark.isoformat() if mark else None
    # a mark is never later than the run's start: an entry dated ahead (an import's typo, a
    # provider's clock) would otherwise have every later run ask past what is still to come
    started = datetime.now(UTC)
    newest = mark
    http = ProviderHttp(
        mod.NAME,
        target,
        setting=mod.SETTING,
        max_attempts=settings.max_attempts,
        timeout=settings.timeout_seconds,
        sleep=sleep,
    )
    read = 0
    try:
        for page in mod.pages(http, since, settings.page_size):
            with session_scope(db) as session:
                local = since if target.time_filter else None
                seen = _record_page(session, mod.SOURCE, page, local, key, summary, now)
            if seen is not None and (newest is None or seen > newest):
                newest = seen
            read += len(page)
            if progress is not None:
                progress(mod.NAME, target.scope, read)
    finally:
        http.close()
    # only once the whole list was read: a list read half way may have skipped older pages
    if newest is not None:
        newest = min(newest, started)
        _save_mark(db, mod.NAME, target.scope, newest)
        summary.lists[target.scope] = newest.isoformat()


def _record_page(
    session: Session,
    source: str,
    page: list[Entry | Unreadable],
    since: datetime | None,
    key: bytes,
    summary: ProviderSummary,
    now: datetime | None,
) -> datetime | None:
    """Record one page's entries in ``session``; returns the newest creation time on it."""
    newest: datetime | None = None
    events: list[EventIn] = []
    for item in page:
        summary.entries_read += 1
        if isinstance(item, Unreadable):
            summary.rejected.append(item.reason)
            continue
        newest = item.created if newest is None or item.created > newest else newest
        if since is not None and item.created < since:
            summary.older += 1
            continue
        if item.skip is not None:
            summary.skipped += 1
            continue
        try:
            events.append(_event(source, item, key))
        except (InvalidInput, ValueError):
            summary.rejected.append(f"{item.list_id}: an entry whose address or time cannot be used")
    # what an earlier run (or a re-read of a list without a time filter) stored: one query a page,
    # not a savepoint and a lead lock per entry
    known = _known(session, source, [e.provider_event_id for e in events])
    summary.duplicates += sum(1 for e in events if e.provider_event_id in known)
    events = [e for e in events if e.provider_event_id not in known]
    # every lead the page writes locked at once, lowest id first, as a webhook batch does
    lock_leads_of(session, events)
    for event in events:
        try:
            with session.begin_nested():
                outcome = record_event(session, event, at=now)
        except LeadpoolError as e:
            summary.rejected.append(
                f"{event.provider_event_id}: {hash_addresses(e.message, key, fold_case=True)}"
            )
            continue
        except DBAPIError as e:
            if not refused_value(e):
                raise
            summary.rejected.append(f"{event.provider_event_id}: the database refused it")
            continue
        if outcome.duplicate:
            summary.duplicates += 1
        else:
            summary.events_recorded += 1
    return newest


def _event(source: str, entry: Entry, key: bytes) -> EventIn:
    # the keyed hash of the normalised address: the same person in any spelling, and no address
    # in the id (ids outlive an erasure)
    hashed = address_hmac("email", entry.email, key)[:32]
    return EventIn(
        type=entry.type,
        email=entry.email,
        channel="email",
        occurred_at=entry.created,
        source=source,
        provider_event_id=f"{entry.list_id}:addr-{hashed}:{int(entry.created.timestamp())}",
        detail=entry.detail,
    )


def _known(session: Session, source: str, ids: list[str]) -> set[str]:
    # the ids carry no address, so they are stored as given (``events.record.stored_event_id``)
    if not ids:
        return set()
    rows = session.scalars(
        select(Event.provider_event_id).where(Event.source == source, Event.provider_event_id.in_(ids))
    )
    return set(rows)


def _mark(db: Database, provider: str, scope: str) -> datetime | None:
    with session_scope(db) as session:
        return session.scalar(
            select(ReconcileMark.high_water).where(
                ReconcileMark.provider == provider, ReconcileMark.scope == scope
            )
        )


def _save_mark(db: Database, provider: str, scope: str, high_water: datetime) -> None:
    stmt = pg_insert(ReconcileMark).values(provider=provider, scope=scope, high_water=high_water)
    # two runs at once (the job and an operator): the mark only moves forward
    stmt = stmt.on_conflict_do_update(
        index_elements=[ReconcileMark.provider, ReconcileMark.scope],
        set_={
            "high_water": func.greatest(ReconcileMark.high_water, stmt.excluded.high_water),
            "updated_at": func.now(),
        },
    )
    with session_scope(db) as session:
        session.execute(stmt)


__all__ = [
    "PROVIDERS",
    "ProviderError",
    "ProviderSummary",
    "ReconcileSettings",
    "Target",
    "configured_providers",
    "reconcile",
]
