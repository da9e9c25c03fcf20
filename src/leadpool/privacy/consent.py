"""Consents: the person's permission to one agency, where the policy's countries ask for it.

The gate denies ``no_consent`` to a lead whose country the campaign's policy lists for the
channel (``consent_required``; by default email to Germany and Canada, texts to Canada) unless the
campaign's agency holds a live consent here: not revoked, granted at or before the check, not
expired. A consent covers one channel or all of them (``channel`` None).

Each grant is a row that is never edited but to revoke it, so what the person agreed to, when and
where stays provable; each grant and revocation writes an audit row on the lead (its timeline
shows them). Erasing the person deletes their consents (their source and evidence name them).
An opt-out (unsubscribe, complaint) stops every agency whatever consents exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from leadpool.errors import InvalidInput, NotFound
from leadpool.limits import EARLIEST, LATEST
from leadpool.models import CHANNELS, CONSENT_BASES, AuditLog, Consent

MAX_SOURCE = 500
MAX_EVIDENCE = 2000


@dataclass(frozen=True)
class ConsentRecord:
    id: int
    lead_id: int
    agency_id: int
    channel: str | None
    basis: str
    source: str
    evidence: str | None
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None
    actor: str
    changed: bool = True  # False: a revocation found it revoked already

    def live_at(self, at: datetime) -> bool:
        return (
            self.revoked_at is None
            and self.granted_at <= at
            and (self.expires_at is None or self.expires_at > at)
        )

    def as_dict(self, at: datetime | None = None) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id": self.id,
            "lead_id": self.lead_id,
            "agency_id": self.agency_id,
            "channel": self.channel,
            "basis": self.basis,
            "source": self.source,
            "evidence": self.evidence,
            "granted_at": iso(self.granted_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "revoked_reason": self.revoked_reason,
            "actor": self.actor,
            "live": self.live_at(at or datetime.now(UTC)),
        }


def _record(row: Consent, *, changed: bool = True) -> ConsentRecord:
    return ConsentRecord(
        row.id,
        row.lead_id,
        row.agency_id,
        row.channel,
        row.basis,
        row.source,
        row.evidence,
        row.granted_at,
        row.expires_at,
        row.revoked_at,
        row.revoked_reason,
        row.actor,
        changed,
    )


def _text(value: str | None, name: str, limit: int, *, required: bool) -> str | None:
    v = (value or "").strip()
    if not v:
        if required:
            raise InvalidInput(f"{name}: required (kept as the consent's proof)")
        return None
    if len(v) > limit or "\x00" in v:
        raise InvalidInput(f"{name}: at most {limit} characters of text")
    return v


def _required(value: str | None, name: str, limit: int) -> str:
    v = _text(value, name, limit, required=True)
    assert v is not None
    return v


def _instant(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"{name}: {value.isoformat()} has no UTC offset")
    if not EARLIEST <= value < LATEST:
        # PostgreSQL would store year 1 as a BC timestamp the gate's reads then refuse
        raise InvalidInput(f"{name}: {value.isoformat()} is outside {EARLIEST:%Y}-{LATEST.year - 1}")
    return value.astimezone(UTC)


def grant_consent(
    session: Session,
    *,
    lead_id: int,
    agency_id: int,
    basis: str,
    source: str,
    actor: str,
    channel: str | None = None,
    evidence: str | None = None,
    granted_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> ConsentRecord:
    """Record that the lead agreed to be contacted by the agency (on ``channel``, None: every
    channel) from ``granted_at`` (default now) until ``expires_at`` (None: until revoked; CASL's
    implied consent lasts two years from the business relationship). Flushes, never commits.

    Raises InvalidInput for a bad value or an erased lead, NotFound for an unknown lead or agency.
    """
    who = _required(actor, "actor", 200)
    where = _required(source, "source", MAX_SOURCE)
    proof = _text(evidence, "evidence", MAX_EVIDENCE, required=False)
    if basis not in CONSENT_BASES:
        raise InvalidInput(f"basis: {basis!r} is not one of {', '.join(CONSENT_BASES)}")
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(
            f"channel: {channel!r} is not one of {', '.join(CHANNELS)} (or none: every channel)"
        )
    start = _instant(granted_at, "granted_at") or datetime.now(UTC)
    end = _instant(expires_at, "expires_at")
    if end is not None and end <= start:
        raise InvalidInput(f"expires_at: {end.isoformat()} is not after granted_at {start.isoformat()}")
    # FOR KEY SHARE waits for an erasure in progress (FOR UPDATE), which deletes the lead's consents
    lead = session.execute(
        text("SELECT erased_at FROM leads WHERE id = :id FOR KEY SHARE"), {"id": lead_id}
    ).first()
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    if lead[0] is not None:
        raise InvalidInput(f"lead {lead_id}: the person's data was erased; nobody contacts them again")
    if session.execute(text("SELECT 1 FROM agencies WHERE id = :id"), {"id": agency_id}).first() is None:
        raise NotFound(f"agency {agency_id} not found")
    row = Consent(
        lead_id=lead_id,
        agency_id=agency_id,
        channel=channel,
        basis=basis,
        source=where,
        evidence=proof,
        granted_at=start,
        expires_at=end,
        actor=who,
    )
    session.add(row)
    session.flush()
    _audit(
        session, row, "consent.grant", who, {"basis": basis, "expires_at": end.isoformat() if end else None}
    )
    return _record(row)


def revoke_consent(
    session: Session,
    consent_id: int,
    *,
    actor: str,
    reason: str,
    agency_id: int | None = None,
    at: datetime | None = None,
) -> ConsentRecord:
    """Revoke one consent (idempotent: one revoked already is returned unchanged). ``agency_id``
    set: only that agency's consent is found (an agency acts on its own). Flushes, never commits."""
    who = _required(actor, "actor", 200)
    why = _required(reason, "reason", MAX_SOURCE)
    row = session.execute(
        select(Consent)
        .where(Consent.id == consent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None or (agency_id is not None and row.agency_id != agency_id):
        raise NotFound(f"consent {consent_id} not found")
    if row.revoked_at is not None:
        return _record(row, changed=False)
    now = datetime.now(UTC)
    when = _instant(at, "at") or now
    if when > now:
        # the gate treats any revoked consent as gone: a revocation dated later would be a lie
        raise InvalidInput(f"at: {when.isoformat()} is in the future; a consent is revoked when it is asked")
    row.revoked_at = when
    row.revoked_reason = why
    session.flush()
    _audit(session, row, "consent.revoke", who, {"reason": why})
    return _record(row)


def consents_of(session: Session, lead_id: int, *, agency_id: int | None = None) -> list[ConsentRecord]:
    """The lead's consents, oldest first (one agency's only when ``agency_id`` is set)."""
    if session.execute(text("SELECT 1 FROM leads WHERE id = :id"), {"id": lead_id}).first() is None:
        raise NotFound(f"lead {lead_id} not found")
    q = select(Consent).where(Consent.lead_id == lead_id)
    if agency_id is not None:
        q = q.where(Consent.agency_id == agency_id)
    return [_record(r) for r in session.scalars(q.order_by(Consent.id))]


def _audit(session: Session, row: Consent, action: str, actor: str, extra: dict[str, Any]) -> None:
    # on the lead, so its timeline shows it; the source and evidence stay in the consent row only
    session.add(
        AuditLog(
            at=row.revoked_at if action == "consent.revoke" else row.created_at or datetime.now(UTC),
            actor=actor,
            action=action,
            subject_type="lead",
            subject_id=str(row.lead_id),
            detail={"consent_id": row.id, "agency_id": row.agency_id, "channel": row.channel, **extra},
        )
    )
