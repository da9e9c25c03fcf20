"""``LeadpoolClient`` (sync) and ``AsyncLeadpoolClient``: the API over httpx, with typed results.

Errors raise :class:`ApiError` carrying the problem details, except gate checks, which fail
closed: a 503 from the service, or a service that cannot be reached, gives a deny decision with
``gate_error`` instead of an exception, so a sending engine that forgets a ``try`` still sends
nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel

from leadpool.client import calls
from leadpool.client.calls import TL, Call
from leadpool.client.models import (
    Agency,
    AgencyCancelled,
    AgencyCreated,
    Allocation,
    BlocklistRequest,
    BlocklistResult,
    Campaign,
    CampaignLead,
    CampaignSuggestions,
    CheckRequest,
    CompanyTimeline,
    Consent,
    ConsentRequest,
    ConsentRevokeRequest,
    DeadDomain,
    DeadDomainRevived,
    Decision,
    DomainBlock,
    DomainBlockRequest,
    EnrollmentEnded,
    ErasureResult,
    EventResult,
    Health,
    ImportResult,
    InsightsReport,
    Job,
    JobStatus,
    LeadDetail,
    LeadScore,
    PausedSender,
    PolicyView,
    PoolStats,
    RawPayloadDetail,
    ResumeSenderRequest,
    ResumeSenderResult,
    SenderClaim,
    SentBatchItem,
    Timeline,
    Touch,
    WebhookResult,
)

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0


def _request_args(call: Call[Any], token: str | None) -> dict[str, Any]:
    headers = dict(call.headers)
    if call.authenticated and token:
        headers["Authorization"] = f"Bearer {token}"
    args: dict[str, Any] = {"headers": headers}
    if call.json is not None:
        args["json"] = call.json
    if call.content is not None:
        args["content"] = call.content
    if call.params:
        args["params"] = call.params
    return args


def _unreachable(call: Call[T], exc: httpx.TransportError) -> T:
    message = f"the gate service cannot be reached ({type(exc).__name__})"
    if call.gate == 1 and call.path.endswith("/check"):
        return calls.fail_closed(message)  # type: ignore[return-value]
    return [calls.fail_closed(message) for _ in range(call.gate)]  # type: ignore[return-value]


class LeadpoolClient:
    """Sync client. ``token``: the admin token or an agency API key."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.token = token
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, call: Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, **_request_args(call, self.token))
        except httpx.TransportError as exc:
            if call.gate:
                return _unreachable(call, exc)
            raise
        return call.parse(response)

    def health(self) -> Health:
        return self._run(calls.health())

    def metrics(self) -> str:
        return self._run(calls.metrics())

    def create_agency(self, name: str) -> AgencyCreated:
        return self._run(calls.create_agency(name))

    def list_agencies(self) -> list[Agency]:
        return self._run(calls.list_agencies())

    def cancel_agency(self, agency_id: int) -> AgencyCancelled:
        return self._run(calls.cancel_agency(agency_id))

    def rotate_agency_key(self, agency_id: int) -> AgencyCreated:
        """A new API key for the agency, in this result only; the old key stops working at once."""
        return self._run(calls.rotate_agency_key(agency_id))

    def agency_policy(self, agency_id: int) -> PolicyView:
        """The agency's gate policy override and the policy its campaigns start from (admin)."""
        return self._run(calls.policy("agencies", agency_id))

    def set_agency_policy(self, agency_id: int, overrides: dict[str, Any] | None) -> PolicyView:
        """Replace the agency's gate policy override (None: remove it); admin."""
        return self._run(calls.set_policy("agencies", agency_id, overrides))

    def campaign_policy(self, campaign_id: int) -> PolicyView:
        """The campaign's gate policy override, its agency's, and the policy its checks use."""
        return self._run(calls.policy("campaigns", campaign_id))

    def set_campaign_policy(self, campaign_id: int, overrides: dict[str, Any] | None) -> PolicyView:
        """Replace the campaign's gate policy override (None: remove it)."""
        return self._run(calls.set_policy("campaigns", campaign_id, overrides))

    def import_leads(self, payload: Any) -> ImportResult:
        return self._run(calls.import_leads(payload))

    def get_lead(self, lead_id: int) -> LeadDetail:
        return self._run(calls.get_lead(lead_id))

    def _pages(self, page_call: Callable[..., Call[TL]], limit: int | None, cursor: str | None) -> TL:
        """One page with ``limit``; without, every page from ``cursor`` on, joined."""
        pages = [self._run(page_call(limit=limit, cursor=cursor))]
        while limit is None and pages[-1].next_cursor is not None:
            pages.append(self._run(page_call(cursor=pages[-1].next_cursor)))
        return calls.joined(pages)

    def get_raw_payload(self, payload_id: int) -> RawPayloadDetail:
        """A raw payload whole (admin only: an agency gets 404)."""
        return self._run(calls.get_raw_payload(payload_id))

    def lead_timeline(
        self,
        lead_id: int,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        order: calls.TimelineOrder = "asc",
    ) -> Timeline:
        """With ``limit``: one page (follow ``next_cursor`` for the next). Without: the whole
        timeline from ``cursor`` on, read page by page."""
        return self._pages(functools.partial(calls.lead_timeline, lead_id, order=order), limit, cursor)

    def company_timeline(
        self,
        company_id: int,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        order: calls.TimelineOrder = "asc",
    ) -> CompanyTimeline:
        """With ``limit``: one page (follow ``next_cursor`` for the next). Without: the whole
        timeline from ``cursor`` on, read page by page."""
        return self._pages(functools.partial(calls.company_timeline, company_id, order=order), limit, cursor)

    def end_enrollment(
        self, campaign_id: int, lead_id: int, reason: str = "sequence_finished"
    ) -> EnrollmentEnded:
        """The sequence finished (or the lead was removed): end the enrollment; the lead rests."""
        return self._run(calls.end_enrollment(campaign_id, lead_id, reason))

    def erase_lead(self, lead_id: int, requested_by: str | None = None) -> ErasureResult:
        return self._run(calls.erase_lead(lead_id, requested_by))

    def blocklist(
        self,
        reason: str,
        *,
        lead_id: int | None = None,
        email: str | None = None,
        phone: str | None = None,
        linkedin_url: str | None = None,
    ) -> BlocklistResult:
        """Put a person on the platform blocklist for good (admin)."""
        request = BlocklistRequest(
            reason=reason, lead_id=lead_id, email=email, phone=phone, linkedin_url=linkedin_url
        )
        return self._run(calls.blocklist(request))

    def block_domain(self, domain: str, reason: str, *, agency_id: int | None = None) -> DomainBlock:
        """Put a domain on the platform's list (admin) or an agency's (an agency: its own)."""
        return self._run(
            calls.block_domain(DomainBlockRequest(domain=domain, reason=reason, agency_id=agency_id))
        )

    def list_domain_blocks(self, agency_id: int | None = None) -> list[DomainBlock]:
        """The blocked domains that hold for the caller (an agency: the platform's and its own)."""
        return self._run(calls.list_domain_blocks(agency_id))

    def unblock_domain(self, domain: str, *, agency_id: int | None = None) -> DomainBlock:
        """Lift a domain block (from the platform's list, or ``agency_id``'s; an agency: its own)."""
        return self._run(calls.unblock_domain(domain, agency_id))

    def grant_consent(
        self,
        lead_id: int,
        basis: str,
        source: str,
        *,
        agency_id: int | None = None,
        channel: str | None = None,
        evidence: str | None = None,
        granted_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> Consent:
        """Record the person's consent to an agency (an agency: its own, for a lead it owns; the
        admin names ``agency_id``); ``channel`` None: every channel."""
        request = ConsentRequest.model_validate(
            {
                "agency_id": agency_id,
                "channel": channel,
                "basis": basis,
                "source": source,
                "evidence": evidence,
                "granted_at": granted_at,
                "expires_at": expires_at,
            }
        )
        return self._run(calls.grant_consent(lead_id, request))

    def consents(self, lead_id: int, agency_id: int | None = None) -> list[Consent]:
        """The lead's consents, oldest first (an agency: its own only; the admin: every agency's,
        or ``agency_id``'s)."""
        return self._run(calls.consents(lead_id, agency_id))

    def revoke_consent(self, consent_id: int, reason: str) -> Consent:
        """Revoke a consent (an agency: its own); ``changed`` False when it was revoked already."""
        return self._run(calls.revoke_consent(consent_id, ConsentRevokeRequest(reason=reason)))

    def paused_senders(self) -> list[PausedSender]:
        """The sending accounts a sender guard paused (an agency: the pauses its own sends caused)."""
        return self._run(calls.paused_senders())

    def sender_claims(self) -> list[SenderClaim]:
        """The sending accounts and sending domains claimed (an agency: its own)."""
        return self._run(calls.sender_claims())

    def resume_sender(self, channel: str, sender: str) -> ResumeSenderResult:
        """End a sender's pause, so checks naming it may be allowed again."""
        return self._run(calls.resume_sender(ResumeSenderRequest(channel=channel, sender=sender)))

    def dead_domains(self, *, limit: int | None = None, after: str | None = None) -> list[DeadDomain]:
        """The recipient domains a bounce closed to email (admin), by name; a page of at most
        ``limit`` (1,000) after the domain ``after``."""
        return self._run(calls.dead_domains(limit, after))

    def revive_domain(self, domain: str) -> DeadDomainRevived:
        """Open a closed recipient domain to email again (admin); ``revived`` False when it was not."""
        return self._run(calls.revive_domain(domain))

    def pool_stats(self, top: int = 50) -> PoolStats:
        """The largest ``top`` groups of each breakdown (the rest summed as "(other)")."""
        return self._run(calls.pool_stats(top))

    def list_jobs(self, limit: int = 100, status: JobStatus | None = None) -> list[Job]:
        """Refill jobs, newest first; ``status``: only the jobs in that state."""
        return self._run(calls.list_jobs(limit, status))

    def create_campaign(
        self, name: str, channels: Iterable[str], icp: Mapping[str, Any], daily_quota: int
    ) -> Campaign:
        return self._run(calls.create_campaign(name, channels, icp, daily_quota))

    def list_campaigns(self) -> list[Campaign]:
        return self._run(calls.list_campaigns())

    def get_campaign(self, campaign_id: int) -> Campaign:
        return self._run(calls.get_campaign(campaign_id))

    def activate_campaign(self, campaign_id: int) -> Campaign:
        return self._run(calls.campaign_action(campaign_id, "activate"))

    def pause_campaign(self, campaign_id: int) -> Campaign:
        return self._run(calls.campaign_action(campaign_id, "pause"))

    def resume_campaign(self, campaign_id: int) -> Campaign:
        return self._run(calls.campaign_action(campaign_id, "resume"))

    def allocate(self, campaign_id: int, count: int, idempotency_key: str | None = None) -> Allocation:
        """Up to ``count`` leads; a retry under the same ``idempotency_key`` gets the first answer."""
        return self._run(calls.allocate(campaign_id, count, idempotency_key))

    def campaign_leads(self, campaign_id: int, limit: int = 100, offset: int = 0) -> list[CampaignLead]:
        return self._run(calls.campaign_leads(campaign_id, limit, offset))

    def campaign_suggestions(self, campaign_id: int) -> CampaignSuggestions:
        """Best local send hour and weekday for the campaign's ICP segment."""
        return self._run(calls.campaign_suggestions(campaign_id))

    def get_insights(self, dims: Iterable[str] | None = None) -> InsightsReport:
        """Rates by segment (``dims``: at most 3; None: industry and seniority) with intervals,
        data quality and send-time suggestions; an agency gets its own and the platform view."""
        return self._run(calls.get_insights(dims))

    def lead_scores(self, lead_id: int) -> list[LeadScore]:
        """The lead's expected positive-reply probability per channel, with the model version."""
        return self._run(calls.lead_scores(lead_id))

    def check(
        self,
        lead_id: int,
        campaign_id: int,
        channel: str,
        sender: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        reserve: bool = True,
    ) -> Decision:
        return self._run(calls.check(lead_id, campaign_id, channel, sender, idempotency_key, at, reserve))

    def check_batch(self, items: Iterable[CheckRequest | Mapping[str, Any]]) -> list[Decision]:
        return self._run(calls.check_batch(items))

    def confirm_sent(self, touch_id: int, provider_message_id: str, at: datetime | None = None) -> Touch:
        return self._run(calls.confirm_sent(touch_id, provider_message_id, at))

    def confirm_sent_batch(
        self, items: Iterable[tuple[int, str]], at: datetime | None = None
    ) -> list[SentBatchItem]:
        return self._run(calls.confirm_sent_batch(items, at))

    def cancel_touch(self, touch_id: int, at: datetime | None = None) -> Touch:
        return self._run(calls.cancel_touch(touch_id, at))

    def record_event(self, event: Mapping[str, Any] | BaseModel) -> EventResult:
        return self._run(calls.record_event(event))

    def webhook(self, provider: str, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        return self._run(calls.webhook(provider, body, headers))


class AsyncLeadpoolClient:
    """Async client, the same operations as :class:`LeadpoolClient`."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token = token
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, **_request_args(call, self.token))
        except httpx.TransportError as exc:
            if call.gate:
                return _unreachable(call, exc)
            raise
        return call.parse(response)

    async def health(self) -> Health:
        return await self._run(calls.health())

    async def metrics(self) -> str:
        return await self._run(calls.metrics())

    async def create_agency(self, name: str) -> AgencyCreated:
        return await self._run(calls.create_agency(name))

    async def list_agencies(self) -> list[Agency]:
        return await self._run(calls.list_agencies())

    async def cancel_agency(self, agency_id: int) -> AgencyCancelled:
        return await self._run(calls.cancel_agency(agency_id))

    async def rotate_agency_key(self, agency_id: int) -> AgencyCreated:
        """A new API key for the agency, in this result only; the old key stops working at once."""
        return await self._run(calls.rotate_agency_key(agency_id))

    async def agency_policy(self, agency_id: int) -> PolicyView:
        """The agency's gate policy override and the policy its campaigns start from (admin)."""
        return await self._run(calls.policy("agencies", agency_id))

    async def set_agency_policy(self, agency_id: int, overrides: dict[str, Any] | None) -> PolicyView:
        """Replace the agency's gate policy override (None: remove it); admin."""
        return await self._run(calls.set_policy("agencies", agency_id, overrides))

    async def campaign_policy(self, campaign_id: int) -> PolicyView:
        """The campaign's gate policy override, its agency's, and the policy its checks use."""
        return await self._run(calls.policy("campaigns", campaign_id))

    async def set_campaign_policy(self, campaign_id: int, overrides: dict[str, Any] | None) -> PolicyView:
        """Replace the campaign's gate policy override (None: remove it)."""
        return await self._run(calls.set_policy("campaigns", campaign_id, overrides))

    async def import_leads(self, payload: Any) -> ImportResult:
        return await self._run(calls.import_leads(payload))

    async def get_lead(self, lead_id: int) -> LeadDetail:
        return await self._run(calls.get_lead(lead_id))

    async def _pages(self, page_call: Callable[..., Call[TL]], limit: int | None, cursor: str | None) -> TL:
        """One page with ``limit``; without, every page from ``cursor`` on, joined."""
        pages = [await self._run(page_call(limit=limit, cursor=cursor))]
        while limit is None and pages[-1].next_cursor is not None:
            pages.append(await self._run(page_call(cursor=pages[-1].next_cursor)))
        return calls.joined(pages)

    async def get_raw_payload(self, payload_id: int) -> RawPayloadDetail:
        """A raw payload whole (admin only: an agency gets 404)."""
        return await self._run(calls.get_raw_payload(payload_id))

    async def lead_timeline(
        self,
        lead_id: int,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        order: calls.TimelineOrder = "asc",
    ) -> Timeline:
        """With ``limit``: one page (follow ``next_cursor`` for the next). Without: the whole
        timeline from ``cursor`` on, read page by page."""
        return await self._pages(functools.partial(calls.lead_timeline, lead_id, order=order), limit, cursor)

    async def company_timeline(
        self,
        company_id: int,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        order: calls.TimelineOrder = "asc",
    ) -> CompanyTimeline:
        """With ``limit``: one page (follow ``next_cursor`` for the next). Without: the whole
        timeline from ``cursor`` on, read page by page."""
        return await self._pages(
            functools.partial(calls.company_timeline, company_id, order=order), limit, cursor
        )

    async def end_enrollment(
        self, campaign_id: int, lead_id: int, reason: str = "sequence_finished"
    ) -> EnrollmentEnded:
        """The sequence finished (or the lead was removed): end the enrollment; the lead rests."""
        return await self._run(calls.end_enrollment(campaign_id, lead_id, reason))

    async def erase_lead(self, lead_id: int, requested_by: str | None = None) -> ErasureResult:
        return await self._run(calls.erase_lead(lead_id, requested_by))

    async def blocklist(
        self,
        reason: str,
        *,
        lead_id: int | None = None,
        email: str | None = None,
        phone: str | None = None,
        linkedin_url: str | None = None,
    ) -> BlocklistResult:
        """Put a person on the platform blocklist for good (admin)."""
        request = BlocklistRequest(
            reason=reason, lead_id=lead_id, email=email, phone=phone, linkedin_url=linkedin_url
        )
        return await self._run(calls.blocklist(request))

    async def block_domain(self, domain: str, reason: str, *, agency_id: int | None = None) -> DomainBlock:
        """Put a domain on the platform's list (admin) or an agency's (an agency: its own)."""
        return await self._run(
            calls.block_domain(DomainBlockRequest(domain=domain, reason=reason, agency_id=agency_id))
        )

    async def list_domain_blocks(self, agency_id: int | None = None) -> list[DomainBlock]:
        """The blocked domains that hold for the caller (an agency: the platform's and its own)."""
        return await self._run(calls.list_domain_blocks(agency_id))

    async def unblock_domain(self, domain: str, *, agency_id: int | None = None) -> DomainBlock:
        """Lift a domain block (from the platform's list, or ``agency_id``'s; an agency: its own)."""
        return await self._run(calls.unblock_domain(domain, agency_id))

    async def grant_consent(
        self,
        lead_id: int,
        basis: str,
        source: str,
        *,
        agency_id: int | None = None,
        channel: str | None = None,
        evidence: str | None = None,
        granted_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> Consent:
        """Record the person's consent to an agency (an agency: its own, for a lead it owns; the
        admin names ``agency_id``); ``channel`` None: every channel."""
        request = ConsentRequest.model_validate(
            {
                "agency_id": agency_id,
                "channel": channel,
                "basis": basis,
                "source": source,
                "evidence": evidence,
                "granted_at": granted_at,
                "expires_at": expires_at,
            }
        )
        return await self._run(calls.grant_consent(lead_id, request))

    async def consents(self, lead_id: int, agency_id: int | None = None) -> list[Consent]:
        """The lead's consents, oldest first (an agency: its own only; the admin: every agency's,
        or ``agency_id``'s)."""
        return await self._run(calls.consents(lead_id, agency_id))

    async def revoke_consent(self, consent_id: int, reason: str) -> Consent:
        """Revoke a consent (an agency: its own); ``changed`` False when it was revoked already."""
        return await self._run(calls.revoke_consent(consent_id, ConsentRevokeRequest(reason=reason)))

    async def paused_senders(self) -> list[PausedSender]:
        """The sending accounts a sender guard paused (an agency: the pauses its own sends caused)."""
        return await self._run(calls.paused_senders())

    async def sender_claims(self) -> list[SenderClaim]:
        """The sending accounts and sending domains claimed (an agency: its own)."""
        return await self._run(calls.sender_claims())

    async def resume_sender(self, channel: str, sender: str) -> ResumeSenderResult:
        """End a sender's pause, so checks naming it may be allowed again."""
        return await self._run(calls.resume_sender(ResumeSenderRequest(channel=channel, sender=sender)))

    async def dead_domains(self, *, limit: int | None = None, after: str | None = None) -> list[DeadDomain]:
        """The recipient domains a bounce closed to email (admin), by name; a page of at most
        ``limit`` (1,000) after the domain ``after``."""
        return await self._run(calls.dead_domains(limit, after))

    async def revive_domain(self, domain: str) -> DeadDomainRevived:
        """Open a closed recipient domain to email again (admin); ``revived`` False when it was not."""
        return await self._run(calls.revive_domain(domain))

    async def pool_stats(self, top: int = 50) -> PoolStats:
        """The largest ``top`` groups of each breakdown (the rest summed as "(other)")."""
        return await self._run(calls.pool_stats(top))

    async def list_jobs(self, limit: int = 100, status: JobStatus | None = None) -> list[Job]:
        """Refill jobs, newest first; ``status``: only the jobs in that state."""
        return await self._run(calls.list_jobs(limit, status))

    async def create_campaign(
        self, name: str, channels: Iterable[str], icp: Mapping[str, Any], daily_quota: int
    ) -> Campaign:
        return await self._run(calls.create_campaign(name, channels, icp, daily_quota))

    async def list_campaigns(self) -> list[Campaign]:
        return await self._run(calls.list_campaigns())

    async def get_campaign(self, campaign_id: int) -> Campaign:
        return await self._run(calls.get_campaign(campaign_id))

    async def activate_campaign(self, campaign_id: int) -> Campaign:
        return await self._run(calls.campaign_action(campaign_id, "activate"))

    async def pause_campaign(self, campaign_id: int) -> Campaign:
        return await self._run(calls.campaign_action(campaign_id, "pause"))

    async def resume_campaign(self, campaign_id: int) -> Campaign:
        return await self._run(calls.campaign_action(campaign_id, "resume"))

    async def allocate(self, campaign_id: int, count: int, idempotency_key: str | None = None) -> Allocation:
        return await self._run(calls.allocate(campaign_id, count, idempotency_key))

    async def campaign_leads(self, campaign_id: int, limit: int = 100, offset: int = 0) -> list[CampaignLead]:
        return await self._run(calls.campaign_leads(campaign_id, limit, offset))

    async def campaign_suggestions(self, campaign_id: int) -> CampaignSuggestions:
        """Best local send hour and weekday for the campaign's ICP segment."""
        return await self._run(calls.campaign_suggestions(campaign_id))

    async def get_insights(self, dims: Iterable[str] | None = None) -> InsightsReport:
        """Rates by segment (``dims``: at most 3; None: industry and seniority) with intervals,
        data quality and send-time suggestions; an agency gets its own and the platform view."""
        return await self._run(calls.get_insights(dims))

    async def lead_scores(self, lead_id: int) -> list[LeadScore]:
        """The lead's expected positive-reply probability per channel, with the model version."""
        return await self._run(calls.lead_scores(lead_id))

    async def check(
        self,
        lead_id: int,
        campaign_id: int,
        channel: str,
        sender: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        reserve: bool = True,
    ) -> Decision:
        return await self._run(
            calls.check(lead_id, campaign_id, channel, sender, idempotency_key, at, reserve)
        )

    async def check_batch(self, items: Iterable[CheckRequest | Mapping[str, Any]]) -> list[Decision]:
        return await self._run(calls.check_batch(items))

    async def confirm_sent(
        self, touch_id: int, provider_message_id: str, at: datetime | None = None
    ) -> Touch:
        return await self._run(calls.confirm_sent(touch_id, provider_message_id, at))

    async def confirm_sent_batch(
        self, items: Iterable[tuple[int, str]], at: datetime | None = None
    ) -> list[SentBatchItem]:
        return await self._run(calls.confirm_sent_batch(items, at))

    async def cancel_touch(self, touch_id: int, at: datetime | None = None) -> Touch:
        return await self._run(calls.cancel_touch(touch_id, at))

    async def record_event(self, event: Mapping[str, Any] | BaseModel) -> EventResult:
        return await self._run(calls.record_event(event))

    async def webhook(self, provider: str, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        return await self._run(calls.webhook(provider, body, headers))
