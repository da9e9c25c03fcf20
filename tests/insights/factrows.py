"""Write outcome facts with known counts straight into insight_facts (for rate and privacy tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_touch = count(1)
_lead = count(1)
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def add_facts(
    session: Session,
    n: int,
    *,
    replies: int = 0,
    positives: int = 0,
    bounces: int = 0,
    agency_id: int = 1,
    leads: int | None = None,
    lead_base: int | None = None,
    **segment: Any,
) -> None:
    """``n`` sent touches of one segment: the first ``bounces`` bounced, the next ``replies`` replied
    (the first ``positives`` of those positively). ``leads`` distinct leads (default: one per touch)."""
    fields: dict[str, Any] = {
        "channel": "email",
        "industry": "software",
        "seniority": "vp",
        "department": "master_sales",
        "size_band": "51-200",
        "revenue_band": "1M-10M",
        "country": "united states",
        "email_status": "verified",
        "data_age_band": "<30d",
        "local_hour": 9,
        "local_weekday": 2,
        "sequence_position": 1,
    }
    fields.update(segment)
    n_leads = leads or n
    base = lead_base if lead_base is not None else next(_lead) * 100_000
    rows = []
    for i in range(n):
        bounced = i < bounces
        replied = bounces <= i < bounces + replies
        positive = bounces <= i < bounces + positives
        rows.append(
            {
                **fields,
                "touch_id": next(_touch),
                "lead_id": base + i % n_leads,
                "agency_id": agency_id,
                "campaign_id": agency_id,
                "sent_at": T0 + timedelta(minutes=i),
                "bounced": bounced,
                "replied": replied,
                "positive": positive,
            }
        )
    session.execute(
        text(
            "INSERT INTO insight_facts (touch_id, lead_id, agency_id, campaign_id, channel, sequence_position, "
            "sent_at, local_hour, local_weekday, industry, seniority, department, size_band, revenue_band, "
            "country, email_status, data_age_band, bounced, replied, positive) VALUES (:touch_id, :lead_id, "
            ":agency_id, :campaign_id, :channel, :sequence_position, :sent_at, :local_hour, :local_weekday, "
            ":industry, :seniority, :department, :size_band, :revenue_band, :country, :email_status, "
            ":data_age_band, :bounced, :replied, :positive)"
        ),
        rows,
    )


def agencies_with_keys(session: Session, n: int) -> dict[int, str]:
    """Agencies 1..n, each with an API key (returned by id) to ask for insights as that agency."""
    from leadpool.api.auth import hash_key

    keys = {}
    for i in range(1, n + 1):
        key = f"lpa_test_key_{i}"
        session.execute(
            text("INSERT INTO agencies (id, name, status, api_key_hash) VALUES (:i, :n, 'active', :h)"),
            {"i": i, "n": f"agency {i}", "h": hash_key(key)},
        )
        keys[i] = key
    return keys
