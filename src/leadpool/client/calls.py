"""Each API operation as a request description plus how to read its answer.

The sync and async clients only differ in how they send a :class:`Call`; everything about paths,
bodies and result types lives here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from leadpool.client.models import (
    TIMELINE_MAX_LIMIT,
    Agency,
    AgencyCancelled,
    AgencyCreated,
    Allocation,
    BlocklistRequest,
    BlocklistResult,
    Campaign,
    CampaignLead,
    CampaignSuggestions,
    CheckBatchResult,
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
    PolicyOverride,
    PolicyView,
    PoolStats,
    RawPayloadDetail,
    ResumeSenderRequest,
    ResumeSenderResult,
    ReviveDomainRequest,
    SenderClaim,
    SentBatchItem,
    SentBatchResult,
    Timeline,
    Touch,
    WebhookResult,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An error answer from the service, carrying its RFC 9457 problem details."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", ""))
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        super().__init__(f"{status} {self.title}: {self.detail}")


def raise_for_problem(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"title": response.reason_phrase, "detail": response.text[:500]}
    if not isinstance(body, dict):
        body = {"detail": str(body)}
    raise ApiError(response.status_code, body)


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    def parse(response: httpx.Response) -> M:
        raise_for_problem(response)
        return model.model_validate_json(response.content)

    return parse


def _list(model: type[M]) -> Callable[[httpx.Response], list[M]]:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]

    def parse(response: httpx.Response) -> list[M]:
        raise_for_problem(response)
        result: list[M] = adapter.validate_json(response.content)
        return result

    return parse


def fail_closed(message: str) -> Decision:
    return Decision.model_validate(
        {"decision": "deny", "reasons": [{"code": "gate_error", "message": message}], "touch_id": None}
    )


def _decision(response: httpx.Response) -> Decision:
    # 503 carries a deny decision (fail closed): return it rather than raise
    if response.status_code == 503:
        try:
            return Decision.model_validate_json(response.content)
        except ValueError:
            return fail_closed(f"the service answered 503: {response.text[:200]}")
    raise_for_problem(response)
    return Decision.model_validate_json(response.content)


def _decisions(count: int) -> Callable[[httpx.Response], list[Decision]]:
    def parse(response: httpx.Response) -> list[Decision]:
        if response.status_code == 503:
            try:
                return CheckBatchResult.model_validate_json(response.content).results
            except ValueError:
                return [fail_closed(f"the service answered 503: {response.text[:200]}")] * count
        raise_for_problem(response)
        return CheckBatchResult.model_validate_json(response.content).results

    return parse


def _text(response: httpx.Response) -> str:
    raise_for_problem(response)
    return response.text


@dataclass
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    authenticated: bool = True
    gate: int = 0  # >0: a gate check of this many items; transport failures fail closed


def _body(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _check_body(
    lead_id: int,
    campaign_id: int,
    channel: str,
    sender: str | None,
    idempotency_key: str | None,
    at: datetime | None,
    reserve: bool,
) -> dict[str, Any]:
    return _body(
        CheckRequest.model_validate(
            {
                "lead_id": lead_id,
                "campaign_id": campaign_id,
                "channel": channel,
                "sender": sender,
                "idempotency_key": idempotency_key,
                "at": at,
                "reserve": reserve,
            }
        )
    )


# ops


def health() -> Call[Health]:
    return Call("GET", "/healthz", _model(Health), authenticated=False)


def metrics() -> Call[str]:
    return Call("GET", "/metrics", _text, authenticated=False)


# agencies (admin)


def create_agency(name: str) -> Call[AgencyCreated]:
    return Call("POST", "/v1/agencies", _model(AgencyCreated), json={"name": name})


def list_agencies() -> Call[list[Agency]]:
    return Call("GET", "/v1/agencies", _list(Agency))


def cancel_agency(agency_id: int) -> Call[AgencyCancelled]:
    return Call("POST", f"/v1/agencies/{agency_id}/cancel", _model(AgencyCancelled))


def rotate_agency_key(agency_id: int) -> Call[AgencyCreated]:
    return Call("POST", f"/v1/agencies/{agency_id}/rotate-key", _model(AgencyCreated))


def policy(level: Literal["agencies", "campaigns"], id_: int) -> Call[PolicyView]:
    return Call("GET", f"/v1/{level}/{id_}/policy", _model(PolicyView))


def set_policy(
    level: Literal["agencies", "campaigns"], id_: int, overrides: dict[str, Any] | None
) -> Call[PolicyView]:
    body = PolicyOverride(overrides=overrides).model_dump(mode="json")
    return Call("PUT", f"/v1/{level}/{id_}/policy", _model(PolicyView), json=body)


# leads and the pool


def import_leads(payload: Any) -> Call[ImportResult]:
    """``payload``: any Apollo JSON shape the importer takes (a search page, a match, a list of
    people), or the raw bytes of one, sent untouched so the raw payload is kept as received."""
    if isinstance(payload, bytes | bytearray):
        return Call(
            "POST",
            "/v1/leads/import",
            _model(ImportResult),
            content=bytes(payload),
            headers={"Content-Type": "application/json"},
        )
    return Call("POST", "/v1/leads/import", _model(ImportResult), json=payload)


def get_lead(lead_id: int) -> Call[LeadDetail]:
    return Call("GET", f"/v1/leads/{lead_id}", _model(LeadDetail))


def get_raw_payload(payload_id: int) -> Call[RawPayloadDetail]:
    return Call("GET", f"/v1/raw-payloads/{payload_id}", _model(RawPayloadDetail))


TimelineOrder = Literal["asc", "desc"]


def _timeline_params(limit: int | None, cursor: str | None, order: TimelineOrder) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": TIMELINE_MAX_LIMIT if limit is None else limit, "order": order}
    if cursor is not None:
        params["cursor"] = cursor
    return params


def lead_timeline(
    lead_id: int, *, limit: int | None = None, cursor: str | None = None, order: TimelineOrder = "asc"
) -> Call[Timeline]:
    """One page (``limit`` None: the largest page the service gives)."""
    return Call(
        "GET",
        f"/v1/leads/{lead_id}/timeline",
        _model(Timeline),
        params=_timeline_params(limit, cursor, order),
    )


def company_timeline(
    company_id: int, *, limit: int | None = None, cursor: str | None = None, order: TimelineOrder = "asc"
) -> Call[CompanyTimeline]:
    """One page (``limit`` None: the largest page the service gives)."""
    return Call(
        "GET",
        f"/v1/companies/{company_id}/timeline",
        _model(CompanyTimeline),
        params=_timeline_params(limit, cursor, order),
    )


TL = TypeVar("TL", Timeline, CompanyTimeline)


def joined(pages: list[TL]) -> TL:
    """Consecutive pages of one timeline as one (with the last page's ``next_cursor``)."""
    entries = [e for page in pages for e in page.entries]
    return pages[0].model_copy(update={"entries": entries, "next_cursor": pages[-1].next_cursor})


def erase_lead(lead_id: int, requested_by: str | None = None) -> Call[ErasureResult]:
    body = {"requested_by": requested_by} if requested_by is not None else None
    return Call("POST", f"/v1/leads/{lead_id}/erase", _model(ErasureResult), json=body)


def blocklist(request: BlocklistRequest) -> Call[BlocklistResult]:
    return Call(
        "POST",
        "/v1/blocklist",
        _model(BlocklistResult),
        json=request.model_dump(mode="json", exclude_none=True),
    )


def block_domain(request: DomainBlockRequest) -> Call[DomainBlock]:
    return Call(
        "POST",
        "/v1/blocklist/domains",
        _model(DomainBlock),
        json=request.model_dump(mode="json", exclude_none=True),
    )


def list_domain_blocks(agency_id: int | None = None) -> Call[list[DomainBlock]]:
    params = {"agency_id": agency_id} if agency_id is not None else None
    return Call("GET", "/v1/blocklist/domains", _list(DomainBlock), params=params)


def unblock_domain(domain: str, agency_id: int | None = None) -> Call[DomainBlock]:
    params = {"agency_id": agency_id} if agency_id is not None else None
    return Call(
        "DELETE", f"/v1/blocklist/domains/{quote(domain, safe='')}", _model(DomainBlock), params=params
    )


def grant_consent(lead_id: int, request: ConsentRequest) -> Call[Consent]:
    return Call("POST", f"/v1/leads/{lead_id}/consents", _model(Consent), json=_body(request))


def consents(lead_id: int, agency_id: int | None = None) -> Call[list[Consent]]:
    params = {"agency_id": agency_id} if agency_id is not None else None
    return Call("GET", f"/v1/leads/{lead_id}/consents", _list(Consent), params=params)


def revoke_consent(consent_id: int, request: ConsentRevokeRequest) -> Call[Consent]:
    return Call("POST", f"/v1/consents/{consent_id}/revoke", _model(Consent), json=_body(request))


def paused_senders() -> Call[list[PausedSender]]:
    return Call("GET", "/v1/senders/paused", _list(PausedSender))


def sender_claims() -> Call[list[SenderClaim]]:
    return Call("GET", "/v1/senders/claims", _list(SenderClaim))


def resume_sender(request: ResumeSenderRequest) -> Call[ResumeSenderResult]:
    return Call(
        "POST", "/v1/senders/resume", _model(ResumeSenderResult), json=request.model_dump(mode="json")
    )


def dead_domains(limit: int | None = None, after: str | None = None) -> Call[list[DeadDomain]]:
    params = {k: v for k, v in (("limit", limit), ("after", after)) if v is not None}
    return Call("GET", "/v1/dead-domains", _list(DeadDomain), params=params or None)


def revive_domain(domain: str) -> Call[DeadDomainRevived]:
    body = _body(ReviveDomainRequest(domain=domain))
    return Call("POST", "/v1/dead-domains/revive", _model(DeadDomainRevived), json=body)


def pool_stats(top: int = 50) -> Call[PoolStats]:
    return Call("GET", "/v1/pool/stats", _model(PoolStats), params={"top": top})


def list_jobs(limit: int = 100, status: JobStatus | None = None) -> Call[list[Job]]:
    params: dict[str, Any] = {"limit": limit}
    if status is not None:
        params["status"] = status
    return Call("GET", "/v1/jobs", _list(Job), params=params)


# campaigns (agency)


def create_campaign(
    name: str, channels: Iterable[str], icp: Mapping[str, Any], daily_quota: int
) -> Call[Campaign]:
    body = {"name": name, "channels": list(channels), "icp": dict(icp), "daily_quota": daily_quota}
    return Call("POST", "/v1/campaigns", _model(Campaign), json=body)


def list_campaigns() -> Call[list[Campaign]]:
    return Call("GET", "/v1/campaigns", _list(Campaign))


def get_campaign(campaign_id: int) -> Call[Campaign]:
    return Call("GET", f"/v1/campaigns/{campaign_id}", _model(Campaign))


def campaign_action(campaign_id: int, action: str) -> Call[Campaign]:
    return Call("POST", f"/v1/campaigns/{campaign_id}/{action}", _model(Campaign))


def allocate(campaign_id: int, count: int, idempotency_key: str | None = None) -> Call[Allocation]:
    body: dict[str, Any] = {"count": count}
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    return Call("POST", f"/v1/campaigns/{campaign_id}/allocate", _model(Allocation), json=body)


def end_enrollment(
    campaign_id: int, lead_id: int, reason: str = "sequence_finished"
) -> Call[EnrollmentEnded]:
    return Call(
        "POST",
        f"/v1/campaigns/{campaign_id}/leads/{lead_id}/end",
        _model(EnrollmentEnded),
        json={"reason": reason},
    )


def campaign_leads(campaign_id: int, limit: int = 100, offset: int = 0) -> Call[list[CampaignLead]]:
    return Call(
        "GET",
        f"/v1/campaigns/{campaign_id}/leads",
        _list(CampaignLead),
        params={"limit": limit, "offset": offset},
    )


# insights


def get_insights(dims: Iterable[str] | None = None) -> Call[InsightsReport]:
    """``dims``: at most 3 dimensions (None: the service's default, industry and seniority)."""
    params = None if dims is None else {"dims": ",".join(dims)}
    return Call("GET", "/v1/insights", _model(InsightsReport), params=params)


def lead_scores(lead_id: int) -> Call[list[LeadScore]]:
    return Call("GET", f"/v1/insights/leads/{lead_id}/scores", _list(LeadScore))


def campaign_suggestions(campaign_id: int) -> Call[CampaignSuggestions]:
    return Call("GET", f"/v1/campaigns/{campaign_id}/suggestions", _model(CampaignSuggestions))


# the gate


def check(
    lead_id: int,
    campaign_id: int,
    channel: str,
    sender: str | None = None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
    reserve: bool = True,
) -> Call[Decision]:
    body = _check_body(lead_id, campaign_id, channel, sender, idempotency_key, at, reserve)
    return Call("POST", "/v1/sends/check", _decision, json=body, gate=1)


def check_batch(items: Iterable[CheckRequest | Mapping[str, Any]]) -> Call[list[Decision]]:
    body = [_body(i if isinstance(i, CheckRequest) else CheckRequest.model_validate(dict(i))) for i in items]
    return Call(
        "POST", "/v1/sends/check-batch", _decisions(len(body)), json={"items": body}, gate=max(1, len(body))
    )


def confirm_sent(touch_id: int, provider_message_id: str, at: datetime | None = None) -> Call[Touch]:
    body: dict[str, Any] = {"provider_message_id": provider_message_id}
    if at is not None:
        body["at"] = at.isoformat()
    return Call("POST", f"/v1/touches/{touch_id}/sent", _model(Touch), json=body)


def confirm_sent_batch(
    items: Iterable[tuple[int, str]], at: datetime | None = None
) -> Call[list[SentBatchItem]]:
    """(touch id, provider message id) pairs; each result has the touch or the item's error."""
    body: dict[str, Any] = {"items": [{"touch_id": t, "provider_message_id": m} for t, m in items]}
    if at is not None:
        body["at"] = at.isoformat()
    return Call("POST", "/v1/touches/sent-batch", _sent_batch, json=body)


def _sent_batch(response: httpx.Response) -> list[SentBatchItem]:
    return _model(SentBatchResult)(response).results


def cancel_touch(touch_id: int, at: datetime | None = None) -> Call[Touch]:
    body = {"at": at.isoformat()} if at is not None else None
    return Call("POST", f"/v1/touches/{touch_id}/cancel", _model(Touch), json=body)


# events and webhooks


def record_event(event: Mapping[str, Any] | BaseModel) -> Call[EventResult]:
    body = _body(event) if isinstance(event, BaseModel) else _jsonable(dict(event))
    return Call("POST", "/v1/events", _model(EventResult), json=body)


def webhook(provider: str, body: bytes, headers: Mapping[str, str]) -> Call[WebhookResult]:
    return Call(
        "POST",
        f"/v1/webhooks/{provider}",
        _model(WebhookResult),
        content=body,
        headers=dict(headers),
        authenticated=False,
    )


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items() if v is not None}
