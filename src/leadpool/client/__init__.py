"""The Python client of the leadpool API (httpx, sync and async), with typed results.

from leadpool.client import LeadpoolClient
with LeadpoolClient("http://127.0.0.1:8000", token) as lp:
    d = lp.check(lead_id=1, campaign_id=2, channel="email", sender="a@x.com")
    if d.allowed:
        ...  # send, then lp.confirm_sent(d.touch_id, provider_message_id)
"""

from leadpool.client.calls import ApiError
from leadpool.client.http import AsyncLeadpoolClient, LeadpoolClient
from leadpool.client.models import (
    Agency,
    AgencyCreated,
    Allocation,
    Campaign,
    CampaignSuggestions,
    CheckRequest,
    Decision,
    EventResult,
    ImportResult,
    InsightsReport,
    Job,
    LeadDetail,
    LeadScore,
    PoolStats,
    Reason,
    SentBatchItem,
    Timeline,
    Touch,
)

__all__ = [
    "Agency",
    "AgencyCreated",
    "Allocation",
    "ApiError",
    "AsyncLeadpoolClient",
    "Campaign",
    "CampaignSuggestions",
    "CheckRequest",
    "Decision",
    "EventResult",
    "ImportResult",
    "InsightsReport",
    "Job",
    "LeadDetail",
    "LeadScore",
    "LeadpoolClient",
    "PoolStats",
    "Reason",
    "SentBatchItem",
    "Timeline",
    "Touch",
]
