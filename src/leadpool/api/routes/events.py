"""Events reported by sending engines and agencies (bounces, replies, unsubscribes, conversions)."""

from __future__ import annotations

from fastapi import APIRouter

from leadpool.api import metrics, tenancy
from leadpool.api.deps import Caller, SessionDep
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import EventResult
from leadpool.errors import InvalidInput
from leadpool.events import EventIn, record_event

router = APIRouter(prefix="/v1/events", tags=["events"], responses=COMMON_RESPONSES)


@router.post("", response_model=EventResult)
def post_event(body: EventIn, session: SessionDep, caller: Caller) -> EventResult:
    """Record one event, once per (source, provider_event_id); a repeat changes nothing and says
    ``duplicate: true``. An event may name an address the pool does not hold: it is stored and
    suppresses that address anyway. An agency may name only its own leads and campaigns, and
    names a converted lead by ``lead_id``."""
    if body.type == "converted" and body.lead_id is None and not caller.is_admin:
        # a conversion makes the owner's ownership permanent: by address it could name (and
        # convert) a lead another agency owns
        raise InvalidInput("an agency reports a conversion for one of its leads: give lead_id")
    if body.lead_id is not None:
        tenancy.lead(session, caller, body.lead_id)
    if body.campaign_id is not None:
        tenancy.campaign(session, caller, body.campaign_id)
    outcome = record_event(session, body, agency_id=None if caller.is_admin else caller.agency_id)
    if not outcome.duplicate:
        metrics.EVENTS.labels(type=outcome.type or body.type, via="api").inc()
    lead_id = outcome.lead_id
    if lead_id is not None and not caller.is_admin:
        # an address event may resolve to a lead of another agency: do not reveal which one
        visible = session.scalar(tenancy.visible_lead_ids([lead_id], caller))
        lead_id = lead_id if visible else None
    return EventResult(
        event_id=outcome.event_id,
        duplicate=outcome.duplicate,
        lead_id=lead_id,
        effects=list(outcome.effects) if caller.is_admin else _own_effects(outcome.effects, lead_id),
        type=outcome.type,
        category=outcome.category,
    )


# what an agency's event did that an agency may be told: to its own lead, campaign, sender, and to
# what every agency sees (a company pause, a closed domain). Not what it did to other leads, to
# the suppression list or to consents: whether the address was held, suppressed or consented to
# elsewhere is other agencies' business (reported by naming its own lead and any address, those
# effects told it whether the pool held the address)
_AGENCY_EFFECTS = (
    "lead:",
    "enrollment:",
    "ownership:",
    "conversion:",
    "campaign:",
    "sender:",
    "soft_bounce:",
    "company:",
    "domain:",
)


def _own_effects(effects: list[str], lead_id: int | None) -> list[str]:
    if lead_id is None:  # an address event that named none of the caller's leads
        return []
    return [e for e in effects if e.startswith(_AGENCY_EFFECTS)]
