"""The pre-send gate over HTTP: check (one or a batch), then confirm the send or cancel it.

Fail closed: when the database cannot be reached, or the gate itself answers ``gate_error``, a
check answers 503 with a deny decision, never an allow. Each check commits inside the route, so an
allow is only returned once its reservation is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from leadpool import gate
from leadpool.api import metrics, tenancy
from leadpool.api.auth import Principal
from leadpool.api.deps import (
    BearerCredentials,
    Caller,
    SessionDep,
    app_secret,
    authenticate_request,
    database,
)
from leadpool.api.problems import COMMON_RESPONSES, database_unreachable
from leadpool.client.models import (
    CancelRequest,
    CheckBatchRequest,
    CheckBatchResult,
    CheckRequest,
    Decision,
    ItemError,
    SentBatchItem,
    SentBatchRequest,
    SentBatchResult,
    SentRequest,
    Touch,
)
from leadpool.db import session_scope
from leadpool.errors import LeadpoolError
from leadpool.events import sender_claims
from leadpool.gate.check import record_denials
from leadpool.gate.reasons import GateDecision, Reason, sort_reasons
from leadpool.gate.request import normalize_sender
from leadpool.gate.rules import campaign_reasons
from leadpool.limits import MAX_ID
from leadpool.models import Agency as AgencyRow
from leadpool.models import Campaign as CampaignRow
from leadpool.privacy import unsubscribe as one_click

router = APIRouter(tags=["gate"], responses=COMMON_RESPONSES)
TouchId = Annotated[int, Path(ge=1, le=MAX_ID)]

_FAIL_CLOSED: dict[int | str, dict[str, Any]] = {
    503: {"model": Decision, "description": "Fail closed: deny with gate_error."}
}
_BATCH_FAIL_CLOSED: dict[int | str, dict[str, Any]] = {
    503: {"model": CheckBatchResult, "description": "Fail closed: every item denied."}
}
GATE_ERROR = "The gate cannot reach its database; nothing may be sent now."


def decision_out(d: GateDecision, request: Request | None = None, channel: str | None = None) -> Decision:
    out = Decision.model_validate(d.as_dict())
    # only under the configured public address: the one a check came in on is often an internal
    # one (http://leadpool:8000), and a link nobody can reach is no opt-out
    if request is None or channel != "email" or out.decision != "allow" or out.touch_id is None:
        return out
    public_url: str | None = request.app.state.api_settings.public_url
    if public_url:
        out.unsubscribe_url = one_click.link(public_url, out.touch_id, app_secret(request))
    return out


def _denied() -> dict[str, Any]:
    return {
        "decision": "deny",
        "retry_after": None,
        "reasons": [{"code": "gate_error", "message": GATE_ERROR, "retry_after": None}],
        "touch_id": None,
    }


def _campaign_own(session: Session, campaign: CampaignRow, channel: str) -> list[Reason]:
    """What the gate says of the campaign and its agency alone, in the gate's own sentences."""
    agency = session.get(AgencyRow, campaign.agency_id)
    return campaign_reasons(
        campaign.id,
        campaign.agency_id,
        agency.status if agency else None,
        campaign.status,
        campaign.paused_reason,
        tuple(campaign.channels or ()),
        channel,
    )


def _not_held(session: Session, lead_id: int, campaign: CampaignRow, channel: str) -> GateDecision:
    """The answer to an agency asking about a lead it does not hold: the same for another agency's
    lead, a free one and an id that does not exist, and without asking the gate, whose reasons
    would tell the caller about someone else's lead (out of office until..., unsubscribed...).
    What it says about the caller's own campaign and agency is the gate's own sentences."""
    own = _campaign_own(session, campaign, channel)
    return GateDecision(
        "deny",
        sort_reasons(
            [
                *own,
                Reason("not_owned", f"Lead {lead_id} is not held by this campaign's agency."),
                Reason("not_enrolled", f"Lead {lead_id} has no active enrollment in this campaign."),
            ]
        ),
    )


def _refused(
    session: Session, caller: Principal, items: list[CheckRequest], campaigns: dict[int, CampaignRow]
) -> list[GateDecision]:
    """The not-held answers of these items, recorded as the caller's checks (another agency's
    timeline never shows them)."""
    decisions = [_not_held(session, i.lead_id, campaigns[i.campaign_id], i.channel) for i in items]
    if items:
        record_denials(session, [_request(i) for i in items], decisions, agency_id=caller.agency_id)
    return decisions


def _foreign_senders(
    session: Session, caller: Principal, items: list[CheckRequest], campaigns: dict[int, CampaignRow]
) -> set[int]:
    """The positions of the items naming a sender (or a sending domain) another agency holds; the
    rest are claimed for their campaign's agency, by a check that reserves (a dry run claims
    nothing: ``leadpool.events.sender_claims``)."""
    named = [n for n, i in enumerate(items) if i.sender is not None and i.sender.strip()]
    asked = [
        (campaigns[items[n].campaign_id].agency_id, items[n].channel, items[n].sender or "") for n in named
    ]
    taken = sender_claims.foreign(
        session, asked, at=datetime.now(UTC), actor=caller.actor, claim=[items[n].reserve for n in named]
    )
    return {named[k] for k in taken}


def _not_theirs(
    session: Session, caller: Principal, items: list[CheckRequest], campaigns: dict[int, CampaignRow]
) -> list[GateDecision]:
    """Denials of checks naming another agency's sender, recorded as the campaign's checks."""
    by_operator = sender_claims.operator_claims()
    decisions = []
    for i in items:
        own = _campaign_own(session, campaigns[i.campaign_id], i.channel)
        named = f"{i.channel}:{normalize_sender(i.sender or '')}"
        theirs = Reason(
            "sender_not_owned",
            # operators give every sender: one sentence whether another agency holds it or nobody does
            f"Sender {named} was not given to this campaign's agency; an operator gives sending accounts "
            "to agencies (leadpool send claim-sender)."
            if by_operator
            else f"Sender {named} (or its sending domain) belongs to another agency; a campaign sends "
            "only from its own agency's accounts.",
        )
        decisions.append(GateDecision("deny", sort_reasons([*own, theirs])))
    for agency_id in sorted({campaigns[i.campaign_id].agency_id for i in items}):
        mine = [
            (i, d)
            for i, d in zip(items, decisions, strict=True)
            if campaigns[i.campaign_id].agency_id == agency_id
        ]
        record_denials(session, [_request(i) for i, _ in mine], [d for _, d in mine], agency_id=agency_id)
    return decisions


def _held(session: Session, caller: Principal, lead_ids: list[int]) -> set[int]:
    if caller.is_admin:
        return set(lead_ids)
    return set(session.scalars(tenancy.visible_lead_ids(lead_ids, caller)))


def _count(decisions: list[Decision]) -> None:
    for d in decisions:
        if not d.replayed:  # a replay is the same decision, not another one
            metrics.count_decision(d.decision, [r.code for r in d.reasons])


def _request(item: CheckRequest) -> gate.CheckRequest:
    return gate.CheckRequest(
        lead_id=item.lead_id,
        campaign_id=item.campaign_id,
        channel=item.channel,
        sender=item.sender,
        at=item.at,
        reserve=item.reserve,
        idempotency_key=item.idempotency_key,
    )


# a gate_error is worth asking again shortly, as every 503 of the service says
_RETRY_AFTER = {"Retry-After": "5"}


@router.post("/v1/sends/check", response_model=Decision, responses=_FAIL_CLOSED)
def check(body: CheckRequest, request: Request, credentials: BearerCredentials) -> Any:
    """May this campaign touch this lead on this channel now? Allow reserves a touch (TTL) that
    counts against every cap until it is confirmed sent, cancelled or expires."""
    try:
        with session_scope(database(request)) as session:
            caller = authenticate_request(session, request, credentials)
            campaign = tenancy.campaign(session, caller, body.campaign_id)
            if body.lead_id not in _held(session, caller, [body.lead_id]):
                (decision,) = _refused(session, caller, [body], {campaign.id: campaign})
            elif _foreign_senders(session, caller, [body], {campaign.id: campaign}):
                (decision,) = _not_theirs(session, caller, [body], {campaign.id: campaign})
            else:
                # not a batch of one: a clean allow takes the one-call fast path
                decision = gate.check_one(session, _request(body))
            out = decision_out(decision, request, body.channel)
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        metrics.count_decision("deny", ["gate_error"])
        return JSONResponse(_denied(), status_code=503, headers=_RETRY_AFTER)
    _count([out])
    if "gate_error" in (r.code for r in out.reasons):
        return JSONResponse(out.model_dump(mode="json"), status_code=503, headers=_RETRY_AFTER)
    return out


@router.post("/v1/sends/check-batch", response_model=CheckBatchResult, responses=_BATCH_FAIL_CLOSED)
def check_batch(body: CheckBatchRequest, request: Request, credentials: BearerCredentials) -> Any:
    """Decide many checks in one round trip, with the same guarantees as one by one."""
    try:
        with session_scope(database(request)) as session:
            caller = authenticate_request(session, request, credentials)
            campaigns = {
                cid: tenancy.campaign(session, caller, cid) for cid in {i.campaign_id for i in body.items}
            }
            held = _held(session, caller, [i.lead_id for i in body.items])
            mine = [i for i in body.items if i.lead_id in held]
            theirs = {id(mine[n]) for n in _foreign_senders(session, caller, mine, campaigns)}
            # the others reserve nothing, so leaving them out changes no other item's answer
            asked = iter(gate.check_many(session, [_request(i) for i in mine if id(i) not in theirs]))
            refused = iter(
                _refused(session, caller, [i for i in body.items if i.lead_id not in held], campaigns)
            )
            foreign = iter(_not_theirs(session, caller, [i for i in mine if id(i) in theirs], campaigns))
            out = [
                decision_out(
                    next(refused)
                    if i.lead_id not in held
                    else next(foreign)
                    if id(i) in theirs
                    else next(asked),
                    request,
                    i.channel,
                )
                for i in body.items
            ]
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        metrics.count_decision("deny", ["gate_error"])
        return JSONResponse(
            {"results": [_denied() for _ in body.items]}, status_code=503, headers=_RETRY_AFTER
        )
    _count(out)
    result = CheckBatchResult(results=out)
    if any(r.code == "gate_error" for d in out for r in d.reasons):
        return JSONResponse(result.model_dump(mode="json"), status_code=503, headers=_RETRY_AFTER)
    return result


def touch_out(row: Any) -> Touch:
    return Touch.model_validate(row, from_attributes=True)


@router.post("/v1/touches/{touch_id}/sent", response_model=Touch)
def confirm_sent(touch_id: TouchId, body: SentRequest, session: SessionDep, caller: Caller) -> Touch:
    """The touch went out: it stays counted, now as sent. Idempotent for the same message id
    (with or without its angle brackets); 409 when the reservation was cancelled or expired
    (check again before sending), or when another agency's send holds the message id."""
    tenancy.touch(session, caller, touch_id)
    gate.confirm_sent(session, touch_id, body.provider_message_id, at=body.at)
    return touch_out(tenancy.touch(session, caller, touch_id, refresh=True))


@router.post("/v1/touches/sent-batch", response_model=SentBatchResult)
def confirm_sent_batch(body: SentBatchRequest, session: SessionDep, caller: Caller) -> SentBatchResult:
    """Confirm many sends at once (after a check-batch), each with the rules of
    ``touches/{id}/sent``. Items are independent: one that cannot be confirmed (404 not yours or
    not found, 409 cancelled, expired or another message id, 422) gets its error and changes
    nothing, the others are confirmed."""
    results = []
    for item in body.items:
        try:
            with session.begin_nested():  # a failed item rolls back alone
                tenancy.touch(session, caller, item.touch_id)
                gate.confirm_sent(session, item.touch_id, item.provider_message_id, at=body.at)
                touch = touch_out(tenancy.touch(session, caller, item.touch_id, refresh=True))
        except LeadpoolError as e:
            error = ItemError(status=e.status_code, detail=e.message)
            results.append(SentBatchItem(touch_id=item.touch_id, error=error))
        else:
            results.append(SentBatchItem(touch_id=item.touch_id, touch=touch))
    return SentBatchResult(results=results)


@router.post("/v1/touches/{touch_id}/cancel", response_model=Touch)
def cancel(
    touch_id: TouchId, session: SessionDep, caller: Caller, body: CancelRequest | None = None
) -> Touch:
    """The touch will not go out: its reservation stops counting. Idempotent; 409 once sent."""
    tenancy.touch(session, caller, touch_id)
    gate.cancel(session, touch_id, at=body.at if body else None)
    return touch_out(tenancy.touch(session, caller, touch_id, refresh=True))
