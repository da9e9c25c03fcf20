"""Postmark suppression lists, one per server and message stream.

``GET /message-streams/{stream}/suppressions/dump?fromdate=YYYY-MM-DD`` with
``X-Postmark-Server-Token`` answers ``{"Suppressions": [{"EmailAddress", "SuppressionReason",
"Origin", "CreatedAt"}]}`` in one piece (no paging). ``fromdate`` is a date (asked a day early, as
Postmark's day need not be UTC's), so entries before the high-water mark (less the overlap) come
back too: counted, not recorded again.

Mapping (``SuppressionReason``): HardBounce a hard bounce, SpamComplaint a complaint,
ManualSuppression an unsubscribe (a broadcast stream's unsubscribe link, or a suppression the
customer added: either way the person is not to be mailed), as the SubscriptionChange webhook maps it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from leadpool.errors import InvalidInput
from leadpool.ingestion.hashing import hmac_hex
from leadpool.webhooks.common import iso
from leadpool.webhooks.reconcile.base import Entry, ProviderError, ProviderHttp, Target, Unreadable
from leadpool.webhooks.reconcile.settings import ReconcileSettings

NAME = "postmark"
SOURCE = "postmark_suppression"
SETTING = "LEADPOOL_RECONCILE_POSTMARK_SERVER_TOKENS"
REASONS = {"HardBounce": "hard_bounce", "SpamComplaint": "complaint", "ManualSuppression": "unsubscribe"}


def configured(settings: ReconcileSettings) -> bool:
    return bool(settings.postmark_server_tokens)


def targets(settings: ReconcileSettings, key: bytes) -> list[Target]:
    out = []
    for token in settings.postmark_server_tokens:
        secret = token.get_secret_value()
        # the server named by a keyed fingerprint of its token: stable, and reveals nothing
        server = "server-" + hmac_hex(f"postmark-server:{secret}", key)[:12]
        headers = {"X-Postmark-Server-Token": secret}
        out += [
            Target(
                f"{server}/{stream}",
                f"/message-streams/{stream}/suppressions/dump",
                stream,
                settings.postmark_base_url,
                headers,
            )
            for stream in settings.postmark_streams
        ]
    return out


def pages(http: ProviderHttp, since: datetime | None, page_size: int) -> Iterator[list[Entry | Unreadable]]:
    target = http.target
    # a day earlier than asked: Postmark reads the date in its own time zone, not UTC
    params = {"fromdate": (since - timedelta(days=1)).date().isoformat()} if since is not None else {}
    body = http.get_json(target.path, params)
    items = body.get("Suppressions") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ProviderError(f"postmark: {target.scope}: the answer has no Suppressions array")
    # one answer, recorded a page at a time: a transaction per page, as for the other providers
    for start in range(0, len(items), page_size):
        yield [entry(target.list_name, item) for item in items[start : start + page_size]]


def entry(stream: str, item: Any) -> Entry | Unreadable:
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("EmailAddress"), str)
        or not item["EmailAddress"]
    ):
        return Unreadable(f"{stream}: an entry without an EmailAddress")
    reason = item.get("SuppressionReason")
    etype = REASONS.get(str(reason))
    if etype is None:
        return Unreadable(f"{stream}: an entry with an unknown SuppressionReason")
    try:
        at = iso(item.get("CreatedAt"), NAME, "CreatedAt")
    except InvalidInput:
        return Unreadable(f"{stream}: an entry whose CreatedAt is not an ISO 8601 time")
    detail: dict[str, Any] = {"list": "suppressions", "stream": stream, "reason": reason}
    if isinstance(item.get("Origin"), str):
        detail["origin"] = item["Origin"]
    return Entry(f"{stream}/{reason}", item["EmailAddress"], at, etype, detail)
