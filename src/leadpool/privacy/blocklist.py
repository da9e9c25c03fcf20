"""The platform blocklist: people the platform will never contact, whatever any event says.

The gate has always denied ``blocklisted`` (``leads.blocklisted_at``) and imports have always
made a person born blocklisted from a ``blocklisted`` suppression, but nothing wrote either: this
is the way in (``leadpool blocklist add``, ``POST /v1/blocklist``). An entry is a suppression like
an unsubscribe: keyed hashes of the addresses, so it holds for people the pool does not hold yet
and survives their erasure; every lead holding one of the addresses (as its email, phone or
LinkedIn URL, or among its personal or previous emails) is flagged and its active enrollment
ended, and an audit row says who asked and why. Like every suppression it is permanent: there is
no removal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from leadpool.config import get_settings
from leadpool.errors import InvalidInput, NotFound
from leadpool.events.effects import address_holders, end_enrollments, mark_since, suppress
from leadpool.ingestion.hashing import address_hmac, normalize_address
from leadpool.ingestion.lock import hold_off_imports
from leadpool.models import AuditLog, Lead
from leadpool.pool.locks import lock_leads

#: the longest reason kept (it is an operator's note, not a document)
MAX_REASON = 500


@dataclass
class BlocklistResult:
    suppressions_added: int = 0
    lead_ids: list[int] = field(default_factory=list)  # the leads flagged now or before
    newly_blocklisted: int = 0
    enrollments_ended: int = 0


def blocklist(
    session: Session,
    *,
    reason: str,
    actor: str,
    lead_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    linkedin: str | None = None,
    at: datetime | None = None,
) -> BlocklistResult:
    """Put a person on the platform blocklist, by lead id and/or by address. Idempotent: a second
    call adds nothing and ends nothing. Flushes, never commits."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason: say why the person is blocklisted (kept in the audit log)")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise InvalidInput(f"reason: at most {MAX_REASON} characters, no NUL")
    actor = (actor or "").strip()
    if not actor:
        raise InvalidInput("actor: say who asks (kept in the audit log)")
    given = {"email": email, "phone": phone, "linkedin": linkedin}
    addresses: dict[str, str] = {}
    for kind, value in given.items():
        if value is not None:
            try:
                addresses[kind] = normalize_address(kind, value)
            except InvalidInput as e:
                raise InvalidInput(f"{kind}: {e}") from None
    if lead_id is None and not addresses:
        raise InvalidInput("name the person: a lead id, an email, a phone or a LinkedIn URL")
    now = at or datetime.now(UTC)
    key = get_settings().resolved_secret_key()
    hold_off_imports(session)  # a running import batch either sees the suppression or is seen here

    named = list(addresses.items())
    if lead_id is not None:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise NotFound(f"lead {lead_id} not found")
        # the person, not only the addresses named: their email, LinkedIn URL, personal and previous emails
        # (not their phone unless named: a lead's number may be its company's switchboard)
        own = [("email", lead.email), ("linkedin", lead.linkedin_url)]
        own += [("email", e) for e in [*(lead.personal_emails or []), *(lead.previous_emails or [])]]
        for kind, value in own:
            if value:
                try:
                    named.append((kind, normalize_address(kind, value)))
                except InvalidInput:
                    continue  # a stored personal email that is no address: nothing to match later
    named = list(dict.fromkeys(named))
    holders: set[int] = {lead_id} if lead_id is not None else set()
    for kind, value in named:
        holders.update(address_holders(session, {kind: value}, exclude=None, personal=kind == "email"))
    lock_leads(session, holders)

    pairs = [(kind, address_hmac(kind, value, key)) for kind, value in named]
    result = BlocklistResult(
        suppressions_added=suppress(session, "blocklisted", pairs, lead_id=lead_id, event_id=None)
    )
    result.lead_ids = sorted(holders)
    for held in result.lead_ids:
        if mark_since(session, held, "blocklisted_at", now):
            result.newly_blocklisted += 1
        result.enrollments_ended += end_enrollments(
            session, held, "blocklisted", actor=f"blocklist:{actor}", now=now
        )
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action="blocklist.add",
            subject_type="lead" if lead_id is not None else "address",
            # an address is named by its keyed hash only: the log keeps no personal data
            subject_id=str(lead_id) if lead_id is not None else pairs[0][1],
            detail={
                "reason": reason,
                "addresses": sorted(kind for kind in addresses),  # which kinds, never the values
                # every address's keyed hash, not only the subject's: erasing the person holding
                # any one of them finds this row and its reason (which may name them)
                "address_hmacs": sorted({h for _, h in pairs}),
                "lead_ids": result.lead_ids,
                "suppressions_added": result.suppressions_added,
            },
        )
    )
    session.flush()
    return result
