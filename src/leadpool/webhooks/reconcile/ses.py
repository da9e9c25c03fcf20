"""Amazon SES (v2) account-level suppression list, one per region.

``GET /v2/email/suppression/addresses?StartDate=&PageSize=&NextToken=`` on
``email.{region}.amazonaws.com``, signed with AWS Signature Version 4 (service ``ses``), answers
``{"SuppressedDestinationSummaries": [{"EmailAddress", "Reason", "LastUpdateTime"}], "NextToken"}``
(``LastUpdateTime`` in epoch seconds); the pages are walked by ``NextToken``. ``StartDate`` (ISO
8601) filters on when the address was added; the entry's ``LastUpdateTime`` is its time.

Mapping (``Reason``): BOUNCE a hard bounce (SES lists only hard bounces), COMPLAINT a complaint.
The global suppression list (shared by every SES customer) cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from leadpool.errors import InvalidInput
from leadpool.webhooks.common import iso
from leadpool.webhooks.reconcile.base import Entry, ProviderError, ProviderHttp, Target, Unreadable
from leadpool.webhooks.reconcile.settings import ReconcileSettings
from leadpool.webhooks.reconcile.sigv4 import SigV4Auth

NAME = "ses"
SOURCE = "ses_suppression"
SETTING = "LEADPOOL_RECONCILE_SES_ACCESS_KEY_ID and LEADPOOL_RECONCILE_SES_SECRET_ACCESS_KEY"
PATH = "/v2/email/suppression/addresses"
REASONS = {"BOUNCE": "hard_bounce", "COMPLAINT": "complaint"}


def configured(settings: ReconcileSettings) -> bool:
    return settings.ses_access_key_id is not None and settings.ses_secret_access_key is not None


def targets(settings: ReconcileSettings, key: bytes) -> list[Target]:
    assert settings.ses_access_key_id is not None and settings.ses_secret_access_key is not None
    token = settings.ses_session_token.get_secret_value() if settings.ses_session_token else None
    return [
        Target(
            region,
            PATH,
            "suppression",
            settings.ses_base_url or f"https://email.{region}.amazonaws.com",
            auth=SigV4Auth(
                settings.ses_access_key_id.get_secret_value(),
                settings.ses_secret_access_key.get_secret_value(),
                region,
                session_token=token,
            ),
        )
        for region in settings.ses_regions
    ]


def pages(http: ProviderHttp, since: datetime | None, page_size: int) -> Iterator[list[Entry | Unreadable]]:
    target = http.target
    base: list[tuple[str, Any]] = [("PageSize", page_size)]
    if since is not None:
        base.append(("StartDate", since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
    params, seen = base, set()
    while True:
        body = http.get_json(target.path, params)
        items = body.get("SuppressedDestinationSummaries") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ProviderError(
                f"ses: {target.scope}: the answer has no SuppressedDestinationSummaries array"
            )
        if items:
            yield [entry(target.scope, item) for item in items]
        token = body.get("NextToken")
        if not isinstance(token, str) or not token or token in seen:
            return
        seen.add(token)
        params = [*base, ("NextToken", token)]


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        return iso(value, NAME, "LastUpdateTime")
    except InvalidInput:
        return None


def entry(region: str, item: Any) -> Entry | Unreadable:
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("EmailAddress"), str)
        or not item["EmailAddress"]
    ):
        return Unreadable(f"{region}: an entry without an EmailAddress")
    etype = REASONS.get(str(item.get("Reason")))
    if etype is None:
        return Unreadable(f"{region}: an entry with an unknown Reason")
    at = _time(item.get("LastUpdateTime"))
    if at is None:
        return Unreadable(f"{region}: an entry whose LastUpdateTime is not a time")
    detail = {"list": "account_suppression", "region": region, "reason": item["Reason"]}
    return Entry(f"{region}/{item['Reason']}", item["EmailAddress"], at, etype, detail)
