"""A Mailgun subaccount's event signed in ``signature.parent-signature`` with the parent account's
configured signing key is accepted (either signature may match a configured key, compared in
constant time; the token stays one-time); a parent-signature made with a key we do not hold is
still refused.

Reference, section 1.3, Mailgun: "HMAC inside the JSON body ... body ``signature.{timestamp, token,
signature}``; a subaccount event adds ``parent-signature``" [D S10], i.e. the same
``hex(HMAC-SHA256(key, timestamp + token))`` made with the parent account's webhook signing key.
An operator of the parent account configures one key for all its subaccounts.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest
from tests.webhooks.conftest import EPOCH, MAILGUN_BODY, MAILGUN_KEY, NOW

from leadpool.db import Database, session_scope
from leadpool.webhooks import WebhookSettings, handle
from leadpool.webhooks.errors import WebhookUnauthorized


def _sig(key: str, timestamp: str, token: str) -> dict[str, str]:
    mac = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": mac}


def test_a_subaccount_event_with_a_parent_signature_by_the_configured_parent_key_is_accepted(
    db: Database, secrets: WebhookSettings
) -> None:
    body = copy.deepcopy(MAILGUN_BODY)
    token = "p" * 50
    # Mailgun's docs: the signature object of a subaccount's event carries "parent-signature", "same
    # as signature", made with the primary account's key, "so that the receiving server does not have
    # to account for each individual subaccount signature"
    body["signature"] = {
        **_sig("the-subaccount-own-key", EPOCH, token),  # a key we do not hold
        "parent-signature": _sig(MAILGUN_KEY, EPOCH, token)["signature"],  # the parent's key, configured
    }
    raw = json.dumps(body).encode()
    with session_scope(db) as s:
        result = handle("mailgun", {}, raw, session=s, settings=secrets, now=NOW)
    assert result.events_recorded == 1


def test_a_parent_signature_by_a_key_we_do_not_hold_is_refused(
    db: Database, secrets: WebhookSettings
) -> None:
    body = copy.deepcopy(MAILGUN_BODY)
    token = "q" * 50
    body["signature"] = {
        **_sig("the-subaccount-own-key", EPOCH, token),
        "parent-signature": _sig("another-parent-key", EPOCH, token)["signature"],
    }
    with session_scope(db) as s, pytest.raises(WebhookUnauthorized):
        handle("mailgun", {}, json.dumps(body).encode(), session=s, settings=secrets, now=NOW)
