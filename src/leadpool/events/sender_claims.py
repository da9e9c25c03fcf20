"""Which agency a sending account, and an email sending domain, belongs to.

A sender's daily and weekly caps, its bounce, complaint and block guards and its pauses are kept
per account (``channel:sender``) and per sending domain (``domain:DOMAIN``) for the whole
platform: the account is one mailbox, one LinkedIn seat, one number, whoever names it. So one
agency naming another's mailbox in its own checks spent that mailbox's cap, and a few blocks
reported on its own "sends" from it paused it for its owner, who could neither see nor resume the
pause (it sees the pauses its own sends caused).

A claim ties each to one agency. The API is the tenant boundary, so it claims there: the first
check naming a sender (and, for an email sender, its domain, unless a mailbox provider's) claims
it for the campaign's agency, and a check naming one another agency holds is denied
``sender_not_owned`` without asking the gate. The platform's own processes (``GateWorker``, the
CLI) are trusted and neither claim nor are refused. An operator moves or frees a claim
(``leadpool send claim-sender`` / ``release-sender``): an agency that named someone else's
account first keeps it until then. Where that first come, first served is not wanted,
``LEADPOOL_EVENTS_SENDER_CLAIMS=operator`` leaves every claim to the operators: an API check naming
an account nobody gave its agency is denied, and nothing is claimed by use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from leadpool.errors import InvalidInput, NotFound
from leadpool.events.dead_domains import MAILBOX_PROVIDERS
from leadpool.events.senders import DOMAIN_KEY_PREFIX, spelled_keys
from leadpool.events.settings import get_event_settings
from leadpool.gate.policy import CHANNELS
from leadpool.gate.request import normalize_sender, sender_key
from leadpool.models import Agency, AuditLog, SenderClaim


def sender_domain(sender: str) -> str | None:
    """An email sender's domain, spelled as ``leadpool_sender_domain`` (SQL) spells it: after the
    last @, before a closing >, without trailing dots, lower case; None without one."""
    if "@" not in sender:
        return None
    return sender.rpartition("@")[2].split(">", 1)[0].rstrip(". ").lower() or None


def claim_keys(channel: str, sender: str) -> list[str]:
    """The claims a check naming ``sender`` on ``channel`` needs: the account's, and for an email
    sender its sending domain's (a mailbox provider's domain is nobody's)."""
    sender = normalize_sender(sender)
    keys = [sender_key(channel, sender)]
    domain = sender_domain(sender) if channel == "email" else None
    if domain is not None and domain not in MAILBOX_PROVIDERS:
        keys.append(f"{DOMAIN_KEY_PREFIX}{domain}")
    return keys


def foreign(
    session: Session,
    asked: Sequence[tuple[int, str, str]],
    *,
    at: datetime,
    actor: str,
    claim: Sequence[bool] | None = None,
) -> set[int]:
    """The positions in ``asked`` (``(agency_id, channel, sender)``) naming an account or a sending
    domain another agency holds. The others are claimed for their agency where ``claim`` says so
    (default: all): a dry run's check claims nothing, since it proves nothing was ever sent from
    it. A shared key (no agency: several used it before claims) is nobody's. With claims left to
    the operators (``operator_claims``), nothing is claimed, and an account nobody gave (an
    unclaimed domain is no one's) is not theirs either. Flushes."""
    wanted = [claim_keys(channel, sender) for _, channel, sender in asked]
    keys = sorted({k for ks in wanted for k in ks})
    if not keys:
        return set()
    by_operator = operator_claims()
    claiming = claim if claim is not None and not by_operator else [not by_operator] * len(asked)
    conn = session.connection()
    # most checks name senders claimed long ago: one read, and an insert only for the new ones
    held = _holders(conn, keys)
    new = sorted(
        {
            (k, a)
            for (a, _, _), ks, c in zip(asked, wanted, claiming, strict=True)
            if c
            for k in ks
            if k not in held
        }
    )
    if new:
        # one statement, in key order, whatever the agencies: two batches naming the same keys
        # cannot each wait for a row the other inserted (the first agency of a key wins)
        conn.execute(
            text(
                "INSERT INTO sender_claims (sender, agency_id, claimed_at, actor) "
                "SELECT k, a, :at, :actor FROM unnest(CAST(:keys AS text[]), CAST(:agencies AS bigint[])) "
                "AS v(k, a) ORDER BY k, a ON CONFLICT (sender) DO NOTHING"
            ),
            {"at": at, "actor": actor, "keys": [k for k, _ in new], "agencies": [a for _, a in new]},
        )
        # read again what was new: a concurrent claim that won one of them is seen now
        held.update(_holders(conn, sorted({k for k, _ in new})))
    return {
        n
        for n, ((agency_id, _, _), ks) in enumerate(zip(asked, wanted, strict=True))
        if any(held.get(k) not in (None, agency_id) for k in ks) or (by_operator and ks[0] not in held)
    }


def operator_claims() -> bool:
    """Whether only operators give senders to agencies (``LEADPOOL_EVENTS_SENDER_CLAIMS``)."""
    return get_event_settings().sender_claims == "operator"


def _holders(conn: Connection, keys: list[str]) -> dict[str, int | None]:
    """The claimed keys among ``keys`` and their agency (None: shared)."""
    rows = conn.execute(
        text("SELECT sender, agency_id FROM sender_claims WHERE sender = ANY (CAST(:keys AS text[]))"),
        {"keys": keys},
    )
    return dict(rows.tuples().all())


@dataclass(frozen=True)
class Claim:
    sender: str  # channel:sender or domain:DOMAIN
    agency_id: int | None  # None: shared, nobody's (each mailbox at a shared domain has its own claim)
    claimed_at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "agency_id": self.agency_id,
            "claimed_at": self.claimed_at.isoformat(),
            "actor": self.actor,
        }


def named_key(channel: str, sender: str) -> str:
    """The claim an operator names: an account (``email anna@agency.com``), with ``@DOMAIN`` an
    email sending domain (``email @agency.com``), or a key as the claims list it
    (``email:anna@agency.com``, ``domain:agency.com``; then ``channel`` is not used)."""
    if channel not in CHANNELS:
        raise InvalidInput(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    spelled = normalize_sender(sender)
    if not spelled:
        raise InvalidInput("sender: must not be empty")
    if spelled.startswith("@") and (channel != "email" or not spelled.strip("@. ")):
        raise InvalidInput(f"sender {spelled!r}: @DOMAIN names an email sending domain (channel email)")
    return spelled_keys(channel, spelled)[0]


def claims(session: Session, *, agency_id: int | None = None) -> list[Claim]:
    q = select(SenderClaim).order_by(SenderClaim.sender)
    if agency_id is not None:
        q = q.where(SenderClaim.agency_id == agency_id)
    return [_claim(c) for c in session.scalars(q)]


def assign(
    session: Session, channel: str, sender: str, agency_id: int | None, *, actor: str, at: datetime
) -> tuple[Claim, Claim | None]:
    """Give a sender (or ``@DOMAIN``) to an agency, whoever held it, or with ``agency_id`` None
    mark it shared (nobody's: every agency may name it, each mailbox at a shared domain still
    being its own agency's). Returns the claim and the one it replaced. Audited as
    ``sender.claim``. Flushes."""
    key = named_key(channel, sender)
    if not actor.strip():
        raise InvalidInput("actor: must not be empty (who moves the claim is kept in the audit log)")
    if agency_id is not None and session.get(Agency, agency_id) is None:
        raise NotFound(f"agency {agency_id} not found")
    row = session.scalars(select(SenderClaim).where(SenderClaim.sender == key).with_for_update()).first()
    before = _claim(row) if row is not None else None
    session.execute(
        insert(SenderClaim)
        .values(sender=key, agency_id=agency_id, claimed_at=at, actor=actor)
        .on_conflict_do_update(
            index_elements=[SenderClaim.sender],
            set_={"agency_id": agency_id, "claimed_at": at, "actor": actor},
        )
    )
    was = before.agency_id if before is not None else None
    detail = {"agency_id": agency_id, "agency_id_was": was, "was_claimed": before is not None}
    _audit(session, "sender.claim", key, actor, at, detail)
    session.flush()
    return Claim(key, agency_id, at, actor), before


def _claim(row: SenderClaim) -> Claim:
    return Claim(row.sender, row.agency_id, row.claimed_at, row.actor)


def release(session: Session, channel: str, sender: str, *, actor: str, at: datetime) -> Claim:
    """Free a sender's claim (the next agency to name it claims it); NotFound when unclaimed.
    Audited as ``sender.release``. Flushes."""
    key = named_key(channel, sender)
    if not actor.strip():
        raise InvalidInput("actor: must not be empty (who frees the claim is kept in the audit log)")
    row = session.scalars(delete(SenderClaim).where(SenderClaim.sender == key).returning(SenderClaim)).first()
    if row is None:
        raise NotFound(f"sender {key} is not claimed by any agency")
    _audit(session, "sender.release", key, actor, at, {"agency_id_was": row.agency_id})
    session.flush()
    return _claim(row)


def _audit(session: Session, action: str, key: str, actor: str, at: datetime, detail: dict[str, Any]) -> None:
    session.add(
        AuditLog(
            at=at, actor=actor.strip(), action=action, subject_type="sender", subject_id=key, detail=detail
        )
    )
