"""import_files and the CLI: format detection, rejects with line numbers, raw payloads, idempotency."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, text
from tests.ingestion.factories import person
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.ingestion import import_files
from leadpool.models import Company, Lead, LeadRawPayload, RawPayload


def _count(db: Database, model: Any) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _snapshot(db: Database) -> list[Any]:
    with session_scope(db) as s:
        return [
            s.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
            for t in ("leads", "companies", "raw_payloads", "lead_raw_payloads")
        ]


def _jsonl(tmp_path: Path, lines: list[str], name: str = "people.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_jsonl_rejects_with_line_numbers_and_rest_lands(db: Database, tmp_path: Path) -> None:
    lines = [
        json.dumps(person(1)),
        '{"id": "broken", ',
        json.dumps({"first_name": "No identity"}),
        "",
        json.dumps(person(5, departments="sales")),
        json.dumps(person(6, title='Zoë \u2014 "quoted" \\ backslash', headline="tab\there")),
    ]
    path = _jsonl(tmp_path, lines)
    rejects = tmp_path / "rejects.jsonl"
    result = import_files(db, [path], rejects_path=rejects)
    assert (result.inserted, result.rejected_count, result.records) == (2, 3, 5)
    assert result.rejects_path == str(rejects)
    entries = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(e["line"], e["file"]) for e in entries] == [(2, str(path)), (3, str(path)), (5, str(path))]
    assert "invalid JSON" in entries[0]["reason"]
    assert "missing identity" in entries[1]["reason"]
    assert "departments" in entries[2]["reason"]
    assert all("\n" not in e["reason"] for e in entries)
    # raw payloads: the accepted lines, byte-for-byte, with their line numbers
    with session_scope(db) as s:
        raws = s.scalars(select(RawPayload).order_by(RawPayload.line_no)).all()
        assert [(r.line_no, r.body, r.endpoint) for r in raws] == [
            (1, lines[0], "file:jsonl"),
            (6, lines[5], "file:jsonl"),
        ]
        assert raws[1].apollo_person_ids == [person(6)["id"]]
        lead6 = s.scalar(select(Lead).where(Lead.apollo_id == person(6)["id"]))
        assert lead6 is not None and lead6.title == 'Zoë \u2014 "quoted" \\ backslash'
        links = s.execute(select(LeadRawPayload.lead_id, LeadRawPayload.raw_payload_id)).all()
        assert (lead6.id, raws[1].id) in links


def test_reimport_of_a_file_changes_nothing(db: Database, tmp_path: Path) -> None:
    people = [person(i) for i in range(30)] + [person(3, email="PERSON3@company3.example")]
    path = _jsonl(tmp_path, [json.dumps(p) for p in people])
    first = import_files(db, [path], batch_size=7)
    assert (first.inserted, first.rejected_count) == (30, 0)
    before = _snapshot(db)
    again = import_files(db, [path], batch_size=7)
    assert (again.inserted, again.updated, again.raw_payloads) == (0, 0, 0)
    assert _snapshot(db) == before


def test_duplicates_across_batches_merge(db: Database, tmp_path: Path) -> None:
    lines = [json.dumps(person(i)) for i in range(10)]
    lines.append(json.dumps(person(100, email="person2@company2.example", linkedin_url=None)))
    lines.append(
        json.dumps(person(101, id=None, email=None, linkedin_url="https://linkedin.com/in/person-4/"))
    )
    result = import_files(db, [_jsonl(tmp_path, lines)], batch_size=4, collect_lead_ids=True)
    assert result.inserted == 10 and _count(db, Lead) == 10
    assert result.lead_ids[10] == result.lead_ids[2] and result.lead_ids[11] == result.lead_ids[4]


def test_json_shapes(db: Database, tmp_path: Path, fixture_person: dict[str, Any]) -> None:
    search_page = {
        "pagination": {"page": 1, "per_page": 2, "total_entries": 2, "total_pages": 1},
        "people": [person(1)],
        "contacts": [{**person(2, id="contact-2"), "person_id": "person-2-id"}],
    }
    files = {
        "search.json": json.dumps(search_page, indent=2),
        "match.json": json.dumps({"person": fixture_person}, indent=2),
        "bulk.json": json.dumps({"status": "success", "matches": [person(3), None, person(4)]}),
        "bare.json": json.dumps(person(5), indent=1),
        "array.json": json.dumps([person(6), person(7)]),
        "empty_match.json": json.dumps({"person": None}),
    }
    paths = []
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
        paths.append(tmp_path / name)
    result = import_files(db, paths)
    assert (result.inserted, result.rejected_count) == (8, 0)
    with session_scope(db) as s:
        contact_lead = s.scalar(select(Lead).where(Lead.apollo_id == "person-2-id"))
        assert contact_lead is not None and contact_lead.contact_id == "contact-2"
        bodies = {r.source_name: r for r in s.scalars(select(RawPayload))}
        for name, body in files.items():
            raw = bodies[str(tmp_path / name)]
            assert raw.body == body and raw.endpoint == "file:json"
        assert bodies[str(tmp_path / "bulk.json")].apollo_person_ids == [person(3)["id"], person(4)["id"]]
        # one raw payload per response, linked to every lead in it
        search_raw = bodies[str(tmp_path / "search.json")]
        n_links = s.scalar(
            select(func.count())
            .select_from(LeadRawPayload)
            .where(LeadRawPayload.raw_payload_id == search_raw.id)
        )
        assert n_links == 2
    # the same files again: nothing new
    assert import_files(db, paths).raw_payloads == 0


def test_unreadable_files_are_refused_before_anything_lands(db: Database, tmp_path: Path) -> None:
    good = _jsonl(tmp_path, [json.dumps(person(1))])
    bad = tmp_path / "orgs.json"
    bad.write_text(json.dumps({"organizations": [{"id": "o"}]}))
    with pytest.raises(InvalidInput, match="not an Apollo people response"):
        import_files(db, [good, bad])
    with pytest.raises(InvalidInput, match="no such file"):
        import_files(db, [tmp_path / "missing.jsonl"])
    assert _count(db, Lead) == 0


APOLLO_HEADER = [
    "First Name", "Last Name", "Title", "Company Name", "Email", "Email Status", "Email Confidence",
    "Primary Email Catch-all Status", "Seniority", "Departments", "Work Direct Phone", "Mobile Phone",
    "Corporate Phone", "Stage", "# Employees", "Industry", "Keywords", "Person Linkedin Url", "Website",
    "Company Linkedin Url", "City", "State", "Country", "Company City", "Company Country", "Technologies",
    "Annual Revenue", "Last Raised At", "SIC Codes", "Apollo Contact Id", "Apollo Account Id",
    "Qualify Contact",
]  # fmt: skip


def _csv_row(**cells: str) -> list[str]:
    return [cells.get(h, "") for h in APOLLO_HEADER]


def test_csv_export(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    rows = [
        _csv_row(**{
            "First Name": "Ada", "Last Name": "Lovelace", "Title": "CTO", "Company Name": "Engines Ltd",
            "Email": "Ada@Engines.example", "Email Status": "Verified", "Email Confidence": "",
            "Primary Email Catch-all Status": "Not Catch-all", "Seniority": "C suite",
            "Departments": "C-Suite, Engineering", "Work Direct Phone": "'+44 20 7946 0958",
            "Mobile Phone": "+44 7911 123456", "Stage": "Cold", "# Employees": "120",
            "Industry": "computer software", "Keywords": "engines, analytics",
            "Person Linkedin Url": "http://www.linkedin.com/in/ada-lovelace", "Website": "http://www.engines.example",
            "City": "London", "Country": "United Kingdom", "Technologies": "Salesforce, Hubspot",
            "Annual Revenue": "1,500,000", "Last Raised At": "2023-04-01", "SIC Codes": "7372",
            "Apollo Contact Id": "c-1", "Apollo Account Id": "a-1",
            "Qualify Contact": "yes,\nwith a newline",
        }),
        _csv_row(**{"First Name": "Nobody"}),
        _csv_row(**{"Email": "bad-employees@engines.example", "# Employees": "lots"}),
        _csv_row(Email="grace@engines.example", Website="engines.example", State="CA", Country="United States"),
    ]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(APOLLO_HEADER)
        writer.writerows(rows)
    rejects = tmp_path / "rejects.jsonl"
    result = import_files(db, [path], rejects_path=rejects)
    assert (result.inserted, result.rejected_count) == (2, 2)
    entries = [json.loads(line) for line in rejects.read_text().splitlines()]
    # line numbers are physical lines: the first data row spans lines 2-3 (quoted newline)
    assert [e["line"] for e in entries] == [4, 5]
    assert "missing identity" in entries[0]["reason"] and "# Employees" in entries[1]["reason"]
    with session_scope(db) as s:
        ada = s.scalar(select(Lead).where(Lead.email == "ada@engines.example"))
        assert ada is not None
        assert ada.linkedin_url == "https://www.linkedin.com/in/ada-lovelace"
        assert (ada.email_status, ada.seniority, ada.email_domain_catchall) == ("verified", "c_suite", False)
        assert ada.departments == ["c_suite", "engineering"]  # the API's keys
        assert ada.phone == "+447911123456"  # mobile beats direct
        assert ada.time_zone == "Europe/London" and ada.time_zone_source == "city"
        assert (ada.contact_id, ada.account_id, ada.source) == ("c-1", "a-1", "csv")
        assert ada.extra == {"Stage": "Cold", "Qualify Contact": "yes,\nwith a newline"}
        company = s.get(Company, ada.company_id)
        assert company is not None
        assert (company.domain, company.name, company.estimated_num_employees) == (
            "engines.example",
            "Engines Ltd",
            120,
        )
        assert company.keywords == ["engines", "analytics"] and company.technology_names == [
            "Salesforce",
            "Hubspot",
        ]
        assert float(company.annual_revenue or 0) == 1500000
        grace = s.scalar(select(Lead).where(Lead.email == "grace@engines.example"))
        assert grace is not None and grace.company_id == company.id
        assert (grace.time_zone, grace.time_zone_source) == ("America/Los_Angeles", "state")
        # every line of the file is kept, the header too; bodies are the records' exact text
        raws = s.scalars(select(RawPayload).order_by(RawPayload.line_no)).all()
        records = path.read_bytes().decode().split("\r\n")  # csv.writer ends records with CRLF
        assert raws[0].line_no == 1 and raws[0].body == records[0]
        assert raws[1].line_no == 2 and raws[1].body == records[1]
        assert "with a newline" in raws[1].body and raws[1].body.count("\n") == 1
        assert [r.line_no for r in raws] == [1, 2, 6]
    assert import_files(db, [path], rejects_path=tmp_path / "again.jsonl").raw_payloads == 0


def test_cli_import_show_and_stats(db: Database, tmp_path: Path, fixture_person: dict[str, Any]) -> None:
    path = _jsonl(tmp_path, [orjson.dumps(fixture_person).decode(), json.dumps(person(2)), "{oops"])
    runner = CliRunner()
    res = runner.invoke(app, ["import", str(path), "--json", "--rejects", str(tmp_path / "r.jsonl")])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["inserted"], summary["rejected"]) == (2, 1)
    assert summary["rejections"][0]["line"] == 3

    res = runner.invoke(app, ["leads", "show", "Marisol.Quintero@larkspur-analytics.example", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["apollo_id"] == fixture_person["id"]
    assert shown["company"]["domain"] == "larkspur-analytics.example"
    assert len(shown["raw_payload_ids"]) == 1
    assert {"employment_history", "time_zone_source", "erased_at", "extra"} <= set(shown)
    res = runner.invoke(app, ["leads", "show", str(shown["id"]), "--json"])
    assert json.loads(res.stdout)["email"] == shown["email"]
    res = runner.invoke(app, ["leads", "show", "nobody@nowhere.example", "--json"])
    assert res.exit_code == 2

    res = runner.invoke(app, ["pool", "stats", "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)
    assert stats["totals"]["leads"] == 2
    assert {"value": "computer software", "leads": 2} in stats["industry"]
    assert {"value": "vp", "leads": 1} in stats["seniority"]
    assert {"value": "United States", "leads": 2} in stats["country"]
    assert sum(r["leads"] for r in stats["email_status"]) == 2

    res = runner.invoke(app, ["import", str(tmp_path / "missing.jsonl"), "--json"])
    assert res.exit_code == 2


def test_jsonl_line_with_nul_is_rejected_not_fatal(db: Database, tmp_path: Path) -> None:
    lines = [json.dumps(person(1)), json.dumps(person(2, title="a\u0000b")), json.dumps(person(3))]
    result = import_files(db, [_jsonl(tmp_path, lines)], rejects_path=tmp_path / "r.jsonl")
    assert result.inserted == 2
    assert [(r.line_no, r.reason) for r in result.rejected] == [
        (2, "contains a NUL character, which PostgreSQL cannot store")
    ]


def test_a_field_of_another_shape_rejects_its_line_not_the_import(db: Database, tmp_path: Path) -> None:
    lines = [
        json.dumps(person(1)),
        json.dumps(person(2, phone_numbers=["+1 303 555 0142"])),  # strings where objects belong
        json.dumps(person(3, organization={"id": ["x"], "name": "Acme"})),  # a list as an id
        json.dumps(person(4)),
    ]
    result = import_files(db, [_jsonl(tmp_path, lines)], rejects_path=tmp_path / "r.jsonl", batch_size=2)
    assert result.inserted == 2
    assert [r.line_no for r in result.rejected] == [2, 3]
    assert all(r.reason.startswith("a field has an unexpected shape (") for r in result.rejected)
    # the same person, stored, sent again in a bad shape: refused, and what was stored stays
    before = _snapshot(db)
    again = [json.dumps(person(1, title="New title", phone_numbers=["+1 303 555 0142"]))]
    result = import_files(db, [_jsonl(tmp_path, again, "again.jsonl")], rejects_path=tmp_path / "r2.jsonl")
    assert (result.inserted, result.updated, [r.line_no for r in result.rejected]) == (0, 0, [1])
    assert _snapshot(db) == before


@pytest.mark.parametrize("revenue", ["inf", "1e400", "nan"])
def test_a_csv_number_that_is_not_finite_rejects_its_row(db: Database, tmp_path: Path, revenue: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "First Name,Email,Website,Annual Revenue\n"
        f"Ann,ann@acme.example,acme.example,{revenue}\n"
        "Bob,bob@acme.example,acme.example,1000000\n"
    )
    result = import_files(db, [path], rejects_path=tmp_path / "rejects.jsonl")
    assert result.inserted == 1 and result.rejected_count == 1
    assert "Annual Revenue" in result.rejected[0].reason and "finite number" in result.rejected[0].reason


def test_a_csv_export_row_lands_in_the_apis_vocabulary(db: Database, tmp_path: Path) -> None:
    from tests.allocation.factories import NOW, make_agency, make_campaign

    from leadpool.allocation.allocate import allocate
    from leadpool.gate.overrides import set_campaign_policy

    path = tmp_path / "export.csv"
    path.write_text(
        "First Name,Email,Email Status,Departments,Website,Industry,Technologies\n"
        'Ann,ann@acme.example,Likely to engage,"C-Suite, Sales",acme.example,Construction,'
        '"Salesforce, Google Analytics"\n'
    )
    result = import_files(db, [path], rejects_path=tmp_path / "rejects.jsonl")
    assert result.inserted == 1, result.rejected
    with session_scope(db) as s:
        lead = s.execute(select(Lead)).scalar_one()
        company = s.execute(select(Company)).scalar_one()
        assert lead.email_status == "likely to engage"
        assert lead.departments == ["c_suite", "master_sales"]
        assert company.technology_uids == ["salesforce", "google_analytics"]
        icp = {
            "technologies": {"any_of": ["salesforce"]},
            "departments": ["master_sales"],
            "email_statuses": ["likely to engage"],
        }
        campaign = make_campaign(s, make_agency(s), icp=icp)
        # the gate emails more than verified addresses only where the campaign's policy says so
        policy = {"allowed_email_statuses": ["verified", "likely to engage"]}
        set_campaign_policy(s, campaign, policy, actor="ops", at=NOW)
        lead_id = lead.id
    with session_scope(db) as s:
        assert allocate(s, campaign, 5, at=NOW).lead_ids == [lead_id]


def test_a_nul_in_one_persons_id_rejects_that_person_not_the_whole_json_document(
    db: Database, tmp_path: Path
) -> None:
    """A saved search page whose first person's id holds \\u0000: the document's payload listed
    every id in apollo_person_ids (JSONB refuses NUL), so every batch carrying it failed, the good
    person was rejected too ("refused by the database") and the document was not stored."""
    f = tmp_path / "page.json"
    f.write_text(
        '{"people": [{"id": "a\\u0000b", "email": "x@y.example"}, '
        '{"id": "c1", "email": "z@y.example", "name": "Zed"}]}'
    )
    result = import_files(db, [f], rejects_path=tmp_path / "rejects.jsonl")
    assert [(r.index, r.reason) for r in result.rejected] == [
        (0, "contains a NUL character, which PostgreSQL cannot store")
    ]
    with session_scope(db) as s:
        assert s.execute(text("SELECT email FROM leads")).scalars().all() == ["z@y.example"]
        assert s.execute(text("SELECT apollo_person_ids FROM raw_payloads")).scalars().all() == [["c1"]]


def test_a_csv_byte_that_is_not_utf8_mid_file_names_its_line_and_keeps_every_record_before_it(
    db: Database, tmp_path: Path
) -> None:
    """3,000 rows, a \\xff on line 2502, batches of 500: the error named line 2374 (where the
    decoder's chunk began) and said "records before it were imported", but only 1,999 of the
    2,500 valid rows before it were stored (the batch being filled was dropped)."""
    path = tmp_path / "midbad.csv"
    rows = [
        f"First{n},person{n}@company{n % 7}.example,company{n % 7}.example\n".encode() for n in range(3000)
    ]
    rows[2500] = b"First\xff,broken@company.example,company.example\n"  # line 2502, after the header
    path.write_bytes(b"First Name,Email,Website\n" + b"".join(rows))
    res = CliRunner().invoke(
        app, ["import", str(path), "--batch-size", "500", "--json", "--rejects", str(tmp_path / "r.jsonl")]
    )
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    message = " ".join(res.output.split())  # the console wraps long lines
    assert f"{path}: line 2502 is not UTF-8 (byte 0xff at byte 6 of the line" in message, message
    assert "the 2,500 records before it were read: 2,500 imported (2,500 new," in message, message
    assert _count(db, Lead) == 2500
    with session_scope(db) as s:
        assert s.scalar(select(func.max(RawPayload.line_no))) == 2501
    # once the line is fixed, importing the file again adds the rest and nothing twice
    path.write_bytes(path.read_bytes().replace(b"\xff", b"y"))
    result = import_files(db, [path], rejects_path=tmp_path / "r2.jsonl")
    assert (result.inserted, result.unchanged, result.rejected_count) == (500, 2500, 0)


def test_a_csv_line_that_is_not_utf8_tells_what_each_file_and_record_before_it_did(
    db: Database, tmp_path: Path
) -> None:
    """A small file failed on the header ("cannot read the CSV header") wherever the bad byte was:
    the decoder read the whole file as its first chunk. Records before the line are imported (a
    stray quote's swallowed rows too, as at the end of a file), rejections counted and named."""
    earlier = _jsonl(tmp_path, [json.dumps(person(1))], "earlier.jsonl")
    later = _jsonl(tmp_path, [json.dumps(person(2))], "later.jsonl")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        b"First Name,Email,Website\r\n"
        b"Ann,ann@acme.example,acme.example\r\n"
        b"Nobody,,\r\n"  # no identity: rejected
        b'"Stray,cid@acme.example,acme.example\r\n'  # a quote never closed: swallows the next lines
        b"Dee,dee@acme.example,acme.example\r\n"
        b"Eve,eve@acme.example,acme.example\r\n"
        b"Fay,f\xc3(@acme.example,acme.example\r\n"  # line 7: \xc3 starts a character "(" does not end
        b"Gus,gus@acme.example,acme.example\r\n"
    )
    rejects = tmp_path / "rejects.jsonl"
    with pytest.raises(InvalidInput) as raised:
        import_files(db, [earlier, bad, later], rejects_path=rejects)
    message = raised.value.message
    assert message.startswith(
        f"{bad}: line 7 is not UTF-8 (byte 0xc3 at byte 6 of the line: invalid continuation byte)"
    )
    assert (
        "the 5 records before it were read: 3 imported (3 new, 0 updated, 0 unchanged, 0 merged)" in message
    )
    assert f"2 rejected (listed in {rejects})" in message
    assert "the file named before it was imported in full" in message
    assert "the file named after it was not imported" in message
    with session_scope(db) as s:
        assert set(s.scalars(select(Lead.email))) == {
            person(1)["email"],
            "ann@acme.example",
            "dee@acme.example",
            "eve@acme.example",
        }
    assert [json.loads(line)["line"] for line in rejects.read_text().splitlines()] == [3, 4]


def test_a_json_document_that_is_not_utf8_names_the_line_and_nothing_lands(
    db: Database, tmp_path: Path
) -> None:
    """It said "not UTF-8 ('utf-8' codec can't decode byte 0xff in position 1093...)": no line."""
    page = tmp_path / "page.json"
    body = json.dumps({"people": [person(1), person(2, title="MARK")]}, indent=2).encode()
    page.write_bytes(body.replace(b"MARK", b"Caf\xff"))
    mark = body.index(b"MARK")
    line, column = body[:mark].count(b"\n") + 1, mark - body.rfind(b"\n", 0, mark) + 3
    with pytest.raises(InvalidInput) as raised:
        import_files(db, [_jsonl(tmp_path, [json.dumps(person(3))]), page])
    assert raised.value.message == (
        f"{page}: line {line} is not UTF-8 (byte 0xff at byte {column} of the line: invalid start byte); "
        "nothing was imported"
    )
    assert (_count(db, Lead), _count(db, RawPayload)) == (0, 0)


def test_a_jsonl_line_that_is_not_utf8_is_rejected_on_its_own(db: Database, tmp_path: Path) -> None:
    # each JSONL line is decoded on its own already: the bad one is rejected, the rest land
    path = tmp_path / "people.jsonl"
    lines = [json.dumps(person(n)).encode() for n in range(3)]
    lines[1] = lines[1].replace(b"Engineer", b"Engin\xffer")
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = import_files(db, [path], rejects_path=tmp_path / "r.jsonl")
    assert result.inserted == 2
    assert [(r.line_no, r.reason) for r in result.rejected] == [(2, "line is not valid UTF-8")]


@pytest.mark.parametrize(
    ("envelope", "said"),
    [
        ({"people": 5}, '"people" is a number'),
        ({"people": "abc"}, '"people" is a string'),
        ({"people": [], "contacts": {"id": "c"}}, '"contacts" is an object'),
        ({"status": "success", "matches": True}, '"matches" is a boolean'),
    ],
)
def test_a_people_list_that_is_no_list_is_refused_not_read_as_empty(
    db: Database, tmp_path: Path, envelope: dict[str, Any], said: str
) -> None:
    """{"people": 5} reported records: 0, rejected: 0 and stored the document."""
    page = tmp_path / "s.json"
    page.write_text(json.dumps(envelope))
    with pytest.raises(InvalidInput) as raised:
        import_files(db, [page])
    assert raised.value.message == f"{page}: {said}, not a list of people (or null); nothing was imported"
    assert (_count(db, Lead), _count(db, RawPayload)) == (0, 0)
    # a JSONL line of that shape is rejected with the same reason; the lines around it land
    lines = [json.dumps(person(1)), json.dumps(envelope), json.dumps({"people": None, "person": person(2)})]
    result = import_files(db, [_jsonl(tmp_path, lines)], rejects_path=tmp_path / "r.jsonl")
    assert result.inserted == 2
    assert [(r.line_no, r.reason) for r in result.rejected] == [
        (2, f"{said}, not a list of people (or null)")
    ]
