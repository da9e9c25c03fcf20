"""SendGrid v3 suppression lists: bounces, invalid emails, spam reports, global and group unsubscribes.

``GET /v3/suppression/{list}?start_time=&limit=&offset=`` with ``Authorization: Bearer KEY``
answers a JSON array of ``{"created": epoch, "email": ...}`` (bounces add ``reason`` and
``status``, invalid emails ``reason``, spam reports ``ip``); a page shorter than ``limit`` is the
last. ``GET /v3/asm/suppressions`` answers every group (ASM) unsubscribe at once, ``{"email",
"group_id", "group_name", "created_at": epoch}``, with no paging nor time filter: read whole every
run. Blocks are not read: SendGrid's blocks are not suppressions (the receiving side refused the
sender).

Mapping: bounces and invalid emails are hard bounces, unless the entry's status says otherwise
(4.x.x and 5.2.2 are soft, 5.7.x a sender block: skipped, as the webhook would not suppress the
person for them), or, without a status, its reason as ``events.bounces.classify_dsn`` reads DSN
text ("452 Mailbox full" is soft); spam reports complaints; global and group unsubscribes
unsubscribes (the ``group_unsubscribe`` webhook is one too).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from leadpool.events.bounces import classify_dsn, classify_status, smtp_status
from leadpool.webhooks.reconcile.base import Entry, ProviderError, ProviderHttp, Target, Unreadable
from leadpool.webhooks.reconcile.settings import ReconcileSettings

NAME = "sendgrid"
SOURCE = "sendgrid_suppression"
SETTING = "LEADPOOL_RECONCILE_SENDGRID_API_KEY"
LISTS = {
    "bounces": "hard_bounce",
    "invalid_emails": "hard_bounce",
    "spam_reports": "complaint",
    "unsubscribes": "unsubscribe",
    "group_unsubscribes": "unsubscribe",
}
GROUPS = "group_unsubscribes"  # /v3/asm/suppressions: every group at once, no paging


def configured(settings: ReconcileSettings) -> bool:
    return settings.sendgrid_api_key is not None


def targets(settings: ReconcileSettings, key: bytes) -> list[Target]:
    assert settings.sendgrid_api_key is not None
    auth = {"Authorization": f"Bearer {settings.sendgrid_api_key.get_secret_value()}"}
    return [
        Target(name, f"/v3/suppression/{name}", name, settings.sendgrid_base_url, auth)
        for name in LISTS
        if name != GROUPS
    ] + [Target(GROUPS, "/v3/asm/suppressions", GROUPS, settings.sendgrid_base_url, auth, time_filter=False)]


def pages(http: ProviderHttp, since: datetime | None, page_size: int) -> Iterator[list[Entry | Unreadable]]:
    target = http.target
    if target.list_name == GROUPS:
        body = http.get_json(target.path)
        if not isinstance(body, list):
            raise ProviderError(f"sendgrid: {target.scope}: the answer is not a JSON array")
        for start in range(0, len(body), page_size):  # a transaction per page, as for the other lists
            yield [entry(target.list_name, item) for item in body[start : start + page_size]]
        return
    offset = 0
    while True:
        params: dict[str, Any] = {"limit": page_size, "offset": offset}
        if since is not None:
            params["start_time"] = int(since.timestamp())
        body = http.get_json(target.path, params)
        if not isinstance(body, list):
            raise ProviderError(f"sendgrid: {target.scope}: the answer is not a JSON array")
        yield [entry(target.list_name, item) for item in body]
        if len(body) < page_size:
            return
        offset += len(body)


def entry(list_name: str, item: Any) -> Entry | Unreadable:
    if not isinstance(item, dict) or not isinstance(item.get("email"), str) or not item["email"]:
        return Unreadable(f"{list_name}: an entry without an email")
    field = "created_at" if list_name == GROUPS else "created"
    created = item.get(field)
    if isinstance(created, bool) or not isinstance(created, int | float):
        return Unreadable(f"{list_name}: an entry whose {field} is not a unix time")
    try:
        at = datetime.fromtimestamp(created, UTC)
    except (OverflowError, OSError, ValueError):
        return Unreadable(f"{list_name}: an entry whose {field} is out of range")
    etype = LISTS[list_name]
    detail: dict[str, Any] = {"list": list_name}
    skip = None
    if list_name == GROUPS and isinstance(item.get("group_id"), int):
        detail["group_id"] = item["group_id"]
    if etype == "hard_bounce":
        # the reason text quotes the address; only the status code is kept
        reason = str(item.get("reason") or "")
        code = smtp_status(str(item.get("status") or "")) or smtp_status(reason)
        if code:
            detail["smtp_status"] = code
            kind = classify_status(code, "hard_bounce")
            if kind != "hard_bounce":
                skip = f"{kind.replace('_', ' ')} ({code})"
        elif (kind := classify_dsn(reason)) != "hard_bounce":
            skip = f"{kind.replace('_', ' ')} (by its wording)"
    return Entry(list_name, item["email"], at, etype, detail, skip)
