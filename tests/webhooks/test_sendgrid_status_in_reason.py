"""A SendGrid ``bounce`` whose ``status`` field is absent is read by the enhanced code in its
``reason`` (the SMTP text): a 5.7.1 policy refusal is a sender block, a 5.2.2 full mailbox a soft
bounce; neither suppresses the recipient.

Reference, section 1.2, SendGrid: "``status`` (e.g. ``5.1.1``, sometimes absent), ``reason`` (full
SMTP text)"; section 2: 5.7.1 "**Do not** suppress the recipient; count it against the sending
mailbox/domain"; 5.2.2 / 4.2.2 "**Soft**: count it, never suppress on one event, even if the code is
5.2.2". (Mailgun's and Postmark's adapters read the code out of the text too.)
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.webhooks.conftest import NOW, SENDGRID_EVENTS, SendGridSigner, dumps

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Suppression
from leadpool.webhooks import WebhookSettings, handle


@pytest.mark.parametrize(
    ("classification", "reason", "expected"),
    [
        ("Unclassified", "550 5.7.1 Message rejected due to local policy", "sender_block"),
        (
            "Mailbox Unavailable",
            "552 5.2.2 The email account that you tried to reach is over quota",
            "soft_bounce",
        ),
    ],
)
def test_sendgrid_bounce_without_status_reads_the_code_in_reason(
    db: Database,
    sendgrid_signer: SendGridSigner,
    secrets: WebhookSettings,
    classification: str,
    reason: str,
    expected: str,
) -> None:
    item: dict[str, Any] = {**SENDGRID_EVENTS[0], "bounce_classification": classification, "reason": reason}
    del item["status"]
    body = dumps([item])
    with session_scope(db) as s:
        result = handle("sendgrid", sendgrid_signer.headers(body), body, session=s, settings=secrets, now=NOW)
    h = address_hmac("email", item["email"], get_settings().resolved_secret_key())
    with session_scope(db) as s:
        kinds = s.execute(select(Suppression.kind).where(Suppression.value_hmac == h)).scalars().all()
    assert ([o.type for o in result.outcomes], kinds) == ([expected], [])
