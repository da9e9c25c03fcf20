"""Consents: the person's permission to one agency, where the gate's policy asks for it
(``consent_required``; without a live one the gate denies ``no_consent``).

An agency acts for itself only: it records consent to itself for a lead it currently owns, reads
its own consents, and revokes them. Naming another agency, another agency's consent or a lead it
may not see is answered as if they did not exist (404), as everywhere (``leadpool.api.tenancy``).
The admin acts for any agency and must name it when recording one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from leadpool.api import tenancy
from leadpool.api.auth import Principal
from leadpool.api.deps import Caller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import Consent as ConsentOut
from leadpool.client.models import ConsentRequest, ConsentRevokeRequest
from leadpool.errors import InvalidInput, NotFound
from leadpool.limits import MAX_ID
from leadpool.models import Consent
from leadpool.privacy import consent
from leadpool.privacy.consent import ConsentRecord

router = APIRouter(tags=["consents"], responses=COMMON_RESPONSES)
LeadId = Annotated[int, Path(ge=1, le=MAX_ID)]
ConsentId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _out(record: ConsentRecord) -> ConsentOut:
    return ConsentOut.model_validate(record.as_dict() | {"changed": record.changed})


def _agency(session: Session, caller: Principal, agency_id: int | None) -> int | None:
    """The agency a caller acts for: an agency's own (naming another is a 404, as if absent); the
    admin's the one it names (None: every agency)."""
    if agency_id is not None:
        tenancy.agency(session, caller, agency_id)  # another agency's, or none: 404
        return agency_id
    return caller.agency_id


@router.post("/v1/leads/{lead_id}/consents", response_model=ConsentOut, status_code=201)
def grant(lead_id: LeadId, body: ConsentRequest, session: SessionDep, caller: Caller) -> ConsentOut:
    """Record that the person agreed to be contacted by the agency (on ``channel``; null: every
    channel) from ``granted_at`` (default now) until ``expires_at`` (null: until revoked). An
    agency records consent to itself, and only for a lead it currently owns (any other lead is a
    404, as if absent); the admin names the agency, for any lead. Each grant is a new row, kept
    as the proof, and an audit entry on the lead's timeline."""
    agency_id = _agency(session, caller, body.agency_id)
    if agency_id is None:
        raise InvalidInput("agency_id: required with the admin token (the agency the person agreed to)")
    tenancy.lead(session, caller, lead_id)
    done = consent.grant_consent(
        session,
        lead_id=lead_id,
        agency_id=agency_id,
        basis=body.basis,
        source=body.source,
        actor=caller.actor,
        channel=body.channel,
        evidence=body.evidence,
        granted_at=body.granted_at,
        expires_at=body.expires_at,
    )
    return _out(done)


@router.get("/v1/leads/{lead_id}/consents", response_model=list[ConsentOut])
def list_consents(
    lead_id: LeadId,
    session: SessionDep,
    caller: Caller,
    agency_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[ConsentOut]:
    """The lead's consents, oldest first, revoked and expired ones too (``live`` says which hold
    now). The admin sees every agency's (or ``agency_id``'s); an agency its own only, for a lead
    it owns or once recorded consent of (it may have moved on: the proof stays the agency's)."""
    whose = _agency(session, caller, agency_id)
    if not caller.is_admin:
        try:
            tenancy.lead(session, caller, lead_id)
        except NotFound:
            held = session.scalar(
                select(exists().where(Consent.lead_id == lead_id, Consent.agency_id == whose))
            )
            if not held:
                raise
    return [_out(r) for r in consent.consents_of(session, lead_id, agency_id=whose)]


@router.post("/v1/consents/{consent_id}/revoke", response_model=ConsentOut)
def revoke(
    consent_id: ConsentId, body: ConsentRevokeRequest, session: SessionDep, caller: Caller
) -> ConsentOut:
    """Revoke a consent (the person withdrew it): the gate denies ``no_consent`` again where the
    policy asks for one. An agency revokes its own (whoever owns the lead now); another agency's
    is a 404. Idempotent: a consent revoked already comes back unchanged (``changed: false``)."""
    done = consent.revoke_consent(
        session, consent_id, actor=caller.actor, reason=body.reason, agency_id=caller.agency_id
    )
    return _out(done)
