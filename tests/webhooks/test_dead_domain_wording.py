"""Microsoft 365 answers an unknown *mailbox* with ``550 5.1.10 RESOLVER.ADR.RecipientNotFound;
Recipient not found by SMTP address lookup``: the address is suppressed, but the company's domain
is not closed (a text saying the recipient was not found closes nothing; a 5.1.10 whose text has
words closes only with null-MX or domain wording). A bare 5.1.10 code, and RFC 7505's own wording,
still close it.

Reference, section 2: 5.1.1 "Bad destination mailbox ... Suppress now (hard)" is a recipient-level
action; the 5.1.10 row ("null MX ... Suppress the domain") is tagged [I] only. The DSN text itself
says the recipient, not the domain, was not found.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select
from tests.webhooks.conftest import (
    INSTANTLY_BOUNCE,
    NOW,
    POSTMARK_AUTH,
    POSTMARK_BOUNCE,
    SES_MESSAGE,
    SMARTLEAD_BOUNCE,
    SnsSigner,
    dumps,
)

from leadpool.db import Database, session_scope
from leadpool.events.dead_domains import closing_domain
from leadpool.models import DeadDomain, Suppression
from leadpool.webhooks import WebhookSettings, handle
from leadpool.webhooks.certs import CertStore


def test_o365_recipient_not_found_does_not_close_the_company_domain(
    db: Database, sns_signer: SnsSigner, secrets: WebhookSettings, cert_store: CertStore
) -> None:
    msg: dict[str, Any] = copy.deepcopy(SES_MESSAGE)
    msg["bounce"]["bouncedRecipients"] = [
        {
            "emailAddress": "left.the.company@acme-o365.example",
            "action": "failed",
            "status": "5.1.10",
            "diagnosticCode": "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
            "address lookup",
        }
    ]
    env = sns_signer.envelope(msg)
    with session_scope(db) as s:
        handle(
            "ses", sns_signer.headers(env), dumps(env), session=s, settings=secrets, now=NOW, certs=cert_store
        )
    with session_scope(db) as s:
        assert s.execute(select(DeadDomain.domain)).scalars().all() == []
        # the address itself is suppressed, as any hard bounce's is
        assert s.execute(select(Suppression.kind)).scalars().all() == ["email_bounced"]


def test_which_words_let_5_1_10_and_5_1_2_close_a_domain() -> None:
    def closes(status: str, text: str) -> bool:
        return closing_domain(status, "a@gone.example", 90, text=text) == "gone.example"

    assert closes("5.1.10", "")  # a bare code, as the API and CLI take it
    assert closes("5.1.10", "smtp; 556 5.1.10")
    assert closes("5.1.10", "556 5.1.10 Recipient address has null MX")
    assert closes("5.1.10", "550 5.1.10 Domain gone.example does not accept mail (nullMX)")
    assert not closes("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP")
    assert not closes("5.1.10", "550 5.1.10 mailbox unavailable")
    assert closes("5.1.2", "550 5.1.2 Host or domain name not found")
    assert not closes("5.1.2", "550 5.1.2 RESOLVER.ADR.RecipientNotFound")


_O365_UNKNOWN = "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
_NULL_MX = "556 5.1.10 Recipient address has null MX"
_BOUNCED = "left.the.company@acme-o365.example"


def _shared_secret_bounce(provider: str, dsn: str) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a hard bounce of ``_BOUNCED`` whose server text is ``dsn``."""
    if provider == "postmark":
        body = {**POSTMARK_BOUNCE, "Email": _BOUNCED, "Details": f"smtp;{dsn}"}
        return {"Authorization": POSTMARK_AUTH}, dumps(body)
    if provider == "smartlead":
        bounce = {**SMARTLEAD_BOUNCE["bounce_message"], "text": dsn, "html": f"<p>{dsn}</p>"}
        return {}, dumps({**SMARTLEAD_BOUNCE, "to_email": _BOUNCED, "bounce_message": bounce})
    body = {**INSTANTLY_BOUNCE, "lead_email": _BOUNCED, "reason": dsn}
    return {"Authorization": "Bearer instantly-fixture-secret"}, dumps(body)


@pytest.mark.parametrize("provider", ["postmark", "smartlead", "instantly"])
def test_a_text_the_provider_gives_decides_a_5_1_10_as_sess_does(
    db: Database, secrets: WebhookSettings, provider: str
) -> None:
    """Postmark's ``Details``, Smartlead's ``bounce_message`` and Instantly's ``reason`` carry the
    server's words, but only the code was kept: Microsoft 365's unknown mailbox closed the whole
    company domain (every colleague denied for 90 days) on ``5.1.10`` alone."""
    headers, body = _shared_secret_bounce(provider, _O365_UNKNOWN)
    with session_scope(db) as s:
        result = handle(provider, headers, body, session=s, settings=secrets, now=NOW)
    assert result.events_recorded == 1 and result.outcomes[0].type == "hard_bounce", result
    with session_scope(db) as s:
        assert s.execute(select(DeadDomain.domain)).scalars().all() == []
        assert s.execute(select(Suppression.kind)).scalars().all() == ["email_bounced"]
    # RFC 7505's own words still close it
    headers, body = _shared_secret_bounce(provider, _NULL_MX)
    body = body.replace(b"3719297970", b"3719297971").replace(
        b"2025-01-01T00:00:00.000Z", b"2025-01-01T00:00:01.000Z"
    )
    with session_scope(db) as s:
        handle(provider, headers, body, session=s, settings=secrets, now=NOW)
    with session_scope(db) as s:
        assert s.execute(select(DeadDomain.domain)).scalars().all() == ["acme-o365.example"]
