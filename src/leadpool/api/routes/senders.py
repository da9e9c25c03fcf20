"""Sending accounts the sender guards paused (bounces, complaints, policy blocks), and resuming them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from leadpool.api.deps import Caller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import PausedSender, ResumeSenderRequest, ResumeSenderResult, SenderClaim
from leadpool.events import sender_claims, senders

router = APIRouter(prefix="/v1/senders", tags=["senders"], responses=COMMON_RESPONSES)


@router.get("/paused", response_model=list[PausedSender])
def paused(session: SessionDep, caller: Caller) -> list[PausedSender]:
    """The senders paused now, and why; an agency sees the pauses one of its own sends caused."""
    rows = senders.paused_senders(session, at=datetime.now(UTC), agency_id=caller.agency_id)
    return [PausedSender.model_validate(r.as_dict()) for r in rows]


@router.get("/claims", response_model=list[SenderClaim])
def claims(session: SessionDep, caller: Caller) -> list[SenderClaim]:
    """The sending accounts and email sending domains each agency holds (an agency: its own). The
    first check over the API naming one claims it; another agency naming it is denied
    ``sender_not_owned``; an operator moves or frees one (`leadpool send claim-sender`)."""
    rows = sender_claims.claims(session, agency_id=caller.agency_id)
    return [SenderClaim.model_validate(r.as_dict()) for r in rows]


@router.post("/resume", response_model=ResumeSenderResult)
def resume(body: ResumeSenderRequest, session: SessionDep, caller: Caller) -> ResumeSenderResult:
    """End a sender's pause (once the cause is dealt with: a list cleaned, a domain's reputation
    restored). Idempotent: ``resumed: false`` when it was not paused, or, for an agency, when no send
    of its own caused the pause. The next bounce, complaint or block over the limit pauses it again."""
    ended = senders.resume_sender(
        session,
        body.channel,
        body.sender,
        actor=caller.actor,
        at=datetime.now(UTC),
        agency_id=caller.agency_id,
    )
    if ended is None:
        return ResumeSenderResult(resumed=False)
    return ResumeSenderResult(resumed=True, pause=PausedSender.model_validate(ended.as_dict()))
