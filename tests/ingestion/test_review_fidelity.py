"""Regression tests for the import fidelity review: identities released in a batch, merge rules
(phones, email status, time zone, extra), CSV mapping, JSON documents with a BOM, the rejects file."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from tests.ingestion.factories import person

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_files, import_people
from leadpool.ingestion.formats import SourceRecord
from leadpool.ingestion.hashing import address_hmac
from leadpool.ingestion.importer import BatchContext, process_batch
from leadpool.models import Company, Lead, RawPayload, Suppression

MOBILE = {
    "raw_number": "+1 720-555-0199",
    "sanitized_number": "+17205550199",
    "type": "mobile",
    "position": 0,
}
HQ = {"raw_number": "+1 303-555-0142", "sanitized_number": "+13035550142", "type": "work_hq", "position": 0}


def _leads(db: Database) -> list[Lead]:
    with session_scope(db) as s:
        return list(s.scalars(select(Lead).order_by(Lead.id)))


def _jsonl(tmp_path: Path, people: list[dict[str, Any]], name: str = "people.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(p) + "\n" for p in people), encoding="utf-8")
    return path


def _csv(tmp_path: Path, header: list[str], rows: list[list[str]], name: str = "export.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- identities a record lets go of in the batch ----------------------------------------------


@pytest.mark.parametrize("stored_first", [False, True])
@pytest.mark.parametrize("batch_size", [1, 2000])
def test_an_email_let_go_in_the_batch_does_not_merge_another_person(
    db: Database, tmp_path: Path, batch_size: int, stored_first: bool
) -> None:
    ann_old = {"id": "a" * 24, "first_name": "Ann", "email": "sales.lead@acme.example"}
    ann_new = {"id": "a" * 24, "first_name": "Ann", "email": "ann@newco.example"}
    bob = {"id": "b" * 24, "first_name": "Bob", "email": "sales.lead@acme.example"}
    rejects = tmp_path / "rej.jsonl"
    if stored_first:  # Ann's old address is in the database when the batch moves it to Bob
        import_files(db, [_jsonl(tmp_path, [ann_old], "old.jsonl")], rejects_path=rejects)
        people = [ann_new, bob]
    else:
        people = [ann_old, ann_new, bob]
    result = import_files(db, [_jsonl(tmp_path, people)], batch_size=batch_size, rejects_path=rejects)
    assert result.rejected_count == 0 and result.conflicts == []
    assert [(lead.first_name, lead.email) for lead in _leads(db)] == [
        ("Ann", "ann@newco.example"),
        ("Bob", "sales.lead@acme.example"),
    ]


def test_a_linkedin_url_and_a_domain_let_go_in_the_batch_go_to_their_new_holders(db: Database) -> None:
    ann = person(1, organization={"id": "o" * 24, "name": "Old Co", "primary_domain": "shared.example"})
    import_people(db, [ann], endpoint="x")
    moved = person(
        1,
        linkedin_url="https://www.linkedin.com/in/ann-new",
        organization={"id": "o" * 24, "name": "Old Co", "primary_domain": "oldco.example"},
    )
    bob = person(
        2,
        linkedin_url=ann["linkedin_url"],
        organization={"id": "n" * 24, "name": "New Co", "primary_domain": "shared.example"},
    )
    result = import_people(db, [moved, bob], endpoint="x")
    assert result.rejected == [] and result.conflicts == []
    by_name = {lead.first_name: lead for lead in _leads(db)}
    assert by_name["First1"].linkedin_url == "https://www.linkedin.com/in/ann-new"
    assert by_name["First2"].linkedin_url == "https://www.linkedin.com/in/person-1"
    with session_scope(db) as s:
        companies = {c.apollo_id: (c.name, c.domain) for c in s.scalars(select(Company))}
    assert companies == {"o" * 24: ("Old Co", "oldco.example"), "n" * 24: ("New Co", "shared.example")}


def test_one_transaction_moves_stored_keys_to_another_row(db: Database) -> None:
    """The stored holder of a key lets go of it before its new holder is written, so the batch
    commits whole (importer.load would hide the unique index refusing it by splitting the batch)."""
    org = {"id": "o" * 24, "name": "Old Co", "primary_domain": "shared.example"}
    import_people(db, [person(1, organization=org)], endpoint="x")
    moved = person(1, email="ann@newco.example", organization={**org, "primary_domain": "oldco.example"})
    bob = person(
        2,
        email=person(1)["email"],
        organization={"id": "n" * 24, "name": "New Co", "primary_domain": "shared.example"},
    )
    records = [SourceRecord(index=i, line_no=None, person=p) for i, p in enumerate([moved, bob])]

    def no_payloads(cur: Any, payload_id: int, people: list[dict[str, Any]]) -> None:
        raise AssertionError("nothing to redact")

    ctx = BatchContext(source="api", key=get_settings().resolved_secret_key(), fresh=True, redact=no_payloads)
    with psycopg.connect(db.uri) as conn:
        result = process_batch(conn, records, ctx)
    assert (result.inserted, result.updated, result.companies_inserted, result.rejected) == (1, 1, 1, [])
    assert [lead.email for lead in _leads(db)] == ["ann@newco.example", person(1)["email"]]


# --- merge rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("one_batch", [False, True])
def test_a_later_switchboard_only_record_keeps_the_revealed_mobile(
    db: Database, fixture_person: dict[str, Any], one_batch: bool
) -> None:
    full = copy.deepcopy(fixture_person)
    full["phone_numbers"] = [MOBILE, {**HQ, "position": 1}]
    partial = copy.deepcopy(fixture_person)
    partial["email"] = "email_not_unlocked@domain.com"
    partial["phone_numbers"] = [{**HQ, "status": "valid_number"}]
    if one_batch:
        import_people(db, [full, partial], endpoint="x")
    else:
        import_people(db, [full], endpoint="people/match")
        import_people(db, [partial], endpoint="mixed_people/search")
    [lead] = _leads(db)
    assert lead.phone == "+17205550199"
    # one entry per number, the newest record's entry for it
    assert lead.phone_numbers == [MOBILE, {**HQ, "position": 0, "status": "valid_number"}]


def test_a_new_number_of_the_same_rank_replaces_the_phone(db: Database) -> None:
    import_people(db, [person(1, phone_numbers=[MOBILE])], endpoint="x")
    other = {"sanitized_number": "+17205550111", "type": "mobile", "position": 0}
    import_people(db, [person(1, phone_numbers=[other])], endpoint="x")
    [lead] = _leads(db)
    assert lead.phone == "+17205550111" and lead.phone_numbers == [MOBILE, other]


@pytest.mark.parametrize("one_batch", [False, True])
def test_a_new_email_takes_its_own_status_fields(
    db: Database, fixture_person: dict[str, Any], one_batch: bool
) -> None:
    fixture_person["extrapolated_email_confidence"] = 0.93
    moved = {
        "id": fixture_person["id"],
        "email": "marisol@new-employer.example",
        "email_domain_catchall": True,
    }
    if one_batch:
        import_people(db, [fixture_person, moved], endpoint="x")
    else:
        import_people(db, [fixture_person], endpoint="people/match")
        import_people(db, [moved], endpoint="x")
    [lead] = _leads(db)
    assert lead.email == "marisol@new-employer.example"
    assert (lead.email_status, lead.extrapolated_email_confidence, lead.email_domain_catchall) == (
        None,
        None,
        True,
    )


def test_a_csv_row_with_a_new_email_does_not_inherit_verified(
    db: Database, tmp_path: Path, fixture_person: dict[str, Any]
) -> None:
    import_people(db, [fixture_person], endpoint="people/match")
    path = _csv(
        tmp_path,
        ["First Name", "Email", "Person Linkedin Url"],
        [["Marisol", "marisol@new-employer.example", fixture_person["linkedin_url"]]],
    )
    import_files(db, [path], rejects_path=tmp_path / "rej.jsonl")
    [lead] = _leads(db)
    assert lead.email == "marisol@new-employer.example" and lead.email_status is None
    # the same address again keeps what is known of it
    import_people(db, [{"id": fixture_person["id"], "email_status": "verified"}], endpoint="x")
    import_people(db, [{"id": fixture_person["id"], "email": "marisol@new-employer.example"}], endpoint="x")
    [lead] = _leads(db)
    assert lead.email_status == "verified"


def test_a_record_whose_email_stays_with_another_lead_brings_no_status(db: Database) -> None:
    import_people(db, [person(1), person(2, email_status="unavailable")], endpoint="x")
    # person 1's record now lists person 2's address (an identity conflict): its status is theirs
    result = import_people(
        db, [person(1, email=person(2)["email"], email_status="unavailable")], endpoint="x"
    )
    assert [c.identity for c in result.conflicts] == ["email"]
    first, _ = _leads(db)
    assert (first.email, first.email_status) == (person(1)["email"], "verified")


@pytest.mark.parametrize("one_batch", [False, True])
def test_apollos_time_zone_is_not_replaced_by_a_state_guess(
    db: Database, fixture_person: dict[str, Any], one_batch: bool
) -> None:
    fixture_person.update(city="El Paso", state="Texas", time_zone="America/Denver")
    later = {"id": fixture_person["id"], "state": "Texas", "country": "United States"}
    if one_batch:
        import_people(db, [fixture_person, later], endpoint="x")
    else:
        import_people(db, [fixture_person], endpoint="people/match")
        import_people(db, [later], endpoint="mixed_people/search")
    [lead] = _leads(db)
    assert (lead.time_zone, lead.time_zone_source) == ("America/Denver", "apollo")
    # a finer source still replaces a coarser one
    import_people(db, [{"id": fixture_person["id"], "time_zone": "America/Chicago"}], endpoint="x")
    [lead] = _leads(db)
    assert (lead.time_zone, lead.time_zone_source) == ("America/Chicago", "apollo")


@pytest.mark.parametrize("batch_size", [1, 2000])
def test_extra_objects_of_one_person_merge_within_a_batch(
    db: Database, tmp_path: Path, batch_size: int
) -> None:
    a = {"id": "c" * 24, "email": "m@acme.example", "last_refreshed_at": "2025-10-02T14:21:07.512+00:00"}
    b = {"id": "c" * 24, "email": "m@acme.example", "dialer_note": "x"}
    import_files(db, [_jsonl(tmp_path, [a, b])], batch_size=batch_size, rejects_path=tmp_path / "rej.jsonl")
    [lead] = _leads(db)
    assert lead.extra == {"last_refreshed_at": "2025-10-02T14:21:07.512+00:00", "dialer_note": "x"}


# --- phones from CSV exports -------------------------------------------------------------------


def test_a_national_number_is_read_in_the_companys_country(db: Database, tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        ["First Name", "Email", "Company Name", "Website", "Company Country", "Corporate Phone"],
        [["Ana", "ana@acme.example", "Acme", "acme.example", "United Kingdom", "020 7946 0958"]],
    )
    result = import_files(db, [path], rejects_path=tmp_path / "rej.jsonl")
    assert result.rejected_count == 0
    [lead] = _leads(db)
    assert lead.phone == "+442079460958"


def test_a_direct_line_whose_extension_is_dropped_ranks_as_the_switchboard(
    db: Database, tmp_path: Path
) -> None:
    key = get_settings().resolved_secret_key()
    with session_scope(db) as s:  # a colleague opted out on the company's line
        s.add(
            Suppression(
                kind="unsubscribed",
                address_type="phone",
                value_hmac=address_hmac("phone", "+13035550142", key),
            )
        )
    header = ["First Name", "Email", "Country", "Work Direct Phone", "Home Phone"]
    path = _csv(
        tmp_path,
        header,
        [
            ["Ana", "ana@acme.example", "United States", "+1 303-555-0142 ext. 12", "+1 720-555-0199"],
            ["Bo", "bo@acme.example", "United States", "+1 303-555-0142 ext. 13", ""],
        ],
    )
    import_files(db, [path], rejects_path=tmp_path / "rej.jsonl")
    ana, bo = _leads(db)
    assert ana.phone == "+17205550199"  # a personal number beats the line the extension hangs on
    assert bo.phone == "+13035550142" and bo.unsubscribed_at is None


# --- CSV and JSON files, the rejects file ------------------------------------------------------


def test_csv_sub_departments_are_api_keys(db: Database, tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        ["First Name", "Email", "Departments", "Sub Departments"],
        [["Ana", "ana@acme.example", "Operations", "Operations Executive, Engineering & Technical"]],
    )
    import_files(db, [path], rejects_path=tmp_path / "rej.jsonl")
    [lead] = _leads(db)
    assert lead.departments == ["master_operations"]
    assert lead.subdepartments == ["operations_executive", "engineering_technical"]


def test_a_csv_company_without_website_stays_with_the_person(db: Database, tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        ["First Name", "Email", "Company Name", "Industry", "# Employees", "Company Linkedin Url"],
        [
            [
                "Ana",
                "ana@gmail.example",
                "Larkspur",
                "computer software",
                "240",
                "linkedin.com/company/larkspur",
            ]
        ],
    )
    import_files(db, [path], rejects_path=tmp_path / "rej.jsonl")
    [lead] = _leads(db)
    assert lead.company_id is None  # nothing to recognise the company by
    assert lead.extra == {
        "organization": {
            "name": "Larkspur",
            "industry": "computer software",
            "estimated_num_employees": 240,
            "linkedin_url": "linkedin.com/company/larkspur",
        }
    }


def test_a_json_document_with_a_bom_imports_and_keeps_its_bytes(
    db: Database, tmp_path: Path, fixture_person: dict[str, Any]
) -> None:
    path = tmp_path / "match.json"
    text = json.dumps({"person": fixture_person})
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = import_files(db, [path], rejects_path=tmp_path / "rej.jsonl")
    assert result.inserted == 1
    with session_scope(db) as s:
        [raw] = s.scalars(select(RawPayload)).all()
    assert raw.body == "\ufeff" + text


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("# Employees", "expected an integer"),
        ("Annual Revenue", "expected a number"),
        ("Last Raised At", "expected a date"),
    ],
)
def test_the_rejects_file_names_the_column_not_the_cell(
    db: Database, tmp_path: Path, column: str, expected: str
) -> None:
    # a shifted row: the email landed in a typed company column
    cell = "ana.ruiz@acme.example"
    path = _csv(
        tmp_path, ["First Name", "Person Linkedin Url", column], [["Ana", "linkedin.com/in/ana-ruiz", cell]]
    )
    rejects = tmp_path / "rej.jsonl"
    import_files(db, [path], rejects_path=rejects)
    [entry] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert entry["reason"] == f"column {column!r}: {expected}"
    assert cell not in rejects.read_text()


def test_the_rejects_file_points_at_the_match_after_null_matches(db: Database, tmp_path: Path) -> None:
    body = {"matches": [None, {"first_name": "No identity"}, {"id": "d" * 24, "email": "c@acme.example"}]}
    path = tmp_path / "bulk.json"
    path.write_text(json.dumps(body))
    rejects = tmp_path / "rej.jsonl"
    result = import_files(db, [path], rejects_path=rejects, collect_lead_ids=True)
    assert result.inserted == 1 and len(result.lead_ids) == 1
    [entry] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert entry["record"] == 1  # matches[1]
