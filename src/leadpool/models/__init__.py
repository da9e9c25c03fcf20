"""All ORM models, in one place so every domain and Alembic see one metadata."""

from leadpool.models.agency import AGENCY_STATUSES, CAMPAIGN_STATUSES, CHANNELS, Agency, Campaign
from leadpool.models.allocation import REFILL_STATUSES, AllocationRequest, CompanyOwner, RefillHold, RefillJob
from leadpool.models.base import Base
from leadpool.models.company import Company
from leadpool.models.consent import (
    CONSENT_BASES,
    Consent,
    CountryClock,
    CountryName,
    PhonePrefixClock,
    PhonePrefixRegion,
)
from leadpool.models.contact_memory import COMPANY_PAUSE_KINDS, REST_REASONS, CompanyPause, RestPeriod
from leadpool.models.event import AuditLog, DeadDomain, DomainBlock, Event, PlatformKey, Suppression
from leadpool.models.gate import (
    GATE_COUNTER_SCOPES,
    SENDER_PAUSE_REASONS,
    GateCounter,
    GateTimeZone,
    SenderClaim,
    SenderPause,
)
from leadpool.models.ingestion import LeadRawPayload
from leadpool.models.insights import InsightEventLink, InsightFact, InsightWatermark, LeadScore
from leadpool.models.lead import Lead
from leadpool.models.ownership import Enrollment, LeadHistory, Ownership
from leadpool.models.raw_payload import RawPayload
from leadpool.models.sign_in import SignInFailure, SignInTrust
from leadpool.models.touch import TOUCH_STATES, Decision, Touch
from leadpool.models.webhook import ReconcileMark, WebhookReceipt

__all__ = [
    "AGENCY_STATUSES",
    "CAMPAIGN_STATUSES",
    "CHANNELS",
    "COMPANY_PAUSE_KINDS",
    "CONSENT_BASES",
    "GATE_COUNTER_SCOPES",
    "REFILL_STATUSES",
    "REST_REASONS",
    "SENDER_PAUSE_REASONS",
    "TOUCH_STATES",
    "Agency",
    "AllocationRequest",
    "AuditLog",
    "Base",
    "Campaign",
    "Company",
    "CompanyOwner",
    "CompanyPause",
    "Consent",
    "CountryClock",
    "CountryName",
    "DeadDomain",
    "Decision",
    "DomainBlock",
    "Enrollment",
    "Event",
    "GateCounter",
    "GateTimeZone",
    "InsightEventLink",
    "InsightFact",
    "InsightWatermark",
    "Lead",
    "LeadHistory",
    "LeadRawPayload",
    "LeadScore",
    "Ownership",
    "PhonePrefixClock",
    "PhonePrefixRegion",
    "PlatformKey",
    "RawPayload",
    "ReconcileMark",
    "RefillHold",
    "RefillJob",
    "RestPeriod",
    "SenderClaim",
    "SenderPause",
    "SignInFailure",
    "SignInTrust",
    "Suppression",
    "Touch",
    "WebhookReceipt",
]
