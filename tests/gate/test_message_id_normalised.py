"""``confirm_sent`` stores a provider message id without surrounding whitespace and one pair of
surrounding angle brackets (``gate.touches.normalize_message_id``), so events link the touch
whichever form their provider reports (Mailgun's webhook: ``abc@mail``; SendGrid's ``smtp-id``,
Smartlead's ``sent_message.message_id``: ``<abc@mail>``; compliance reference section 1.2). A retry
of the confirmation with or without the brackets is the same id; a touch stored with them before
this (a legacy row) is still confirmed idempotently; another id is still a conflict."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.errors import Conflict, InvalidInput
from leadpool.gate import check, confirm_sent
from leadpool.gate.touches import normalize_message_id

T0 = MONDAY_OPEN


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("<abc@mail>", "abc@mail"),
        ("  <abc@mail> ", "abc@mail"),
        ("abc@mail", "abc@mail"),
        ("<<abc@mail>>", "<abc@mail>"),  # one pair only
        ("sg-123.filter", "sg-123.filter"),
    ],
)
def test_normalize_message_id(given: str, stored: str) -> None:
    assert normalize_message_id(given) == stored


def test_confirm_stores_the_id_without_brackets_and_a_retry_in_either_form_is_the_same(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead()
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0)
        assert d.touch_id is not None
        at = T0 + timedelta(minutes=1)
        assert (
            confirm_sent(s, d.touch_id, "<abc@mail.example>", at=at).provider_message_id == "abc@mail.example"
        )
        assert confirm_sent(s, d.touch_id, "abc@mail.example").state == "sent"
        assert confirm_sent(s, d.touch_id, " <abc@mail.example>").state == "sent"
        with pytest.raises(Conflict):
            confirm_sent(s, d.touch_id, "<other@mail.example>")
        with pytest.raises(InvalidInput, match="empty"):
            confirm_sent(s, d.touch_id, "<>")
        # a touch confirmed before ids were normalised keeps its brackets: still the same id
        s.execute(
            text("UPDATE touches SET provider_message_id = '<abc@mail.example>' WHERE id = :t"),
            {"t": d.touch_id},
        )
        assert confirm_sent(s, d.touch_id, "abc@mail.example").provider_message_id == "<abc@mail.example>"
