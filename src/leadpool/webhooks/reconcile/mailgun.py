"""Mailgun per-domain suppression lists: bounces, complaints, unsubscribes.

``GET /v3/{domain}/{list}?limit=`` with basic auth ``api:KEY`` answers
``{"items": [...], "paging": {"first", "next", "previous", "last"}}``; the pages are walked by
``paging.next`` (absolute URLs, followed only on the configured host) until a page has no items.
Items: bounces ``{address, code, error, created_at}``, complaints ``{address, created_at}``,
unsubscribes ``{address, tags, created_at}``; ``created_at`` is an RFC 822 date.

The lists page by address, not by time, and take no time filter: every run reads them whole and
records every entry not stored yet, whatever its ``created_at`` (the API takes ``created_at`` when
suppressions are imported, so an old date is no proof an earlier run saw the entry).

Mapping: a bounce is hard unless its codes or words say otherwise (an enhanced code in ``error``
decides, else a basic 4xx ``code`` is soft, else ``error`` is read as ``events.bounces.classify_dsn``
reads DSN text: soft and sender-block entries are skipped); a complaint a complaint; an
unsubscribe an unsubscribe, from every mail or from some tags only, as the ``unsubscribed`` webhook
maps it (an opt-out from one kind of mail is still the person asking not to be mailed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from leadpool.events.bounces import classify_dsn, classify_status, smtp_status
from leadpool.webhooks.reconcile.base import Entry, ProviderError, ProviderHttp, Target, Unreadable
from leadpool.webhooks.reconcile.settings import ReconcileSettings

NAME = "mailgun"
SOURCE = "mailgun_suppression"
SETTING = "LEADPOOL_RECONCILE_MAILGUN_API_KEY"
LISTS = {"bounces": "hard_bounce", "complaints": "complaint", "unsubscribes": "unsubscribe"}


def configured(settings: ReconcileSettings) -> bool:
    return settings.mailgun_api_key is not None


def targets(settings: ReconcileSettings, key: bytes) -> list[Target]:
    assert settings.mailgun_api_key is not None
    auth = ("api", settings.mailgun_api_key.get_secret_value())
    return [
        Target(
            f"{domain}/{name}",
            f"/v3/{quote(domain)}/{name}",
            name,
            settings.mailgun_base_url,
            auth=auth,
            time_filter=False,
        )
        for domain in settings.mailgun_domains
        for name in LISTS
    ]


def pages(http: ProviderHttp, since: datetime | None, page_size: int) -> Iterator[list[Entry | Unreadable]]:
    target = http.target
    url: str = target.path
    params: dict[str, int] | None = {"limit": page_size}
    seen: set[str] = set()
    while True:
        body = http.get_json(url, params)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"mailgun: {target.scope}: the answer has no items array")
        if not items:
            return
        yield [entry(target.scope, target.list_name, item) for item in items]
        paging = body.get("paging")
        nxt = paging.get("next") if isinstance(paging, dict) else None
        if not isinstance(nxt, str) or not nxt or nxt in seen:
            return
        seen.add(nxt)
        url, params = nxt, None  # its query is the paging state (httpx would replace it with params)


def _created(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # "-0000" and "UTC" parse as naive UTC


def _basic(code: Any) -> int | None:
    text = str(code).strip() if isinstance(code, int | str) and not isinstance(code, bool) else ""
    return int(text) if text.isdigit() and len(text) == 3 else None


def entry(scope: str, list_name: str, item: Any) -> Entry | Unreadable:
    if not isinstance(item, dict) or not isinstance(item.get("address"), str) or not item["address"]:
        return Unreadable(f"{scope}: an entry without an address")
    at = _created(item.get("created_at"))
    if at is None:
        return Unreadable(f"{scope}: an entry whose created_at is not an RFC 822 date")
    etype = LISTS[list_name]
    detail: dict[str, Any] = {"list": list_name, "domain": scope.rsplit("/", 1)[0]}
    skip = None
    if etype == "hard_bounce":
        # ``error`` quotes the server's answer, often with the address: only the codes are kept
        basic = _basic(item.get("code"))
        code = smtp_status(str(item.get("error") or ""))
        if basic is not None:
            detail["code"] = basic
        if code:
            detail["smtp_status"] = code
            kind = classify_status(code, "hard_bounce")
            if kind != "hard_bounce":
                skip = f"{kind.replace('_', ' ')} ({code})"
        elif basic is not None and 400 <= basic <= 499:
            skip = f"soft bounce ({basic})"
        elif (kind := classify_dsn(str(item.get("error") or ""))) != "hard_bounce":
            # "550 Mailbox full": a full mailbox in words is soft, as in the webhooks' DSN text
            skip = f"{kind.replace('_', ' ')} (by its wording)"
    elif etype == "unsubscribe":
        tags = item.get("tags")
        if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
            detail["tags"] = tags
    return Entry(scope, item["address"], at, etype, detail, skip)
