"""International company domains are stored in one form, the one email domains and domain blocks
are stored in (email-validator's Unicode form), however the source spells them: Apollo sends
``xn--`` names, a CSV export or a person may write the Unicode name."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.ingestion.factories import person
from tests.ingestion.test_import_files import APOLLO_HEADER

from leadpool.allocation.icp import parse_icp
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_files, import_people
from leadpool.ingestion.normalize import NotNormalisable, company_domain, normalize_domain, normalize_email
from leadpool.models import Company, Lead

ACE = "xn--mnchen-firma-dlb.de"  # münchen-firma.de as Apollo sends it
UNICODE = "münchen-firma.de"


def _email_domain(domain: str) -> str:
    email = normalize_email(f"info@{domain}")
    assert email is not None
    return email.partition("@")[2]


@pytest.mark.parametrize(
    "spelling",
    [
        ACE,
        "XN--MNCHEN-FIRMA-DLB.DE",
        f"https://www.{ACE}/impressum",
        UNICODE,
        "München-Firma.DE",
        "http://www.münchen-firma.de:8080/",
        "münchen-firma.de.",
        "ｍünchen-firma.de",  # a full-width letter, mapped as email-validator maps it
    ],
)
def test_every_spelling_of_an_international_domain_gives_the_email_domains_form(spelling: str) -> None:
    assert normalize_domain(spelling) == UNICODE == _email_domain(ACE) == _email_domain(UNICODE)
    assert company_domain(spelling, None) == UNICODE


def test_a_subdomain_and_a_top_level_domain_in_xn_form_are_converted_too() -> None:
    assert normalize_domain(f"shop.{ACE}") == f"shop.{UNICODE}" == _email_domain(f"shop.{ACE}")
    assert normalize_domain("xn--e1afmkfd.xn--p1ai") == "пример.рф" == _email_domain("xn--e1afmkfd.xn--p1ai")


@pytest.mark.parametrize(
    "bad", ["xn--zz.de", "xn--a.de", "xn--n3h.com", "shop.xn--.de", "xn--mnchen-firma-dlb"]
)
def test_invalid_punycode_is_not_normalisable(bad: str) -> None:
    with pytest.raises(NotNormalisable, match="not a domain or URL"):
        normalize_domain(bad)
    # an import falls back to the website, as for any unusable primary_domain
    assert company_domain(bad, "https://www.acme.example") == "acme.example"
    assert company_domain(bad, None) is None


def test_ascii_domains_are_kept_as_before() -> None:
    assert normalize_domain("http://www.Apollo.io/about?x=1") == "apollo.io"
    assert normalize_domain("fooxn--bar.example") == "fooxn--bar.example"  # xn-- not at a label's start
    assert normalize_domain("my_site.example") == "my_site.example"


def test_an_icp_excludes_a_company_by_either_spelling() -> None:
    icp = parse_icp(
        {"exclude": {"company_domains": [f"https://www.{ACE}/", "ｍünchen.example", "xn--zz.de"]}}
    )
    assert icp.exclude is not None
    # an undecodable name is kept as written, as any misspelt exclusion is (a stored campaign loads)
    assert icp.exclude.company_domains == [UNICODE, "münchen.example", "xn--zz.de"]


def test_an_apollo_import_and_a_csv_import_of_one_company_make_one_company(
    db: Database, tmp_path: Path
) -> None:
    org = {"id": None, "name": "München Firma", "primary_domain": ACE, "website_url": f"http://www.{ACE}"}
    first = import_people(db, [person(1, organization=org)], endpoint="people/match")
    assert first.rejected == []
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(APOLLO_HEADER)
        w.writerow(
            [
                {"Email": "anna@beispiel.example", "Website": "https://www.münchen-firma.de"}.get(h, "")
                for h in APOLLO_HEADER
            ]
        )
    second = import_files(db, [path], rejects_path=tmp_path / "rejects.jsonl")
    assert second.inserted == 1, second.rejected
    with session_scope(db) as s:
        companies = s.execute(select(Company.id, Company.domain, Company.primary_domain)).all()
        assert [(d, p) for _id, d, p in companies] == [(UNICODE, ACE)]  # Apollo's own field as it came
        assert set(s.scalars(select(Lead.company_id))) == {companies[0][0]}


def test_an_invalid_international_domain_imports_the_person_without_a_company_domain(db: Database) -> None:
    """Apollo sending a name IDNA refuses (broken punycode) is no reason to lose the person: the
    lead is stored, its company gets no domain (the site is the same broken name), and what was
    stored before is untouched."""
    good = {"id": None, "name": "München Firma", "primary_domain": ACE, "website_url": None}
    assert import_people(db, [person(1, organization=good)], endpoint="people/match").rejected == []
    bad = {
        "id": None,
        "name": "Broken Name",
        "primary_domain": "xn--zz.de",
        "website_url": "https://xn--zz.de/",
    }
    result = import_people(db, [person(2, organization=bad)], endpoint="people/match")
    assert result.rejected == []
    with session_scope(db) as s:
        domains = sorted(str(d) for d in s.scalars(select(Company.domain)))
        assert "xn--zz.de" not in domains and UNICODE in domains
        assert s.scalar(select(func.count()).select_from(Lead)) == 2
