"""import_people: merge and dedupe rules, null-never-overwrites, raw payloads, suppressions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from starlette.testclient import TestClient
from tests.ingestion.factories import person

from api.conftest import ADMIN_TOKEN
from leadpool.api.app import create_app
from leadpool.api.settings import ApiSettings
from leadpool.config import Settings, get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_people
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Company, Lead, RawPayload, Suppression


def _leads(db: Database) -> list[Lead]:
    with session_scope(db) as s:
        return list(s.scalars(select(Lead).order_by(Lead.id)))


def _count(db: Database, model: Any) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_fixture_person_lands_with_company_and_raw(db: Database, fixture_person: dict[str, Any]) -> None:
    body = json.dumps({"person": fixture_person})
    result = import_people(db, [fixture_person], endpoint="people/match", raw_body=body, credits_consumed=1)
    assert (result.inserted, result.updated, result.rejected) == (1, 0, [])
    [lead] = _leads(db)
    assert result.lead_ids == [lead.id]
    assert lead.apollo_id == "6650a1f3c2b9e40001a7d3e1"
    assert lead.email == "marisol.quintero@larkspur-analytics.example"
    assert lead.linkedin_url == "https://www.linkedin.com/in/marisol-quintero-fict01"
    assert lead.phone == "+13035550142"
    assert (lead.time_zone, lead.time_zone_source) == ("America/Denver", "apollo")
    assert lead.departments == ["master_operations"]
    assert lead.personal_emails is None  # [] is "no data"
    assert lead.street_address is None  # "" is "no data"
    assert lead.employment_history is not None and len(lead.employment_history) == 2
    assert lead.source == "api" and lead.enriched_at is not None
    with session_scope(db) as s:
        company = s.get(Company, lead.company_id)
        assert company is not None
        assert company.apollo_id == "5f1c0de2a7b3c40001e9f0a2"
        assert company.domain == "larkspur-analytics.example"
        assert company.technology_uids == ["salesforce", "google_tag_manager", "hubspot"]
        assert company.sanitized_phone == "+13035550142"
        assert float(company.annual_revenue or 0) == 42500000
        assert company.latest_funding_round_date is not None
        [raw] = s.scalars(select(RawPayload)).all()
        assert raw.body == body
        assert raw.endpoint == "people/match"
        assert raw.apollo_person_ids == ["6650a1f3c2b9e40001a7d3e1"]
        assert raw.credits_consumed == 1


def test_same_apollo_id_same_email_different_case_and_linkedin_variants_merge(db: Database) -> None:
    first = import_people(db, [person(1)], endpoint="people/match")
    variants = [
        person(1, email=None, linkedin_url=None, title="CTO"),
        person(99, email="PERSON1@Company1.EXAMPLE", linkedin_url=None, title=None),
        person(
            98, id=None, email=None, linkedin_url="https://uk.linkedin.com/in/Person-1/?trk=x", title=None
        ),
        person(97, id=None, email=None, linkedin_url="linkedin.com/in/person-1", title=None),
    ]
    result = import_people(db, variants, endpoint="people/bulk_match")
    assert result.rejected == []
    assert set(result.lead_ids) == set(first.lead_ids)
    [lead] = _leads(db)
    assert lead.apollo_id == person(1)["id"]  # first Apollo id kept
    assert lead.title == "CTO"


def test_duplicates_inside_one_batch_merge(db: Database) -> None:
    result = import_people(
        db,
        [person(1), person(1, title="VP", email="Person1@company1.example"), person(2)],
        endpoint="people/bulk_match",
    )
    assert (result.inserted, result.merged) == (2, 1)
    assert result.lead_ids[0] == result.lead_ids[1] != result.lead_ids[2]
    assert _count(db, Lead) == 2


def test_null_never_overwrites_known_values(db: Database) -> None:
    import_people(
        db,
        [person(1, headline="Builds things", departments=["eng"], employment_history=[{"title": "x"}])],
        endpoint="people/match",
    )
    sparse = {
        "id": person(1)["id"],
        "headline": None,
        "departments": [],
        "employment_history": [],
        "title": "",
    }
    result = import_people(db, [sparse], endpoint="people/match")
    assert result.rejected == []
    [lead] = _leads(db)
    assert lead.headline == "Builds things"
    assert lead.departments == ["eng"]
    assert lead.employment_history == [{"title": "x"}]
    assert lead.title == "Engineer"
    assert lead.email == "person1@company1.example"


def test_newer_values_replace_older(db: Database) -> None:
    import_people(db, [person(1)], endpoint="people/match")
    result = import_people(
        db, [person(1, title="Director", email="new.address@company1.example")], endpoint="x"
    )
    assert result.updated == 1
    [lead] = _leads(db)
    assert lead.title == "Director"
    assert lead.email == "new.address@company1.example"


def test_identity_conflict_merges_into_strongest_and_does_not_steal(db: Database) -> None:
    a = import_people(db, [person(1)], endpoint="people/match").lead_ids[0]
    b = import_people(db, [person(2)], endpoint="people/match").lead_ids[0]
    # apollo id of A, email of B
    mixed = person(1, email=person(2)["email"], title="Mixed")
    result = import_people(db, [mixed], endpoint="people/match")
    assert result.lead_ids == [a]
    [conflict] = result.conflicts
    assert (conflict.lead_id, conflict.other_lead_id, conflict.identity) == (a, b, "email")
    with session_scope(db) as s:
        lead_a, lead_b = s.get(Lead, a), s.get(Lead, b)
        assert lead_a is not None and lead_b is not None
        assert lead_a.email == person(1)["email"] and lead_a.title == "Mixed"
        assert lead_b.email == person(2)["email"] and lead_b.title == "Engineer"


def test_reimport_changes_nothing(db: Database) -> None:
    people = [person(i) for i in range(5)]
    import_people(db, people, endpoint="file:jsonl")
    with session_scope(db) as s:
        before = s.execute(text("SELECT id, updated_at, enriched_at FROM leads ORDER BY id")).all()
        companies_before = s.execute(text("SELECT id, updated_at FROM companies ORDER BY id")).all()
    result = import_people(db, people, endpoint="file:jsonl")
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 5)
    assert (result.companies_inserted, result.companies_updated) == (0, 0)
    with session_scope(db) as s:
        assert s.execute(text("SELECT id, updated_at, enriched_at FROM leads ORDER BY id")).all() == before
        assert s.execute(text("SELECT id, updated_at FROM companies ORDER BY id")).all() == companies_before


def test_companies_dedupe_by_id_or_domain(db: Database) -> None:
    p1 = person(
        1, organization={"id": "org-a", "name": "A", "website_url": "https://www.A-corp.example/about"}
    )
    p2 = person(2, organization={"name": "A Corp", "primary_domain": "a-corp.example", "industry": "retail"})
    p3 = person(3, organization={"id": "org-a", "keywords": ["k"]})
    result = import_people(db, [p1, p2, p3], endpoint="x")
    assert result.companies_inserted == 1
    with session_scope(db) as s:
        [company] = s.scalars(select(Company)).all()
        assert (company.apollo_id, company.domain, company.industry) == ("org-a", "a-corp.example", "retail")
        assert company.name == "A Corp" and company.keywords == ["k"]
        assert {lead.company_id for lead in s.scalars(select(Lead))} == {company.id}


def test_rejections_keep_index_and_reason(db: Database) -> None:
    people: list[Any] = [
        person(1),
        {"first_name": "Nobody"},
        person(3, departments="sales"),
        "not an object",
        person(5, organization={"id": "o", "estimated_num_employees": "many"}),
        person(6),
    ]
    result = import_people(db, people, endpoint="x")
    reasons = {r.index: r.reason for r in result.rejected}
    # a paid answer's person with an odd value is kept (the value aside, in invalid_fields)
    assert set(reasons) == {1, 3}
    assert "missing identity" in reasons[1]
    assert "person object" in reasons[3]
    assert result.inserted == 4 and len(result.lead_ids) == 4


def _suppress(db: Database, kind: str, address_type: str, value: str) -> None:
    key = get_settings().resolved_secret_key()
    with session_scope(db) as s:
        s.add(
            Suppression(
                kind=kind, address_type=address_type, value_hmac=address_hmac(address_type, value, key)
            )
        )


def test_born_suppressed(db: Database) -> None:
    _suppress(db, "unsubscribed", "email", "PERSON1@company1.example")
    _suppress(db, "email_bounced", "email", "person2@company2.example")
    _suppress(db, "complained", "linkedin", "https://linkedin.com/in/person-3/")
    _suppress(db, "blocklisted", "phone", "+1 303 555 0199")
    _suppress(db, "erased", "email", "person5@company5.example")
    people = [
        person(1),
        person(2),
        person(3),
        person(4, phone_numbers=[{"sanitized_number": "+13035550199", "type": "mobile"}]),
        person(5),
        person(6),
    ]
    result = import_people(db, people, endpoint="x", raw_body=json.dumps(people))
    assert [(r.index, r.reason) for r in result.rejected] == [(4, "erased person")]
    with session_scope(db) as s:
        by_apollo = {lead.apollo_id: lead for lead in s.scalars(select(Lead))}
        assert person(5)["id"] not in by_apollo
        assert by_apollo[person(1)["id"]].unsubscribed_at is not None
        assert by_apollo[person(2)["id"]].email_bounced_at is not None
        assert by_apollo[person(3)["id"]].complained_at is not None
        assert by_apollo[person(4)["id"]].blocklisted_at is not None
        six = by_apollo[person(6)["id"]]
        assert (six.unsubscribed_at, six.email_bounced_at, six.complained_at, six.blocklisted_at) == (
            None,
            None,
            None,
            None,
        )
        # the response mentioned an erased person: it is kept for the others, without them
        [raw] = s.scalars(select(RawPayload)).all()
        assert "person5@" not in raw.body and "person6@" in raw.body
        assert person(5)["id"] not in (raw.apollo_person_ids or [])


def test_email_change_clears_bounce_unless_new_address_bounced(db: Database) -> None:
    _suppress(db, "email_bounced", "email", "person1@company1.example")
    import_people(db, [person(1)], endpoint="x")
    [lead] = _leads(db)
    assert lead.email_bounced_at is not None
    import_people(db, [person(1, email="fresh@company1.example")], endpoint="x")
    [lead] = _leads(db)
    assert lead.email == "fresh@company1.example" and lead.email_bounced_at is None
    _suppress(db, "email_bounced", "email", "third@company1.example")
    import_people(db, [person(1, email="third@company1.example")], endpoint="x")
    [lead] = _leads(db)
    assert lead.email_bounced_at is not None


def test_api_raw_payload_is_appended_per_call_and_empty_responses_kept(db: Database) -> None:
    body = '{"person": null}'
    for _ in range(2):
        result = import_people(db, [], endpoint="people/match", raw_body=body, request={"email": "x"})
        assert result.raw_payloads == 1
    with session_scope(db) as s:
        rows = s.scalars(select(RawPayload)).all()
        assert [r.body for r in rows] == [body, body]
        assert rows[0].request == {"email": "x"} and rows[0].apollo_person_ids is None


def test_record_the_database_refuses_is_isolated_and_rejected(db: Database) -> None:
    # PostgreSQL text cannot hold NUL: the batch fails, is split, and only that record is rejected
    people = [person(i) for i in range(6)]
    people[3]["title"] = "bad\x00title"
    result = import_people(db, people, endpoint="x")
    assert [r.index for r in result.rejected] == [3]
    assert "refused by the database" in result.rejected[0].reason
    assert result.inserted == 5 and _count(db, Lead) == 5


def test_erased_lead_is_never_reimported(db: Database) -> None:
    [lead_id] = import_people(db, [person(1)], endpoint="x").lead_ids
    with session_scope(db) as s:
        s.execute(text("UPDATE leads SET erased_at = now(), email = NULL WHERE id = :id"), {"id": lead_id})
    result = import_people(db, [person(1, title="Back again")], endpoint="x")
    assert [r.reason for r in result.rejected] == ["erased person"]
    [lead] = _leads(db)
    assert lead.email is None and lead.title == "Engineer"


def test_concurrent_imports_of_the_same_people_make_one_lead_each(db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    people = [person(i) for i in range(40)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: import_people(db, people, endpoint="x", batch_size=10), range(3)))
    assert sum(r.inserted for r in results) == 40
    assert _count(db, Lead) == 40 and _count(db, Company) == 7
    assert results[0].lead_ids == results[1].lead_ids == results[2].lead_ids


def test_an_opt_out_on_a_switchboard_number_is_not_a_colleagues(db: Database) -> None:
    hq = [{"sanitized_number": "+13035550142", "type": "work_hq"}]
    _suppress(db, "unsubscribed", "phone", "+1 303 555 0142")  # a colleague's opt-out took the HQ line
    _suppress(db, "blocklisted", "phone", "+1 303 555 0199")
    import_people(
        db,
        [
            person(1, phone_numbers=hq),
            person(2, phone_numbers=[{"sanitized_number": "+13035550142", "type": "mobile"}]),
            person(3, phone_numbers=[{"sanitized_number": "+13035550199", "type": "work_direct"}]),
        ],
        endpoint="x",
    )
    with session_scope(db) as s:
        by_apollo = {lead.apollo_id: lead for lead in s.scalars(select(Lead))}
    assert by_apollo[person(1)["id"]].phone == "+13035550142"
    assert by_apollo[person(1)["id"]].unsubscribed_at is None  # the switchboard does not identify them
    # a number of the person's own still carries its opt-out
    assert by_apollo[person(2)["id"]].unsubscribed_at is not None
    assert by_apollo[person(3)["id"]].blocklisted_at is not None


def test_people_sharing_a_role_mailbox_stay_two_leads(db: Database) -> None:
    shared = "info@company1.example"
    first = person(1, email=shared)
    second = person(8, email="Info+leads@Company1.example")  # same company, same mailbox
    only_role = person(15, email="sales@company1.example", id=None, linkedin_url=None)
    result = import_people(db, [first, second, only_role], endpoint="x")
    assert not result.rejected
    import_people(db, [person(22, email=shared)], endpoint="x")  # and across imports
    with session_scope(db) as s:
        leads = {lead.apollo_id: lead for lead in s.scalars(select(Lead))}
    assert {person(n)["id"] for n in (1, 8, 22)} <= set(leads)
    kept = leads[person(1)["id"]]
    assert kept.email is None and kept.first_name == "First1" and kept.extra["role_email"] == shared
    # a record whose only identity is the role mailbox keeps it as its email: nothing else names it
    assert any(lead.email == "sales@company1.example" for lead in leads.values())


def test_an_opt_out_of_the_same_person_under_another_lead_reaches_the_lead_a_record_merges_into(
    db: Database,
) -> None:
    bought = person(1)
    listed = {"first_name": "First1", "last_name": "Last1", "email": "first.new@company1.example"}
    first_lead = import_people(db, [bought], endpoint="people/match").lead_ids[0]
    second_lead = import_people(db, [listed], endpoint="file:csv").lead_ids[0]
    assert first_lead != second_lead
    _suppress(db, "unsubscribed", "email", "first.new@company1.example")  # the person opted out there
    # Apollo now gives the person (same id) with the new address: the record merges into the first
    # lead by its Apollo id, and its email belongs to the second (an identity conflict)
    result = import_people(db, [person(1, email="first.new@company1.example")], endpoint="x")
    assert [c.identity for c in result.conflicts] == ["email"]
    with session_scope(db) as s:
        lead = s.get(Lead, first_lead)
        assert lead is not None and lead.email == bought["email"] and lead.unsubscribed_at is not None


def test_a_value_too_long_for_an_index_rejects_its_record_only(db: Database) -> None:
    import secrets

    big = secrets.token_hex(3000)  # 6,000 characters: more than a btree entry holds
    result = import_people(db, [person(1), person(2, seniority=big), person(3)], endpoint="x")
    assert [r.index for r in result.rejected] == [1] and "index row size" in result.rejected[0].reason
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 2


def test_the_api_refuses_a_people_list_that_is_no_list(db: Database, tmp_path: Path) -> None:
    """POST /v1/leads/import with {"people": 5} answered 200 with nothing imported."""
    app = create_app(
        Settings(home=tmp_path / "home"), db=db, api_settings=ApiSettings(admin_token=ADMIN_TOKEN)
    )
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for body, said in (
            ({"people": 5}, '"people" is a number'),
            ({"matches": "abc"}, '"matches" is a string'),
        ):
            r = client.post("/v1/leads/import", json=body, headers=auth)
            assert r.status_code == 422, r.text
            assert r.json()["detail"] == f"body: {said}, not a list of people (or null)"
        assert client.post("/v1/leads/import", json={"people": None}, headers=auth).status_code == 200
    assert (_count(db, Lead), _count(db, RawPayload)) == (0, 1)
