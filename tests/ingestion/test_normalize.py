"""Normalisation rules: pure functions, no database."""

from __future__ import annotations

import json

import pytest

from leadpool.ingestion.hashing import address_hmac
from leadpool.ingestion.normalize import (
    NotNormalisable,
    company_domain,
    normalize_domain,
    normalize_email,
    normalize_linkedin_url,
    normalize_phone,
)
from leadpool.ingestion.phones import best_phone
from leadpool.ingestion.records import RecordError, map_person
from leadpool.ingestion.timezone import country_code, resolve_time_zone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane.Doe@Example.COM", "jane.doe@example.com"),
        ("  jane+tag@sub.example.org ", "jane+tag@sub.example.org"),
        ("email_not_unlocked@domain.com", None),
        ("EMAIL_NOT_UNLOCKED@DOMAIN.COM", None),
        ("", None),
        (None, None),
        ("ab@münchen.de", "ab@münchen.de"),
    ],
)
def test_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["not-an-email", "a@b", "a..b@example.com", "x@exa_mple.com", "@example.com"])
def test_invalid_email(raw: str) -> None:
    with pytest.raises(NotNormalisable):
        normalize_email(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "http://www.linkedin.com/in/jane-doe",
        "https://www.linkedin.com/in/jane-doe/",
        "https://linkedin.com/in/Jane-Doe",
        "https://uk.linkedin.com/in/jane-doe?trk=public_profile",
        "www.linkedin.com/in/jane-doe/#about",
        "linkedin.com/in/jane-doe/detail/contact-info/",
        "https://de.linkedin.com/in/jane%2Ddoe",
    ],
)
def test_linkedin_variants_share_one_canonical_form(raw: str) -> None:
    assert normalize_linkedin_url(raw) == "https://www.linkedin.com/in/jane-doe"


@pytest.mark.parametrize(
    "raw",
    ["https://www.linkedin.com/company/acme", "https://example.com/in/jane", "https://www.linkedin.com/in/"],
)
def test_linkedin_non_profiles(raw: str) -> None:
    with pytest.raises(NotNormalisable):
        normalize_linkedin_url(raw)


def test_phones() -> None:
    assert normalize_phone("+1 303-555-0142") == "+13035550142"
    assert normalize_phone("(303) 555-0142", "US") == "+13035550142"
    assert normalize_phone("'+44 20 7946 0958") == "+442079460958"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    with pytest.raises(NotNormalisable):
        normalize_phone("12", "US")
    with pytest.raises(NotNormalisable):
        normalize_phone("555-0142", None)  # national format without a region


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("5551234", "no country code; write it in E.164"),
        ("+999 123", "an unknown country code"),
        ("abc", "did not seem to be a phone number"),
    ],
)
def test_a_phone_that_cannot_be_read_says_why_in_words(value: str, says: str) -> None:
    """phonenumbers' own "(0) Missing or invalid default region." reached the CLI as it was."""
    with pytest.raises(NotNormalisable) as refused:
        normalize_phone(value, None)
    assert says in str(refused.value) and "(0)" not in str(refused.value) and "(1)" not in str(refused.value)


def test_best_phone_prefers_mobile_then_direct() -> None:
    numbers = [
        {"sanitized_number": "+13035550142", "type": "work_hq", "position": 0},
        {"raw_number": "(303) 555-0177", "type": "work_direct", "position": 1},
        {"raw_number": "+1 720 555 0100", "type": "mobile", "position": 2},
    ]
    assert best_phone(numbers, "US") == "+17205550100"
    assert best_phone(numbers[:2], "US") == "+13035550177"
    assert best_phone([{"raw_number": "garbage", "type": "mobile"}, numbers[0]], "US") == "+13035550142"
    assert best_phone([], "US") is None


def test_domains() -> None:
    assert normalize_domain("http://www.Apollo.io/about?x=1") == "apollo.io"
    assert normalize_domain("WWW.example.co.uk.") == "example.co.uk"
    assert normalize_domain("apollo.io:443") == "apollo.io"
    assert company_domain(None, "https://www.larkspur.example") == "larkspur.example"
    assert company_domain("larkspur.example", "https://other.example") == "larkspur.example"
    assert company_domain("not a domain", None) is None


@pytest.mark.parametrize(
    ("primary", "website", "expected"),
    [
        # a page on a shared service names the service, not the business
        (None, "https://www.facebook.com/joesplumbing", None),
        ("facebook.com", "https://www.facebook.com/joesplumbing", None),
        (None, "linktr.ee/annsbakery", None),
        (None, "https://sites.google.com/view/annsbakery/home", None),
        # the service's own site is still its company's domain
        ("facebook.com", "http://www.facebook.com", "facebook.com"),
        (None, "https://www.facebook.com/", "facebook.com"),
        # a business's own domain wins over its social page, and subdomain sites are their own
        ("joesplumbing.example", "https://facebook.com/joesplumbing", "joesplumbing.example"),
        (None, "https://joes.wixsite.com/home", "joes.wixsite.com"),
        (None, "https://acme.example/en/about", "acme.example"),
    ],
)
def test_a_page_on_a_shared_service_is_no_company_domain(
    primary: str | None, website: str, expected: str | None
) -> None:
    assert company_domain(primary, website) == expected


def test_country_codes_from_the_dataset() -> None:
    assert country_code("United States") == "US"
    assert country_code("united kingdom") == "GB"
    assert country_code("DEU") == "DE"
    assert country_code("Atlantis") is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("America/Denver", "Paris", None, "France"), ("America/Denver", "apollo")),
        (("Not/AZone", "Paris", None, "France"), ("Europe/Paris", "city")),
        ((None, "Portland", "Maine", "United States"), ("America/New_York", "city")),
        ((None, "Portland", "Oregon", "United States"), ("America/Los_Angeles", "city")),
        ((None, "Munich", None, "Germany"), ("Europe/Berlin", "city")),
        # Texas is split (El Paso keeps Mountain time): a town the dataset does not hold is a guess
        ((None, "Tinytown Nowhere", "TX", "United States"), ("America/Chicago", "guess")),
        ((None, "Tinytown Nowhere", "Ohio", "United States"), ("America/New_York", "state")),
        # a city name in several zones without its state: a guess, unless the number settles it
        ((None, "Portland", None, "United States"), ("America/Los_Angeles", "guess")),
        ((None, "Portland", None, "United States", "+12075550134"), ("America/New_York", "city")),
        ((None, "Portland", None, "United States", "+15035550100"), ("America/Los_Angeles", "city")),
        ((None, "Portland", None, "United States", "+13035550100"), ("America/Los_Angeles", "guess")),
        ((None, "Portland", None, "United States", "not a number"), ("America/Los_Angeles", "guess")),
        # a number never settles a split state (its area codes span the line too)
        ((None, "Ontario", "Oregon", "United States", "+15415550177"), ("America/Los_Angeles", "guess")),
        # one clock under several names (New York, Detroit) is no ambiguity
        ((None, "Denver", None, "United States"), ("America/Denver", "city")),
        ((None, None, "California", "United States"), ("America/Los_Angeles", "state")),
        ((None, None, None, "Germany"), ("Europe/Berlin", "country")),
        ((None, None, None, "United States"), (None, None)),  # several clocks, nothing narrower
        # several zone names on one clock are the country's zone: its most populous city's
        ((None, None, None, "Argentina"), ("America/Argentina/Buenos_Aires", "country")),
        ((None, None, None, "MYS"), ("Asia/Kuala_Lumpur", "country")),  # and Asia/Kuching
        ((None, None, None, "Spain"), (None, None)),  # the Canaries keep another clock
        ((None, None, None, None), (None, None)),
    ],
)
def test_time_zone_resolution(args: tuple[str | None, ...], expected: tuple[str | None, str | None]) -> None:
    assert resolve_time_zone(*args) == expected


def test_address_hmac_normalises_first() -> None:
    key = b"k"
    assert address_hmac("email", "Jane@Example.com", key) == address_hmac("email", " jane@example.com", key)
    assert address_hmac("linkedin", "http://uk.linkedin.com/in/Jane/", key) == address_hmac(
        "linkedin", "https://www.linkedin.com/in/jane", key
    )
    assert address_hmac("phone", "+1 (303) 555-0142", key) == address_hmac("phone", "+13035550142", key)
    assert address_hmac("email", "jane@example.com", key) != address_hmac(
        "email", "jane@example.com", b"other"
    )
    assert len(address_hmac("email", "jane@example.com", key)) == 64


def test_map_person_keeps_unknown_keys_and_invalid_values_in_extra() -> None:
    row = map_person(
        {
            "id": "p1",
            "email": "not an email",
            "linkedin_url": "https://www.linkedin.com/company/acme",
            "brand_new_field": {"x": 1},
            "time_zone": "Mars/Olympus",
            "city": "Denver",
            "state": "CO",
            "country": "United States",
        },
        "api",
    )
    assert (row.apollo_id, row.email, row.linkedin_url) == ("p1", None, None)
    extra_index = row.values[-2]
    assert '"brand_new_field"' in extra_index and '"invalid_email"' in extra_index
    assert "Mars/Olympus" in extra_index


@pytest.mark.parametrize(
    ("person", "reason"),
    [
        ({"first_name": "x"}, "missing identity"),
        ({"email": "email_not_unlocked@domain.com", "first_name": "x"}, "missing identity"),
        ({"id": 5.5, "email": None}, "field 'id'"),
        ({"id": "p", "show_intent": "yes"}, "show_intent"),
        ({"id": "p", "employment_history": {"a": 1}}, "employment_history"),
        ({"id": "p", "organization": {"id": "o", "founded_year": 10**12}}, "founded_year"),
        (
            {"id": "p", "organization": {"id": "o", "latest_funding_round_date": "yesterday"}},
            "latest_funding",
        ),
        ({"id": "p", "organization": ["o"]}, "organization"),
    ],
)
def test_map_person_rejects(person: dict[str, object], reason: str) -> None:
    # a file's record of the wrong type is likely a shifted row: rejected, naming the field
    with pytest.raises(RecordError, match=reason):
        map_person(person, "jsonl")


def test_a_paid_answers_odd_value_is_kept_aside_not_the_person_rejected() -> None:
    """From the API (paid), only a record that is no person, or has no identity, is rejected: a
    value of the wrong type goes to ``invalid_fields`` and its column stays empty."""
    row = map_person(
        {
            "id": "p",
            "show_intent": "yes",
            "employment_history": {"a": 1},
            "organization": {"id": "o", "founded_year": 10**12, "latest_funding_round_date": "yesterday"},
        },
        "api",
    )
    assert row.apollo_id == "p"
    assert json.loads(row.values[-2])["invalid_fields"] == {
        "show_intent": "yes",
        "employment_history": {"a": 1},
    }
    assert row.company is not None
    assert json.loads(row.company[-1])["invalid_fields"] == {
        "founded_year": 10**12,
        "latest_funding_round_date": "yesterday",
    }
    for person, reason in [({"first_name": "x"}, "missing identity"), ({"id": 5.5}, "field 'id'"),
                           ({"id": "p", "organization": ["o"]}, "organization")]:  # fmt: skip
        with pytest.raises(RecordError, match=reason):
            map_person(person, "api")
