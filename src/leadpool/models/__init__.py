"""All ORM models, in one place so every domain and Alembic see one metadata."""

from leadpool.models.agency import AGENCY_STATUSES, CAMPAIGN_STATUSES, CHANNELS, Agency, Campaign
from leadpool.models.base import Base
from leadpool.models.company import Company
from leadpool.models.event import AuditLog, Event, Suppression
from leadpool.models.lead import Lead
from leadpool.models.ownership import Enrollment, LeadHistory, Ownership
from leadpool.models.raw_payload import RawPayload
from leadpool.models.touch import TOUCH_STATES, Decision, Touch

__all__ = [
    "AGENCY_STATUSES",
    "CAMPAIGN_STATUSES",
    "CHANNELS",
    "TOUCH_STATES",
    "Agency",
    "AuditLog",
    "Base",
    "Campaign",
    "Company",
    "Decision",
    "Enrollment",
    "Event",
    "Lead",
    "LeadHistory",
    "Ownership",
    "RawPayload",
    "Suppression",
    "Touch",
]
