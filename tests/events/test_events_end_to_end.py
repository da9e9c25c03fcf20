"""Every row of the seed's "What happens when" table that events own, end to end through the gate,
release and import; plus events for unknown addresses and erasure against a later import."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from leadpool.allocation.agencies import cancel_agency
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate import GateDecision, check
from leadpool.ingestion import import_files, import_people
from leadpool.models import AuditLog, Event, Lead, Ownership, RawPayload, Suppression
from leadpool.privacy import erase

from .conftest import World

# a Tuesday, 10:00 in Denver: inside every channel's send window
NOON = datetime(2025, 1, 14, 17, 0, tzinfo=UTC)


def record(db: Database, **kw: Any) -> None:
    kw.setdefault("occurred_at", NOON - timedelta(hours=1))
    kw.setdefault("source", "test")
    kw.setdefault(
        "provider_event_id", f"{kw['type']}-{kw.get('email') or kw.get('lead_id')}-{kw.get('text')}"
    )
    with session_scope(db) as s:
        record_event(s, EventIn(**kw))


def gate(db: Database, lead: int, campaign: int, channel: str, at: datetime = NOON) -> GateDecision:
    with session_scope(db) as s:
        return check(
            s,
            lead_id=lead,
            campaign_id=campaign,
            channel=channel,
            at=at,
            reserve=False,
            sender=f"{channel}-sender",
        )


def owned_lead(world: World, **kw: Any) -> tuple[int, int, int]:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(**kw)
    world.own(lead, agency, campaign)
    return agency, campaign, lead


def test_control_an_owned_enrolled_lead_may_be_touched(db: Database, world: World) -> None:
    _, campaign, lead = owned_lead(world)
    for channel in ("email", "linkedin", "sms", "phone"):
        decision = gate(db, lead, campaign, channel)
        assert decision.allowed, (channel, decision.codes)


def test_email_bounces_nobody_can_email_them_again(db: Database, world: World) -> None:
    _, campaign, lead = owned_lead(world, email="sarah@buildright.example")
    other_agency = world.agency()
    other_campaign = world.campaign(other_agency)
    record(db, type="hard_bounce", email="sarah@buildright.example", detail={"smtp_status": "5.1.1"})
    assert "email_bounced" in gate(db, lead, campaign, "email").codes
    assert "email_bounced" in gate(db, lead, other_campaign, "email").codes  # no one, not only the owner
    assert gate(db, lead, campaign, "linkedin").allowed  # other channels stay open


def test_a_new_address_after_re_enrichment_is_allowed_again(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    _, campaign, lead = owned_lead(world, email="old@buildright.example", apollo_id="apollo-sarah")
    record(db, type="hard_bounce", email="old@buildright.example")
    assert "email_bounced" in gate(db, lead, campaign, "email").codes
    result = import_people(
        db,
        [{"id": "apollo-sarah", "email": "new@buildright.example", "email_status": "verified"}],
        endpoint="people/match",
    )
    assert result.lead_ids == [lead]
    assert get_lead(lead).email == "new@buildright.example"
    assert gate(db, lead, campaign, "email").allowed


def test_not_interested_cools_for_12_months_for_every_agency(db: Database, world: World) -> None:
    _, campaign, lead = owned_lead(world, email="mike@example.com")
    record(db, type="reply", email="mike@example.com", text="Thanks, but we're not interested.")
    decision = gate(db, lead, campaign, "linkedin")
    cooling = [r for r in decision.reasons if r.code == "cooling"]
    assert cooling and cooling[0].retry_after == NOON - timedelta(hours=1) + timedelta(days=365)
    # a stop for 12 months, not for good: the reply ended the enrollment, nothing more
    assert set(decision.codes) == {"cooling", "not_enrolled"}
    later = NOON + timedelta(days=366)
    assert set(gate(db, lead, campaign, "linkedin", at=later).codes) == {"not_enrolled"}


def test_lead_asks_to_be_removed_no_one_contacts_them_on_any_channel(db: Database, world: World) -> None:
    _, campaign, lead = owned_lead(world, phone="+13035550142")
    record(db, type="reply", phone="+1 303 555 0142", channel="sms", text="STOP")
    for channel in ("email", "linkedin", "sms", "phone"):
        assert "unsubscribed" in gate(db, lead, campaign, channel).codes, channel


def test_complaint_blocks_every_channel(db: Database, world: World) -> None:
    _, campaign, lead = owned_lead(world, email="angry@example.com")
    record(db, type="complaint", email="angry@example.com")
    for channel in ("email", "linkedin", "sms", "phone"):
        assert "complained" in gate(db, lead, campaign, channel).codes, channel


def test_out_of_office_pauses_then_automation_resumes(db: Database, world: World) -> None:
    _, campaign, lead = owned_lead(world, email="away@example.com")
    record(db, type="reply", email="away@example.com", text="Out of office until January 20th, 2025.")
    paused = gate(db, lead, campaign, "email")
    assert paused.codes == ["paused_ooo"]
    assert gate(db, lead, campaign, "email", at=NOON + timedelta(days=7)).allowed  # Tue 21 Jan


def test_converted_lead_stays_with_its_agency_when_the_agency_cancels(db: Database, world: World) -> None:
    agency, campaign, lead = owned_lead(world, email="customer@example.com")
    prospect = world.lead()
    world.own(prospect, agency)
    record(db, type="converted", lead_id=lead)
    assert "converted" in gate(db, lead, campaign, "email").codes
    with session_scope(db) as s:
        cancel_agency(s, agency, at=NOON, actor="test")
    with session_scope(db) as s:
        owner = s.get(Ownership, lead)
        assert owner is not None and owner.agency_id == agency and owner.converted_at is not None
        assert s.get(Ownership, prospect) is None  # the agency's other lead went back to the pool


def test_an_event_for_an_unknown_address_makes_a_later_import_born_suppressed(
    db: Database, get_lead: Callable[[int], Lead]
) -> None:
    record(db, type="unsubscribe", email="future.lead@example.com")
    record(db, type="hard_bounce", email="bounced.lead@example.com")
    result = import_people(
        db,
        [
            {"id": "p-future", "email": "Future.Lead@example.com", "first_name": "Fu"},
            {"id": "p-bounced", "email": "bounced.lead@example.com", "first_name": "Bo"},
        ],
        endpoint="people/match",
    )
    future, bounced = (get_lead(i) for i in result.lead_ids)
    assert future.unsubscribed_at is not None
    assert bounced.email_bounced_at is not None and bounced.unsubscribed_at is None


def test_erasure_keeps_only_hashes_and_a_re_import_is_rejected(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    person = {
        "id": "apollo-erin",
        "first_name": "Erin",
        "last_name": "Example",
        "email": "erin@example.com",
        "linkedin_url": "http://www.linkedin.com/in/erin-example",
        "title": "CEO",
        "employment_history": [{"organization_name": "Acme", "title": "CEO"}],
    }
    other = {"id": "apollo-olaf", "first_name": "Olaf", "email": "olaf@example.com"}
    body = json.dumps({"people": [person, other], "pagination": {"page": 1}})
    imported = import_people(
        db,
        [person, other],
        endpoint="mixed_people/search",
        raw_body=body,
        request={"q_keywords": "erin@example.com"},
    )
    single = json.dumps({"person": person})
    import_people(
        db, [person], endpoint="people/match", raw_body=single, request={"email": "erin@example.com"}
    )
    erin, olaf = imported.lead_ids
    world.own(erin, agency, campaign)
    record(db, type="reply", lead_id=erin, text="Erin is out of office until January 20th")

    with session_scope(db) as s:
        result = erase(s, erin, actor="dpo@platform")
    assert (result.payloads_redacted, result.payloads_tombstoned, result.enrollments_ended) == (1, 1, 1)
    assert result.ownership_ended and result.suppressions_added == 2

    lead = get_lead(erin)
    assert lead.erased_at is not None
    assert (lead.email, lead.linkedin_url, lead.first_name, lead.title, lead.employment_history) == (
        None,
    ) * 5
    with session_scope(db) as s:
        payloads = {p.endpoint: p for p in s.execute(select(RawPayload)).scalars()}
        search, match = payloads["mixed_people/search"], payloads["people/match"]
        assert "erin" not in search.body.lower() and "olaf" in search.body.lower()
        assert json.loads(search.body)["_leadpool_redacted"]["people_removed"] == 1
        assert search.apollo_person_ids == ["apollo-olaf"] and search.request == {"q_keywords": "[redacted]"}
        assert "erin" not in match.body.lower() and match.request is None
        kinds = set(s.execute(select(Suppression.kind, Suppression.address_type)).all())
        assert {("erased", "email"), ("erased", "linkedin")} <= kinds
        audit = s.execute(select(AuditLog).where(AuditLog.action == "lead.erase")).scalar_one()
        assert audit.actor == "dpo@platform" and audit.subject_id == str(erin)
        assert s.get(Ownership, erin) is None
        event = s.execute(select(Event)).scalar_one()
        assert event.text is None and event.detail is None and event.address_hmac is not None
    assert "erased" in gate(db, erin, campaign, "linkedin").codes
    assert get_lead(olaf).email == "olaf@example.com"

    # the same person again, by address or by Apollo id alone, is refused
    again = import_people(db, [person], endpoint="people/match")
    by_address = import_people(db, [{"id": "other-id", "email": "ERIN@example.com"}], endpoint="people/match")
    by_apollo_id = import_people(db, [{"id": "apollo-erin", "first_name": "Erin"}], endpoint="people/match")
    for r in (again, by_address, by_apollo_id):
        assert r.lead_ids == [] and [x.reason for x in r.rejected] == ["erased person"]
    with session_scope(db) as s:
        assert erase(s, erin, actor="dpo@platform").already_erased


def test_erasure_reaches_payloads_without_an_apollo_id(db: Database, tmp_path: Path) -> None:
    """CSV rows and email-keyed JSON documents carry no Apollo id: the importer's links find them."""
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "First Name,Last Name,Email,Email Status,Title\n"
        "Casey,Csv,casey@example.com,Verified,CFO\n"
        "Dana,Csv,dana@example.com,Verified,CTO\n"
    )
    doc = [
        {"first_name": "Erin", "email": "erin.doc@example.com"},
        {"first_name": "Olaf", "email": "olaf.doc@example.com"},
    ]
    json_file = tmp_path / "people.json"
    json_file.write_text(json.dumps(doc))
    import_files(db, [csv_file, json_file], collect_lead_ids=True)
    with session_scope(db) as s:
        ids = dict(s.execute(select(Lead.email, Lead.id)).all())
    with session_scope(db) as s:
        erase(s, ids["casey@example.com"], actor="dpo")
        result = erase(s, ids["erin.doc@example.com"], actor="dpo")
    assert result.payloads_redacted == 1
    with session_scope(db) as s:
        bodies = [p.body for p in s.execute(select(RawPayload)).scalars()]
    text_all = "\n".join(bodies).lower()
    assert "casey" not in text_all and "erin" not in text_all
    assert "dana@example.com" in text_all and "olaf.doc@example.com" in text_all
