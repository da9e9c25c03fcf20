"""The sample-data generator: deterministic, Apollo-shaped, varied, with known duplicates."""

from __future__ import annotations

import json
import re
import zoneinfo
from collections import Counter
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from typer.testing import CliRunner

from leadpool.apollo.generate import GenerateStats, generate_people, person_to_teaser
from leadpool.cli import app

FIXTURE = Path("/work/shared/reference/apollo_person_fixture.json")
HEX24 = re.compile(r"^[0-9a-f]{24}$")
SENIORITIES = {
    "owner",
    "founder",
    "c_suite",
    "partner",
    "vp",
    "head",
    "director",
    "manager",
    "senior",
    "entry",
    "intern",
}


@pytest.fixture(scope="module")
def sample() -> tuple[list[dict[str, Any]], GenerateStats]:
    stats = GenerateStats()
    return list(generate_people(6000, 11, stats=stats)), stats


def _canon_linkedin(url: str) -> str:
    return re.sub(r"^https?://(www\.)?", "", url.lower()).rstrip("/")


def test_same_seed_same_records_and_other_seed_differs() -> None:
    a = list(generate_people(400, 5))
    assert a == list(generate_people(400, 5))
    b = list(generate_people(400, 6))
    assert [p["id"] for p in a] != [p["id"] for p in b]
    # a prefix of a longer run is not promised, but a run is a pure function of (n, seed)
    assert list(generate_people(0, 5)) == []


def test_records_have_the_full_apollo_person_shape(
    sample: tuple[list[dict[str, Any]], GenerateStats],
) -> None:
    people, _ = sample
    fixture = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else None
    with_org = next(p for p in people if p["organization"])
    if fixture is not None:
        assert set(fixture) <= set(with_org)
        assert set(fixture["organization"]) <= set(with_org["organization"])
        assert set(fixture["employment_history"][0]) <= set(with_org["employment_history"][0])
        assert set(fixture["phone_numbers"][0]) <= set(
            next(p for p in people if p["phone_numbers"])["phone_numbers"][0]
        )
    for p in people:
        assert HEX24.match(p["id"])
        assert p["organization"] is None or HEX24.match(p["organization"]["id"])
        assert p["organization_id"] == (p["organization"] or {}).get("id")
        for tech in (p["organization"] or {}).get("current_technologies", []):
            assert set(tech) == {"uid", "name", "category"}
        if p["email"]:
            assert p["email"].lower().endswith(".example")  # a reserved TLD only


def test_variety_of_industries_seniorities_places_and_email_statuses(
    sample: tuple[list[dict[str, Any]], GenerateStats],
) -> None:
    people, stats = sample
    industries = Counter(p["organization"]["industry"] for p in people if p["organization"])
    assert len(industries) >= 15
    assert industries.most_common(1)[0][0] == "construction"
    assert industries["construction"] / len(people) > 0.1
    assert {p["seniority"] for p in people} == SENIORITIES
    countries = Counter(p["country"] for p in people if p["country"])
    assert countries.most_common(1)[0][0] == "United States"
    assert {"United Kingdom", "Canada", "Germany", "France", "Australia", "India", "Brazil"} <= set(countries)
    for p in people:
        if p["time_zone"]:
            zoneinfo.ZoneInfo(p["time_zone"])
    assert any(p["city"] and p["time_zone"] is None for p in people)  # zone to derive
    assert any(p["country"] and not p["city"] and not p["state"] for p in people)  # only a country
    assert any(p["state"] in ("CA", "TX", "NY") for p in people)  # abbreviated US state
    for p in people:  # invented numbers, but ones an E.164 normaliser accepts
        for phone in p["phone_numbers"]:
            assert phonenumbers.is_valid_number(phonenumbers.parse(phone["sanitized_number"]))
    statuses = Counter(p["email_status"] for p in people)
    assert {"verified", "extrapolated", "guessed", "unavailable", None} <= set(statuses)
    assert stats.by_email_status["verified"] == statuses["verified"]
    for p in people:
        if p["email_status"] == "extrapolated":
            assert 0 < p["extrapolated_email_confidence"] < 1
        else:
            assert p["extrapolated_email_confidence"] is None
        if p["email_status"] in ("unavailable", None):
            assert p["email"] is None


def test_companies_are_shared_by_several_people(sample: tuple[list[dict[str, Any]], GenerateStats]) -> None:
    people, stats = sample
    per_company = Counter(p["organization"]["id"] for p in people if p["organization"])
    assert len(per_company) < len(people) / 4
    assert max(per_company.values()) >= 10
    assert 4 <= len(people) / stats.companies_in_pool <= 14  # about n / 8
    by_id: dict[str, dict[str, Any]] = {}
    for p in people:
        if p["organization"]:
            by_id.setdefault(p["organization"]["id"], p["organization"])
            assert by_id[p["organization"]["id"]] == p["organization"]  # one company, one description
    domains = Counter(org["primary_domain"] for org in by_id.values())
    assert max(domains.values()) == 1


def test_duplicates_share_exactly_the_keys_a_correct_importer_merges_on(
    sample: tuple[list[dict[str, Any]], GenerateStats],
) -> None:
    people, stats = sample
    assert 0.015 < stats.duplicates / len(people) < 0.05
    assert set(stats.duplicate_kinds) == {"second_id", "email_case", "linkedin_variant"}
    assert any(p["email"] and p["email"] != p["email"].lower() for p in people)
    assert any(p["linkedin_url"] and p["linkedin_url"].startswith("https://") for p in people)

    # union-find over (apollo id, lower-cased email, canonical LinkedIn URL)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in people:
        keys = [f"id:{p['id']}"]
        if p["email"]:
            keys.append(f"email:{p['email'].lower()}")
        if p["linkedin_url"]:
            keys.append(f"li:{_canon_linkedin(p['linkedin_url'])}")
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
        find(keys[0])
    groups = {find(f"id:{p['id']}") for p in people}
    assert len({p["id"] for p in people}) == len(people)
    assert len(groups) == stats.distinct_people == len(people) - stats.duplicates


def test_teaser_row_matches_api_search_shape(sample: tuple[list[dict[str, Any]], GenerateStats]) -> None:
    people, _ = sample
    p = next(p for p in people if p["organization"] and p["email"])
    row = person_to_teaser(p)
    assert row["id"] == p["id"]
    assert row["last_name_obfuscated"] == p["last_name"][:2] + "***" + p["last_name"][-1]
    assert row["has_email"] is True
    assert "email" not in row and "last_name" not in row
    assert set(row["organization"]) == {
        "name", "has_industry", "has_phone", "has_city", "has_state", "has_country",
        "has_zip_code", "has_revenue", "has_employee_count",
    }  # fmt: skip


def test_cli_writes_the_same_records_as_the_function(tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    result = CliRunner().invoke(
        app, ["generate", "--people", "250", "--seed", "4", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["people"] == 250 and summary["out"] == str(out)
    lines = out.read_text().splitlines()
    assert [json.loads(line) for line in lines] == list(generate_people(250, 4))
    assert not (tmp_path / "people.jsonl.partial").exists()


def test_small_runs_and_bad_arguments() -> None:
    for n in (1, 2, 7, 65):
        people = list(generate_people(n, 3))
        assert len(people) == n and len({p["id"] for p in people}) == n
    with pytest.raises(ValueError, match="n must be >= 0"):
        list(generate_people(-1, 3))
    with pytest.raises(ValueError, match="duplicate_rate"):
        list(generate_people(5, 3, duplicate_rate=1.5))
    stats = GenerateStats()
    list(generate_people(500, 3, duplicate_rate=0.0, stats=stats))
    assert stats.duplicates == 0 and stats.distinct_people == 500
