"""The provider's own severity wins upward: a bounce it calls transient (SES ``Transient``,
Postmark ``DnsError``) stays a soft bounce whatever its status code says (5.1.2 here): counted,
never suppressing on its own, never closing the recipient's domain. A code may still lower it
(5.7.x: a sender block); only a permanent bounce closes a domain.

Reference, section 1.1: SES soft bounce = ``Bounce`` + ``Transient`` [D S21]; section 3: "Transient
bounces never go on the account list" [D S22, S23]; section 2, 5.1.2: "A transient DNS error can
look similar ... so only act on permanent ones". Postmark: ``DnsError`` (256) is a soft bounce
[D S16] and "SoftBounce/Transient do not deactivate" [D S18].
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from tests.webhooks.conftest import NOW, POSTMARK_AUTH, POSTMARK_BOUNCE, SES_MESSAGE, SnsSigner, dumps

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import DeadDomain, Suppression
from leadpool.webhooks import WebhookSettings, handle
from leadpool.webhooks.certs import CertStore

ADDR = "pat@closed-corp.example"


def _state(db: Database) -> tuple[list[str], list[str]]:
    h = address_hmac("email", ADDR, get_settings().resolved_secret_key())
    with session_scope(db) as s:
        kinds = s.execute(select(Suppression.kind).where(Suppression.value_hmac == h)).scalars().all()
        dead = s.execute(select(DeadDomain.domain)).scalars().all()
    return list(kinds), list(dead)


def _ses_transient(status: str, diagnostic: str) -> dict[str, Any]:
    """An SES bounce notification the provider calls Transient, with this status and DSN line."""
    msg: dict[str, Any] = copy.deepcopy(SES_MESSAGE)
    msg["bounce"]["bounceType"] = "Transient"
    msg["bounce"]["bounceSubType"] = "General"
    msg["bounce"]["bouncedRecipients"] = [
        {"emailAddress": ADDR, "action": "failed", "status": status, "diagnosticCode": diagnostic}
    ]
    return msg


def test_an_ses_transient_bounce_with_5_1_2_status_neither_suppresses_nor_closes_the_domain(
    db: Database, sns_signer: SnsSigner, secrets: WebhookSettings, cert_store: CertStore
) -> None:
    msg = _ses_transient("5.1.2", "smtp; 550 5.1.2 Host unknown (temporary DNS lookup failure)")
    msg["mail"]["destination"] = [ADDR]
    env = sns_signer.envelope(msg)
    with session_scope(db) as s:
        result = handle(
            "ses", sns_signer.headers(env), dumps(env), session=s, settings=secrets, now=NOW, certs=cert_store
        )
    assert result.events_recorded == 1
    kinds, dead = _state(db)
    # SES said Transient: at most a soft bounce, counted; never a suppression, never a domain closure
    assert (kinds, dead) == ([], []), f"transient SES bounce: suppressions {kinds}, closed domains {dead}"


def test_a_postmark_dns_error_with_5_1_2_details_neither_suppresses_nor_closes_the_domain(
    db: Database, secrets: WebhookSettings
) -> None:
    rec = {
        **POSTMARK_BOUNCE,
        "Type": "DnsError",
        "TypeCode": 256,
        "Name": "DNS error",
        "Description": "A temporary DNS error.",
        "Details": "smtp;550 5.1.2 Host or domain name not found",
        "Email": ADDR,
        "Inactive": False,
    }
    with session_scope(db) as s:
        result = handle(
            "postmark", {"Authorization": POSTMARK_AUTH}, dumps(rec), session=s, settings=secrets, now=NOW
        )
    assert result.events_recorded == 1
    kinds, dead = _state(db)
    assert (kinds, dead) == ([], []), f"Postmark DnsError (soft): suppressions {kinds}, closed domains {dead}"


def test_a_code_may_still_lower_a_transient_bounce_to_a_sender_block(
    db: Database, sns_signer: SnsSigner, secrets: WebhookSettings, cert_store: CertStore
) -> None:
    msg = _ses_transient("5.7.1", "smtp; 550 5.7.1 policy")
    env = sns_signer.envelope(msg)
    with session_scope(db) as s:
        result = handle(
            "ses", sns_signer.headers(env), dumps(env), session=s, settings=secrets, now=NOW, certs=cert_store
        )
    assert [o.type for o in result.outcomes] == ["sender_block"]
    assert _state(db) == ([], [])
