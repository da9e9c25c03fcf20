"""The API's wire format: request bodies and typed results, shared by the service and the client.

Only Pydantic here (no database, no web framework), so a sending engine can use the client
without the server's code paths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from leadpool.limits import EARLIEST, LATEST, MAX_ID, MAX_NAME, MAX_REQUEST_COUNT

Channel = Literal["email", "linkedin", "sms", "phone"]


def _nul_path(value: Any, path: str = "") -> str | None:
    """Where the first NUL character is in a request body (PostgreSQL text cannot hold one)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if "\x00" in str(k):
                return here
            found = _nul_path(v, here)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_path(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        where = _nul_path(data)
        if where is not None:
            raise ValueError(f"{where or 'body'}: contains a NUL character (\\u0000), which cannot be stored")
        return data


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# agencies


class AgencyCreate(_In):
    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=r"\S", description="Unique agency name.")


class Agency(_Out):
    id: int
    name: str
    status: Literal["active", "cancelled"]
    cancelled_at: datetime | None = None
    created_at: datetime | None = None


class AgencyCreated(Agency):
    api_key: str = Field(description="The agency's API key. Shown only now; only its hash is stored.")


class AgencyCancelled(Agency):
    released: int = Field(0, description="Leads returned to the pool (after the quarantine).")
    kept: int = Field(0, description="Converted leads the agency keeps.")
    enrollments_ended: int = 0
    quarantine_until: datetime | None = None


# leads and the pool


class Rejection(_Out):
    index: int = Field(description="Position of the record in the request (0-based).")
    reason: str


class ImportResult(_Out):
    inserted: int = Field(description="New leads.")
    merged: int = Field(
        description="Records that matched a lead already in the pool (or earlier in the body)."
    )
    rejected: list[Rejection]
    updated: int = Field(0, description="Of the merged, leads whose stored values changed.")
    lead_ids: list[int] = Field(
        default_factory=list, description="Lead id of each accepted record, in order."
    )
    companies_inserted: int = 0


class LeadDetail(_Out):
    id: int
    fields: dict[str, Any] = Field(description="Every stored column of the lead.")
    company: dict[str, Any] | None = Field(None, description="Every stored column of its company.")
    owner_agency_id: int | None = None
    raw_payloads: list[dict[str, Any]] = Field(
        default_factory=list,
        description=(
            "The newest 20 raw Apollo payloads that described this person: id, endpoint, fetched_at, "
            "credits_consumed, body_sha256, body_bytes, source_name (admin), person (this person's own "
            "object from the body, or null), and for the admin body_url (the whole body: GET "
            "/v1/raw-payloads/{id}) and body (inline only up to 64 KiB)."
        ),
    )
    raw_payloads_total: int | None = Field(
        None, description="How many raw payloads describe this person (raw_payloads lists the newest 20)."
    )
    scores: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Expected positive-reply probability per channel, with the insights model version.",
    )


class TimelineEntry(_Out):
    at: datetime | None
    kind: str = Field(description="ownership.*, enrollment.*, decision, touch, event.*, audit.*")
    summary: str = ""
    source: str = Field("", description="table:id of the row behind the entry")
    detail: dict[str, Any] = Field(default_factory=dict)


# GET /v1/leads/{id}/timeline and /v1/companies/{id}/timeline: entries per page by default, at most
TIMELINE_DEFAULT_LIMIT = 500
TIMELINE_MAX_LIMIT = 5000
_NEXT_CURSOR = (
    "Pass as `cursor` (with the same `order`) for the next page; null when no entry is left. A page "
    "may hold fewer than `limit` entries and still have a next one."
)


class Timeline(_Out):
    lead_id: int
    entries: list[TimelineEntry] = Field(description="One page, oldest first unless order=desc.")
    next_cursor: str | None = Field(None, description=_NEXT_CURSOR)


class CompanyTimeline(_Out):
    company_id: int
    entries: list[TimelineEntry] = Field(
        description="touch, event.reply|unsubscribe|complaint|converted, company.paused; one page, "
        "oldest first unless order=desc"
    )
    next_cursor: str | None = Field(None, description=_NEXT_CURSOR)


class RawPayloadDetail(_Out):
    """One stored Apollo response or import record, whole (admin only)."""

    id: int
    endpoint: str
    source_name: str | None = None
    line_no: int | None = None
    fetched_at: datetime | None = None
    credits_consumed: float | None = None
    body_sha256: str
    body_bytes: int
    apollo_person_ids: list[str] | None = Field(None, description="Apollo ids of the people it described.")
    request: dict[str, Any] | None = Field(None, description="The parameters sent (never the api key).")
    response_headers: dict[str, Any] | None = None
    body: str = Field(description="The body exactly as received (UTF-8 text).")


class ErasureResult(_Out):
    lead_id: int
    already_erased: bool = False
    suppressions_added: int = 0
    payloads_tombstoned: int = 0
    payloads_redacted: int = 0
    events_scrubbed: int = 0
    enrollments_ended: int = 0
    ownership_ended: bool = False


class ErasureRequest(_In):
    """Optional body of an erasure: who asked for it."""

    requested_by: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r"\S",
        description=(
            "Who asked for the erasure (a ticket reference, an operator), kept in the lead's audit row "
            "beside the admin that erased. The person's own addresses in it are kept only as keyed hashes "
            "(the audit row outlives the erasure)."
        ),
    )


class BlocklistRequest(_In):
    """Who to put on the platform blocklist (at least one of them) and why."""

    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the audit log).")
    lead_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="A lead: its email, LinkedIn URL, personal and previous emails (its phone only when named).",
    )
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=64, description="E.164 (+15551234567).")
    linkedin_url: str | None = Field(None, max_length=2048)

    @model_validator(mode="after")
    def _names_someone(self) -> BlocklistRequest:
        if self.lead_id is None and not (self.email or self.phone or self.linkedin_url):
            raise ValueError("name the person: lead_id, email, phone or linkedin_url")
        return self


class BlocklistResult(_Out):
    suppressions_added: int = Field(description="Addresses newly on the list (0 when all were already).")
    lead_ids: list[int] = Field(description="Every lead holding one of the addresses, now blocklisted.")
    newly_blocklisted: int
    enrollments_ended: int


class SenderClaim(_Out):
    sender: str = Field(
        description="channel:sender, as checks name it (email:sdr1@agency.example), or domain:DOMAIN "
        "for an email sending domain."
    )
    agency_id: int = Field(
        description="The agency it belongs to: another naming it is denied sender_not_owned."
    )
    claimed_at: datetime
    actor: str = Field(description="Who claimed it: the agency's first check (agency:ID), or an operator.")


class PausedSender(_Out):
    sender: str = Field(
        description="channel:sender, as checks name it (email:sdr1@agency.example); domain:DOMAIN for a "
        "sending domain the sending-domain guard paused (every mailbox at it)."
    )
    reason: Literal[
        "sender_bounce_guard",
        "sender_complaint_guard",
        "sender_block_guard",
        "domain_bounce_guard",
        "domain_complaint_guard",
    ]
    paused_at: datetime = Field(description="When the event that paused it happened.")
    until: datetime | None = Field(
        description="When the pause ends by itself; null: when someone resumes it."
    )
    cause_event_id: int | None = None
    detail: dict[str, int] = Field(default_factory=dict, description="What the guard counted.")


class ResumeSenderRequest(_In):
    channel: Literal["email", "linkedin", "sms", "phone"]
    sender: str = Field(min_length=1, max_length=320, pattern=r"\S", description="As checks name it.")


class ResumeSenderResult(_Out):
    resumed: bool = Field(description="False: the sender was not paused (nothing changed).")
    pause: PausedSender | None = Field(None, description="The pause that ended.")


class DeadDomain(_Out):
    """A recipient domain a hard bounce said accepts no mail: closed to email for everyone."""

    domain: str = Field(description="As addresses at it are stored (acme.com; a subdomain is its own).")
    smtp_status: str = Field(
        description="The bounce's enhanced status: 5.1.2 (no such domain) or 5.1.10 (null MX)."
    )
    since: datetime = Field(description="The earliest such bounce of this closure.")
    until: datetime = Field(
        description="When it opens by itself: LEADPOOL_EVENTS_DEAD_DOMAIN_DAYS after the latest such bounce."
    )
    cause_event_id: int = Field(description="The event of the bounce that set ``until``.")
    bounces: int = Field(description="The bounces that closed it or kept it closed.")


class ReviveDomainRequest(_In):
    domain: str = Field(
        min_length=1,
        max_length=300,
        description="As listed (acme.com); else read as the blocklist reads one (a URL is its host's domain).",
    )


class DeadDomainRevived(_Out):
    revived: bool = Field(description="False: the domain was not closed (nothing changed).")
    domain: DeadDomain | None = Field(None, description="The closure that ended.")


class DomainBlockRequest(_In):
    domain: str = Field(min_length=1, max_length=300, description="acme.com (a URL is read as its host).")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the audit log).")
    agency_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="Whose list: an agency's (an agency: its own); the admin's default is the platform's.",
    )


class DomainBlock(_Out):
    id: int
    domain: str
    agency_id: int | None = Field(description="null: the platform's list, for every agency.")
    reason: str
    actor: str
    created_at: datetime
    created: bool = Field(
        True,
        description="False: the list held the domain already (nothing changed), or the block was removed.",
    )
    enrollments_ended: int = Field(0, description="Active enrollments the new block ended.")
    removed: bool = Field(False, description="True: this call lifted the block (the row shown is gone).")


class ConsentRequest(_In):
    """A person's permission to one agency (``POST /v1/leads/{id}/consents``)."""

    agency_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="The agency it is given to: an agency's key its own (the default); the admin must name one.",
    )
    channel: Channel | None = Field(None, description="The channel it covers; null: every channel.")
    basis: Literal["express", "implied"] = Field(description="CASL's two kinds of consent.")
    source: str = Field(
        min_length=1,
        max_length=500,
        description="Where it was given: a form, a call, a reply (kept as proof).",
    )
    evidence: str | None = Field(None, max_length=2000, description="A reference to the proof, for audits.")
    granted_at: datetime | None = Field(
        None, description="When it was given, with an offset; defaults to now."
    )
    expires_at: datetime | None = Field(
        None,
        description="When it lapses, with an offset; null: until revoked (CASL's implied consent: two years).",
    )

    @field_validator("granted_at", "expires_at")
    @classmethod
    def _instant(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        if v is None:
            return v
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError(f"{info.field_name} needs a UTC offset (e.g. 2026-03-02T15:00:00Z)")
        # read back by every gate check of the lead: one out of range would break them all
        if not EARLIEST <= v < LATEST:
            raise ValueError(f"{info.field_name} {v.isoformat()} is not between 1970 and 2999")
        return v


class ConsentRevokeRequest(_In):
    reason: str = Field(
        min_length=1, max_length=500, description="Why (kept on the consent and in the audit log)."
    )


class Consent(_Out):
    id: int
    lead_id: int
    agency_id: int
    channel: str | None = Field(description="null: every channel.")
    basis: Literal["express", "implied"]
    source: str
    evidence: str | None = None
    granted_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    actor: str = Field(description="Who recorded it (admin, agency:<id>, or the CLI's --actor).")
    live: bool = Field(description="Whether it holds now: not revoked, granted, not expired.")
    changed: bool = Field(True, description="False: a revocation found it revoked already (nothing changed).")


class Count(_Out):
    value: str | None = Field(description="The group (None: unknown).")
    leads: int


class PoolStats(_Out):
    totals: dict[str, int] = Field(description="leads, companies, raw_payloads, with_email, suppressed...")
    owned: int = Field(description="Leads owned by an agency.")
    free: int = Field(description="Leads nobody owns.")
    industry: list[Count]
    country: list[Count]
    seniority: list[Count]
    email_status: list[Count]
    time_zone_source: list[Count] = Field(default_factory=list)


JobStatus = Literal["queued", "running", "done", "failed", "stopped_by_budget"]


class Job(_Out):
    """A refill job: our bookkeeping next to the queue's own status of it."""

    id: int
    kind: str = Field("campaign", description="campaign (a shortfall) or reenrich (leads bought again)")
    campaign_id: int | None = Field(None, description="None for a re-enrichment job")
    agency_id: int | None = None
    status: str = Field(description="queued, running, done, failed, stopped_by_budget")
    queue_status: str | None = Field(None, description="procrastinate: todo, doing, succeeded, failed...")
    requested: int
    enriched: int
    allocated: int
    credits_consumed: float
    attempts: int
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    job_id: int | None = Field(None, description="The procrastinate job id.")


# campaigns and allocation


class CampaignCreate(_In):
    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=r"\S")
    channels: list[Channel] = Field(min_length=1, max_length=4)
    icp: dict[str, Any] = Field(description="An ICP filter (see the ICP schema); unknown fields are refused.")
    daily_quota: int = Field(ge=0, le=1_000_000)


class PolicyOverride(_In):
    """A level's gate policy override (``PUT .../policy``): a partial policy, the shape of
    ``LEADPOOL_GATE_POLICY`` (docs/gate.md), replacing the level's whole override."""

    overrides: dict[str, Any] | None = Field(
        description='e.g. {"allowed_email_statuses": ["verified", "extrapolated"]}; null or {}: none '
        "(the level above holds)."
    )


class PolicyView(_Out):
    level: Literal["agency", "campaign"]
    id: int
    overrides: dict[str, Any] | None = Field(description="This level's override; null: none.")
    agency_overrides: dict[str, Any] | None = Field(
        description="The agency's override (a campaign's agency; for an agency, its own)."
    )
    effective: dict[str, Any] | None = Field(
        description="The policy in force: platform, agency, campaign merged; null when the stored "
        "overrides no longer resolve (its checks deny gate_error; see error)."
    )
    error: str | None = Field(None, description="Why the stored overrides no longer resolve.")


class Campaign(_Out):
    id: int
    agency_id: int
    name: str
    status: Literal["draft", "active", "paused", "finished"]
    channels: list[str]
    icp: dict[str, Any]
    daily_quota: int
    paused_reason: str | None = None
    activated_at: datetime | None = None
    created_at: datetime | None = None


class AllocateRequest(_In):
    count: int = Field(
        ge=1, le=MAX_REQUEST_COUNT, description="Leads wanted; capped by the campaign's daily quota."
    )
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r"\S",
        description="Retry-safe: the same key on the same campaign returns the first request's answer "
        "(replayed) and allocates nothing more; with another count it is refused (409).",
    )


class Allocation(_Out):
    allocated: list[int]
    reused: int = 0
    taken_from_pool: int = 0
    shortfall: int
    job_id: int | None = None
    refill_unavailable: str | None = Field(
        None, description="Why a shortfall queued no refill job (refill switched off, no Apollo key)."
    )
    replayed: bool = Field(
        False, description="True when an idempotency key returned an earlier request's answer."
    )


class EnrollmentEndRequest(_In):
    reason: Literal["sequence_finished", "removed"] = Field(
        "sequence_finished",
        description="sequence_finished: no steps left; removed: the agency took the lead out. "
        "Either way the lead then rests (no campaign of any agency) for the platform's rest period.",
    )


class EnrollmentEnded(_Out):
    lead_id: int
    campaign_id: int
    ended: bool = Field(description="False when the lead had no active enrollment in the campaign.")
    rest_until: datetime | None = None


class CampaignLead(_Out):
    lead_id: int
    name: str | None = None
    title: str | None = None
    email: str | None = None
    country: str | None = None
    enrollment_status: str
    enrolled_at: datetime | None = None


# the gate


class CheckRequest(_In):
    lead_id: int = Field(ge=1, le=MAX_ID)
    campaign_id: int = Field(ge=1, le=MAX_ID)
    channel: Channel
    sender: str | None = Field(None, max_length=500)
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)
    at: datetime | None = Field(
        None, description="When the touch would happen (simulations, scheduling); defaults to now."
    )
    reserve: bool = Field(True, description="Record a reservation when allowed.")


class Reason(_Out):
    code: str
    message: str
    retry_after: datetime | None = None


class Decision(_Out):
    decision: Literal["allow", "deny"]
    retry_after: datetime | None = Field(
        None,
        description="For a deny: when every reason has passed and the channel's window is open (the "
        "latest retry_after of its reasons); null when a reason never passes by itself.",
    )
    reasons: list[Reason]
    touch_id: int | None = None
    decision_id: int | None = None
    replayed: bool = Field(False, description="True when an idempotency key returned an earlier decision.")
    unsubscribe_url: str | None = Field(
        None,
        description="For an allowed email: the one-click unsubscribe link (RFC 8058) to put in the "
        "message's List-Unsubscribe header, with List-Unsubscribe-Post: List-Unsubscribe=One-Click, "
        "and in its footer. It never expires.",
    )

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


class CheckBatchRequest(_In):
    items: list[CheckRequest] = Field(min_length=1, max_length=1000)


class CheckBatchResult(_Out):
    results: list[Decision]


class SentRequest(_In):
    provider_message_id: str = Field(min_length=1, max_length=500, pattern=r"\S")
    at: datetime | None = Field(None, description="When it was sent (simulations); defaults to now.")


class CancelRequest(_In):
    at: datetime | None = Field(None, description="When it was cancelled (simulations); defaults to now.")


class Touch(_Out):
    id: int
    lead_id: int
    campaign_id: int
    agency_id: int
    channel: str
    sender: str | None = None
    state: Literal["reserved", "sent", "cancelled", "expired"]
    at: datetime
    sent_at: datetime | None = None
    provider_message_id: str | None = None


class SentItem(_In):
    touch_id: int = Field(ge=1, le=MAX_ID)
    provider_message_id: str = Field(min_length=1, max_length=500, pattern=r"\S")


class SentBatchRequest(_In):
    items: list[SentItem] = Field(min_length=1, max_length=1000)
    at: datetime | None = Field(None, description="When they were sent (simulations); defaults to now.")


class ItemError(_Out):
    status: int
    detail: str


class SentBatchItem(_Out):
    """One confirmation: the touch as it now is, or why it could not be confirmed (nothing else
    in the batch is affected)."""

    touch_id: int
    touch: Touch | None = None
    error: ItemError | None = None


class SentBatchResult(_Out):
    results: list[SentBatchItem]


# events and webhooks


class EventResult(_Out):
    event_id: int
    duplicate: bool
    lead_id: int | None = None
    effects: list[str] = Field(
        default_factory=list,
        description="What the event did. An agency is told what it did to its own lead, campaigns and "
        "senders and to what every agency sees (a company pause, a closed domain), not to other leads, "
        "the suppression list or consents.",
    )
    type: str | None = None
    category: str | None = None


class WebhookResult(_Out):
    provider: str
    events_recorded: int = Field(0, description="New events stored (and applied).")
    duplicates: int = Field(0, description="Events already stored before; nothing changed.")
    rejected: list[str] = Field(default_factory=list, description="Events that could not be used, and why.")
    subscribe_url: str | None = Field(None, description="SNS SubscriptionConfirmation: visit it to confirm.")


# insights


class LeadScore(_Out):
    """A lead's score on one channel (``GET /v1/insights/leads/{id}/scores``)."""

    channel: Channel
    score: float = Field(description="Expected positive-reply probability (0 to 1).")
    model_version: str = Field(description="The insights model that computed it.")
    computed_at: datetime


class InsightsThresholds(_Out):
    min_leads: int = Field(description="Leads a platform cell needs before an agency sees it.")
    min_agencies: int = Field(description="Agencies a platform cell needs before an agency sees it.")


_VIEW = (
    "segments, top_segments, bounce_by_email_status, bounce_by_data_age, reply_by_local_hour, "
    "reply_by_weekday, reply_by_channel, suggestions"
)


class InsightsReport(_Out):
    """``GET /v1/insights``: the admin gets ``status`` and ``all``; an agency ``own`` (its figures
    in full) and ``platform`` (privacy-safe cells only)."""

    dims: list[str]
    thresholds: InsightsThresholds
    scope: Literal["admin", "agency"]
    agency_id: int | None = Field(None, description="The agency's own id (scope agency).")
    status: dict[str, Any] | None = Field(
        None,
        description="Admin: facts, touches_watermark, events_watermark, refreshed_at, scored_leads, "
        "model_version.",
    )
    all: dict[str, Any] | None = Field(None, description=f"Admin: the view over every fact: {_VIEW}.")
    own: dict[str, Any] | None = Field(None, description=f"Agency: its own figures: {_VIEW}.")
    platform: dict[str, Any] | None = Field(
        None, description=f"Agency: the privacy-safe platform view: {_VIEW}."
    )


class SuggestionSegment(_Out):
    dimension: str | None = Field(description="industry or seniority (from the ICP); None: the platform.")
    values: list[str]


_SUGGESTION_VIEW = "best_hour, best_weekday (each null when there is no data) and, per ICP value, by_segment"


class CampaignSuggestions(_Out):
    """``GET /v1/campaigns/{id}/suggestions``: best local send hour and weekday for the campaign's
    segment. The admin gets ``all``; an agency ``own`` and ``platform`` (privacy-safe cells only)."""

    campaign_id: int
    segment: SuggestionSegment
    metric: str = Field(description="The rate the suggestions maximise (reply).")
    all: dict[str, Any] | None = Field(None, description=f"Admin: {_SUGGESTION_VIEW}.")
    own: dict[str, Any] | None = Field(None, description=f"Agency, its own facts: {_SUGGESTION_VIEW}.")
    platform: dict[str, Any] | None = Field(
        None, description=f"Agency, privacy-safe platform cells: {_SUGGESTION_VIEW}."
    )


class Health(_Out):
    status: Literal["ok"]
    database: Literal["ok"]
    version: str
