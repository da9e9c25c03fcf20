"""Review: defects of the sending-domain guard (events/sending_domains.py, 0039, the gate's
sender-pause lateral, the senders API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from api.conftest import ADMIN_TOKEN, api, live  # noqa: F401 - the live HTTP server fixtures
from tests.events.test_sending_domain_guard import _insert_events, _pauses, _sender_codes, _sends, _sweep

from leadpool.db import Database, session_scope
from leadpool.events import senders
from leadpool.models import SenderPause


def _paused_by_sweep(db: Database, domain: str) -> None:
    now = datetime.now(UTC)
    sent = _sends(db, domain, boxes=10, per_box=30, at=now - timedelta(days=2))
    _insert_events(db, sent[:10], "hard_bounce", now - timedelta(days=1))  # 3.3%
    assert _sweep(db, now)[domain].paused
    assert _pauses(db) == {f"email:@{domain}": "domain_bounce_guard"}


def test_api_lists_and_resumes_a_sending_domain_pause(api, db: Database) -> None:  # noqa: F811
    """docs/events.md: "leadpool send resume-sender @domain --actor WHO (or the API's resume with
    sender @domain) ends it" and the agency "sees it among its paused senders". The API's
    PausedSender model (client/models.py) only admits the three mailbox reasons."""
    _paused_by_sweep(db, "spread.example")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    listed = httpx.get(f"{api.url}/v1/senders/paused", headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text
    assert [p["sender"] for p in listed.json()] == ["email:@spread.example"]
    resumed = httpx.post(
        f"{api.url}/v1/senders/resume",
        headers=headers,
        json={"channel": "email", "sender": "@spread.example"},
        timeout=30,
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["resumed"] is True and _pauses(db) == {}


def test_a_shared_mailbox_provider_is_not_one_agencys_sending_domain(db: Database) -> None:
    """One agency's gmail.com mailboxes bounce: the sweep pauses email:@gmail.com, and every other
    agency's gmail.com mailbox (which never bounced) is denied sender_paused."""
    _paused_by_sweep(db, "gmail.com")
    # another agency (a new World in _sender_codes), its own mailbox, never used before
    assert _sender_codes(db, "email", "founder.of.other.agency@gmail.com") == []


def test_a_complaint_after_a_resume_pauses_the_domain_again(db: Database) -> None:
    """Docs: "a resumed domain is paused again only by a counted bounce or complaint that happened
    after the resume". With the bounce rate still over (its bounces before the resume), the
    ``elif`` in sweep() never looks at complaints, so new complaints over the limit pause nothing."""
    now = datetime.now(UTC)
    sent = _sends(db, "both.example", boxes=10, per_box=30, at=now - timedelta(days=2))
    _insert_events(db, sent[:10], "hard_bounce", now - timedelta(days=1))
    assert _sweep(db, now - timedelta(hours=3))["both.example"].paused
    with session_scope(db) as s:
        assert senders.resume_sender(s, "email", "@both.example", actor="ops", at=now - timedelta(hours=2))
    # 3 complaints (1%, limit 0.1%) after the resume
    _insert_events(db, sent[20:23], "complaint", now - timedelta(hours=1))
    rate = _sweep(db, now)["both.example"]
    assert rate.complaints == 3
    assert rate.paused, rate
    assert _pauses(db) == {"email:@both.example": "domain_complaint_guard"}


@pytest.mark.parametrize(
    "sender",
    [
        "Box One <box1@spread.example>",  # a From header, display name and all
        "box1@SPREAD.example.",  # the same domain, fully qualified
    ],
)
def test_every_spelling_of_a_mailbox_at_a_paused_domain_is_denied(db: Database, sender: str) -> None:
    """The gate's domain key is split_part(sender, '@', 2) of the raw sender: 'spread.example>' or
    'spread.example.', not the paused 'spread.example'; the mailbox pause key is per spelling
    too, but a domain pause is meant to stop every mailbox at the domain."""
    _paused_by_sweep(db, "spread.example")
    assert _sender_codes(db, "email", "box1@spread.example") == ["sender_paused"]
    assert _sender_codes(db, "email", sender) == ["sender_paused"]


def test_an_idn_sending_domain_is_one_domain_in_either_spelling(db: Database) -> None:
    """Lead and company domains are stored in one IDN form (normalize.idn_form); senders are not,
    so the sweep counts and pauses münchen.example and xn--mnchen-3ya.example apart."""
    now = datetime.now(UTC)
    uni = _sends(db, "münchen.example", boxes=5, per_box=30, at=now - timedelta(days=2))
    ace = _sends(db, "xn--mnchen-3ya.example", boxes=5, per_box=30, at=now - timedelta(days=2))
    _insert_events(db, uni[:5] + ace[:5], "hard_bounce", now - timedelta(days=1))  # 10 of 300
    rates = _sweep(db, now)
    assert any(r.paused for r in rates.values()), {d: r.as_dict() for d, r in rates.items()}


def test_a_mailbox_spelled_at_domain_does_not_pause_the_whole_domain(db: Database) -> None:
    """The domain pause key email:@domain is also the mailbox key of a sender spelled '@domain'
    (senders are not validated). Three policy blocks of such a 'mailbox's' own sends (the block
    guard, no minimum of sends) pause every mailbox at the domain, every agency's."""
    from leadpool.events import EventIn, record_event
    from leadpool.models import Agency, Campaign, Lead, Touch

    now = datetime.now(UTC)
    with session_scope(db) as s:
        agency = Agency(name="other-agency")
        s.add(agency)
        s.flush()
        camp = Campaign(agency_id=agency.id, name="c", status="active", channels=["email"], icp={}, daily_quota=1)
        leads = [Lead(email=f"p{i}@recipients.example", email_status="verified") for i in range(3)]
        s.add_all([camp, *leads])
        s.flush()
        for i, lead in enumerate(leads):
            s.add(
                Touch(
                    lead_id=lead.id, agency_id=agency.id, campaign_id=camp.id, channel="email",
                    sender="@victim.example", state="sent", at=now - timedelta(hours=3),
                    sent_at=now - timedelta(hours=3), local_date=now.date(), provider_message_id=f"<v{i}>",
                )
            )
        lead_ids = [lead.id for lead in leads]
    effects = []
    for i, lead_id in enumerate(lead_ids):
        with session_scope(db) as s:
            effects += record_event(
                s,
                EventIn(
                    type="sender_block", lead_id=lead_id, provider_message_id=f"<v{i}>", source="test",
                    provider_event_id=f"blk-{i}", occurred_at=now - timedelta(hours=2, minutes=-i),
                ),
                at=now,
            ).effects
    assert "sender:paused_block_guard" in effects
    # a real mailbox at the domain, of another agency, never blocked
    assert _sender_codes(db, "email", "sdr@victim.example") == []
