"""Raw payloads (admin): one stored Apollo response or import record, whole.

Reading a lead gives of each payload only this person's object (a payload may be a whole import);
the whole body is here, for the admin alone: anyone else gets 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from leadpool.api.deps import Caller, SessionDep
from leadpool.api.leadview import raw_payload
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import RawPayloadDetail
from leadpool.limits import MAX_ID

router = APIRouter(prefix="/v1/raw-payloads", tags=["leads"], responses=COMMON_RESPONSES)
PayloadId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/{payload_id}", response_model=RawPayloadDetail)
def get_raw_payload(payload_id: PayloadId, session: SessionDep, caller: Caller) -> RawPayloadDetail:
    """The payload whole: its body exactly as received, request and response headers (admin only;
    an agency gets 404)."""
    return RawPayloadDetail.model_validate(raw_payload(session, payload_id, caller))
