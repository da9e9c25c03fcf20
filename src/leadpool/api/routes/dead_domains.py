"""Recipient domains closed to email by a bounce saying they accept no mail, and reviving them.

The platform's operators' business (admin only): a closure holds for every agency, and its cause
is another agency's send. An agency learns of one from the gate's ``email_bounced`` denial."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response

from leadpool.api.deps import AdminCaller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import DeadDomain, DeadDomainRevived, ReviveDomainRequest
from leadpool.events import dead_domains

router = APIRouter(prefix="/v1/dead-domains", tags=["events"], responses=COMMON_RESPONSES)


@router.get("", response_model=list[DeadDomain])
def list_dead_domains(
    session: SessionDep,
    caller: AdminCaller,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    after: Annotated[str | None, Query(min_length=1, max_length=300)] = None,
) -> list[DeadDomain]:
    """The domains closed to email now, by name (as `leadpool send dead-domains`), a page of at
    most ``limit``: a full page may have more, asked for with ``after`` = its last domain (its
    ``Link`` header, ``rel="next"``, says so)."""
    rows = dead_domains.dead_domains(session, at=datetime.now(UTC), after=after, limit=limit)
    if len(rows) == limit:
        query = urlencode({"limit": limit, "after": rows[-1].domain})
        response.headers["Link"] = f'</v1/dead-domains?{query}>; rel="next"'

    return [DeadDomain.model_validate(r.as_dict()) for r in rows]


@router.post("/revive", response_model=DeadDomainRevived)
def revive_dead_domain(
    body: ReviveDomainRequest, session: SessionDep, caller: AdminCaller
) -> DeadDomainRevived:
    """Open a closed domain to email again, once its mail works again (an MX restored); audited as
    ``domain.revive``. Idempotent: ``revived: false`` when it was not closed. The domain is read as
    the CLI's `send revive-domain` reads it (the stored form first, then a URL's or host's domain).
    A bounce from before the revive does not close it again; a later one does."""
    done = dead_domains.revive_domain(session, body.domain, actor=caller.actor, at=datetime.now(UTC))
    if done is None:
        return DeadDomainRevived(revived=False)
    return DeadDomainRevived(revived=True, domain=DeadDomain.model_validate(done.as_dict()))
