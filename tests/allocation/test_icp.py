"""ICP validation and parsing: pure functions, no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadpool.allocation.icp import ICP, load_icp_file, parse_icp, to_apollo_search
from leadpool.errors import InvalidInput


def test_defaults_to_verified_only() -> None:
    icp = parse_icp({})
    assert icp.email_statuses == ["verified"]


def test_terms_are_normalised() -> None:
    icp = parse_icp(
        {
            "industries": [" Construction ", "construction"],
            "technologies": {"any_of": ["Google Analytics", "WordPress.org"]},
            "exclude": {"company_domains": ["https://www.Rival.com/about"]},
        }
    )
    assert icp.industries == ["construction"]
    assert icp.technologies is not None and icp.technologies.any_of == ["google_analytics", "wordpress_org"]
    assert icp.exclude is not None and icp.exclude.company_domains == ["rival.com"]


def test_unknown_field_is_named() -> None:
    with pytest.raises(InvalidInput) as e:
        parse_icp({"industries": ["x"], "employes": {"min": 1}})
    assert "icp.employes: unknown field" in e.value.message
    assert "employee_count" in e.value.message  # the allowed names are listed


def test_unknown_nested_field_is_named() -> None:
    with pytest.raises(InvalidInput) as e:
        parse_icp({"employee_count": {"min": 1, "maxx": 5}})
    assert "icp.employee_count.maxx: unknown field" in e.value.message


def test_min_greater_than_max_is_refused() -> None:
    with pytest.raises(InvalidInput) as e:
        parse_icp({"employee_count": {"min": 500, "max": 10}})
    assert e.value.message == "icp.employee_count: min (500) must be <= max (10)"


def test_empty_range_and_negative_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"icp\.revenue: give min, max or both"):
        parse_icp({"revenue": {}})
    with pytest.raises(
        InvalidInput, match=r"icp\.employee_count\.min: Input should be greater than or equal"
    ):
        parse_icp({"employee_count": {"min": -1}})


def test_bounds_the_database_cannot_hold_are_refused_here() -> None:
    # accepted before, they failed every allocation of the campaign (and a round, for everyone)
    with pytest.raises(
        InvalidInput, match=r"icp\.revenue\.min: Input should be less than or equal to 1000000000000000"
    ):
        parse_icp({"revenue": {"min": "1e200000"}})
    with pytest.raises(
        InvalidInput, match=r"icp\.employee_count\.max: Input should be less than or equal to 2147483647"
    ):
        parse_icp({"employee_count": {"max": 2**31}})


def test_an_icp_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "icp.yaml"
    path.write_bytes(b"industries: [caf\xe9]\n")
    with pytest.raises(InvalidInput, match=r"icp file .*icp\.yaml: not UTF-8 text \(byte 16 is 0xe9\)"):
        load_icp_file(path)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"industries": "construction"}, "icp.industries"),
        ({"employee_count": {"min": "many"}}, "icp.employee_count.min"),
        ({"founded_year": {"min": 1999.5}}, "icp.founded_year.min"),
        ({"email_statuses": []}, "icp.email_statuses"),
        ({"seniorities": ["vp", 3]}, "icp.seniorities.1"),
        ({"technologies": ["wordpress"]}, "icp.technologies"),
    ],
)
def test_wrong_types_name_the_path(data: dict[str, object], path: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_icp(data)
    assert e.value.message.startswith(path + ":"), e.value.message


def test_not_a_mapping() -> None:
    with pytest.raises(InvalidInput, match="icp: must be a mapping"):
        parse_icp(["construction"])


def test_yaml_and_json_files(tmp_path: Path) -> None:
    y = tmp_path / "icp.yaml"
    y.write_text("industries: [construction]\nemployee_count: {min: 10, max: 200}\n")
    j = tmp_path / "icp.json"
    j.write_text('{"industries": ["construction"], "employee_count": {"min": 10, "max": 200}}')
    assert load_icp_file(y) == load_icp_file(j)


def test_file_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("industries: [construction]\nemployee_count: {min: 300, max: 200}\n")
    with pytest.raises(InvalidInput) as e:
        load_icp_file(bad)
    assert (
        str(bad) in e.value.message
        and "icp.employee_count: min (300) must be <= max (200)" in e.value.message
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"industries": [}')
    with pytest.raises(InvalidInput, match="invalid JSON at line 1"):
        load_icp_file(broken)
    txt = tmp_path / "icp.txt"
    txt.write_text("x")
    with pytest.raises(InvalidInput, match=r"use a \.yaml, \.yml or \.json file"):
        load_icp_file(txt)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(InvalidInput, match=r"is empty; write \{\} to match the whole pool"):
        load_icp_file(empty)
    everyone = tmp_path / "everyone.yaml"
    everyone.write_text("{}\n")
    assert load_icp_file(everyone) == parse_icp({})


def test_round_trip_through_stored_json() -> None:
    icp = parse_icp({"industries": ["construction"], "revenue": {"min": 1000000}})
    assert ICP.model_validate(icp.to_json()) == icp


def test_apollo_search_parameters() -> None:
    icp = parse_icp(
        {
            "industries": ["construction"],
            "keywords": ["roofing"],
            "title_terms": ["CEO", "founder"],
            "seniorities": ["c_suite"],
            "countries": ["United States"],
            "states": ["Texas"],
            "employee_count": {"min": 11, "max": 200},
            "revenue": {"min": 1000000},
            "technologies": {"any_of": ["Salesforce"], "all_of": ["gmail"]},
        }
    )
    p = to_apollo_search(icp)
    assert p["person_titles"] == ["ceo", "founder"]
    assert p["person_seniorities"] == ["c_suite"]
    assert p["person_locations"] == ["texas"]
    assert p["organization_num_employees_ranges"] == ["11,200"]
    assert p["revenue_range"] == {"min": 1000000}
    assert p["q_organization_keyword_tags"] == ["construction", "roofing"] and "q_keywords" not in p
    assert to_apollo_search(parse_icp({"industries": ["construction"]}))["q_keywords"] == "construction"
    assert p["currently_using_any_of_technology_uids"] == ["salesforce"]
    assert p["currently_using_all_of_technology_uids"] == ["gmail"]
    assert p["contact_email_status"] == ["verified"]
    # sending on LinkedIn, SMS or phone too, the campaign takes people with no usable email
    for channels in (("linkedin",), ("email", "linkedin"), ("email", "sms"), ("phone",)):
        assert "contact_email_status" not in to_apollo_search(icp, channels), channels


def test_lists_and_terms_past_what_allocation_can_run_are_refused_naming_them() -> None:
    """A 60,000-character title term compiles to a regular expression PostgreSQL refuses, and
    thousands of terms to more bind parameters than the protocol carries: such a campaign could
    never be allocated. Refused when it is created instead, saying which list and which item."""
    with pytest.raises(InvalidInput, match=r"icp\.title_terms: item 1: at most 200 characters, got 60000"):
        parse_icp({"title_terms": ["cto", "ab" * 30_000]})
    with pytest.raises(InvalidInput, match=r"icp\.exclude\.title_terms: item 0: at most 200 characters"):
        parse_icp({"exclude": {"title_terms": ["x" * 201]}})
    with pytest.raises(InvalidInput, match=r"icp\.industries: at most 1000 items, got 8200"):
        parse_icp({"industries": [f"i{i}" for i in range(8_200)]})
    with pytest.raises(InvalidInput, match=r"icp\.technologies\.any_of: at most 1000 items"):
        parse_icp({"technologies": {"any_of": [f"t{i}" for i in range(1001)]}})
    # at the limits: accepted, duplicates dropped in order (in linear time: a 16 MiB body of
    # terms once cost hours of list searches before it was refused)
    most = parse_icp({"cities": [*(f"c{i}" for i in range(999)), "C0"], "title_terms": ["y" * 200]})
    assert most.cities[:2] == ["c0", "c1"] and len(most.cities) == 999
