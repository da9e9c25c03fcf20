"""Apollo person/organization objects -> typed column values for ``leads`` and ``companies``.

Pure functions: type checks, normalisation, and the rule for what counts as data.

What counts as "no data" (so it never overwrites a known value on re-import): null, an empty or
blank string, an empty list and an empty object. Apollo sends ``[]`` and ``{}`` for "nothing known"
(``personal_emails: []``, ``primary_phone: {}``), and a known value must not be erased by a later
response that simply lacks it. Such values are stored as NULL.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from leadpool.ingestion.normalize import (
    NotNormalisable,
    company_domain,
    is_role_address,
    normalize_email,
    normalize_linkedin_url,
    normalize_phone,
    technology_uid,
)
from leadpool.ingestion.phones import PhoneNumber, best_number, phone_numbers_of
from leadpool.ingestion.timezone import country_code, resolve_time_zone


class RecordError(ValueError):
    """A record that cannot be used; the message is the one-line reason for the rejects file."""


# Column kinds. "json" columns are passed to PostgreSQL as JSON text.
TEXT, FLOAT, BOOL, INT, BIGINT, NUMERIC, TIMESTAMP, TEXT_ARRAY, JSON_LIST, JSON_OBJECT = (
    "text",
    "float",
    "bool",
    "int",
    "bigint",
    "numeric",
    "timestamp",
    "text[]",
    "json list",
    "json object",
)

# Person fields copied as they are (after the type check), in ``leads`` column order.
PERSON_FIELDS: dict[str, str] = {
    "first_name": TEXT,
    "last_name": TEXT,
    "name": TEXT,
    "title": TEXT,
    "headline": TEXT,
    "email_status": TEXT,
    "extrapolated_email_confidence": FLOAT,
    "email_domain_catchall": BOOL,
    "photo_url": TEXT,
    "twitter_url": TEXT,
    "github_url": TEXT,
    "facebook_url": TEXT,
    "organization_id": TEXT,
    "street_address": TEXT,
    "city": TEXT,
    "state": TEXT,
    "country": TEXT,
    "postal_code": TEXT,
    "formatted_address": TEXT,
    "seniority": TEXT,
    "departments": TEXT_ARRAY,
    "subdepartments": TEXT_ARRAY,
    "functions": TEXT_ARRAY,
    "intent_strength": TEXT,
    "show_intent": BOOL,
    "revealed_for_current_team": BOOL,
    "is_likely_to_engage": BOOL,
    "excluded_for_leadgen": BOOL,
    "hashed_email": TEXT,
    "account_id": TEXT,
    "account": JSON_OBJECT,
    "contact_id": TEXT,
    "contact": JSON_OBJECT,
    "employment_history": JSON_LIST,
    "phone_numbers": JSON_LIST,
    "personal_emails": TEXT_ARRAY,
}
# keys of the person object that have their own handling (not copied, not "extra")
PERSON_SPECIAL = frozenset({"id", "email", "linkedin_url", "time_zone", "organization"})

#: ``leads`` columns the importer writes, in this order (identity first)
LEAD_COLUMNS: tuple[str, ...] = (
    "apollo_id",
    "email",
    "linkedin_url",
    "phone",
    *PERSON_FIELDS,
    "time_zone",
    "time_zone_source",
    "extra",
    "source",
)
_CITY, _STATE, _COUNTRY = (LEAD_COLUMNS.index(c) for c in ("city", "state", "country"))
_PERSONAL_EMAILS = LEAD_COLUMNS.index("personal_emails")

ORGANIZATION_FIELDS: dict[str, str] = {
    "name": TEXT,
    "website_url": TEXT,
    "blog_url": TEXT,
    "angellist_url": TEXT,
    "crunchbase_url": TEXT,
    "linkedin_url": TEXT,
    "twitter_url": TEXT,
    "facebook_url": TEXT,
    "linkedin_uid": TEXT,
    "primary_domain": TEXT,
    "primary_phone": JSON_OBJECT,
    "phone": TEXT,
    "languages": TEXT_ARRAY,
    "alexa_ranking": BIGINT,
    "founded_year": INT,
    "publicly_traded_symbol": TEXT,
    "publicly_traded_exchange": TEXT,
    "logo_url": TEXT,
    "persona_counts": JSON_OBJECT,
    "sic_codes": TEXT_ARRAY,
    "naics_codes": TEXT_ARRAY,
    "industry": TEXT,
    "industries": TEXT_ARRAY,
    "secondary_industries": TEXT_ARRAY,
    "industry_tag_id": TEXT,
    "industry_tag_hash": JSON_OBJECT,
    "keywords": TEXT_ARRAY,
    "estimated_num_employees": INT,
    "snippets_loaded": BOOL,
    "retail_location_count": INT,
    "raw_address": TEXT,
    "street_address": TEXT,
    "city": TEXT,
    "state": TEXT,
    "postal_code": TEXT,
    "country": TEXT,
    "owned_by_organization_id": TEXT,
    "suborganizations": JSON_LIST,
    "num_suborganizations": INT,
    "seo_description": TEXT,
    "short_description": TEXT,
    "annual_revenue": NUMERIC,
    "annual_revenue_printed": TEXT,
    "organization_revenue": NUMERIC,
    "organization_revenue_printed": TEXT,
    "total_funding": NUMERIC,
    "total_funding_printed": TEXT,
    "latest_funding_round_date": TIMESTAMP,
    "latest_funding_stage": TEXT,
    "funding_events": JSON_LIST,
    "technology_names": TEXT_ARRAY,
    "current_technologies": JSON_LIST,
    "departmental_head_count": JSON_OBJECT,
    "org_chart_root_people_ids": TEXT_ARRAY,
    "org_chart_sector": TEXT,
    "org_chart_removed": BOOL,
    "org_chart_show_department_filter": BOOL,
    "account_id": TEXT,
    "account": JSON_OBJECT,
    "intent_strength": TEXT,
    "show_intent": BOOL,
    "has_intent_signal_account": BOOL,
    "intent_signal_account": JSON_OBJECT,
    "generic_org_insights": JSON_OBJECT,
    "organization_headcount_six_month_growth": FLOAT,
    "organization_headcount_twelve_month_growth": FLOAT,
    "organization_headcount_twenty_four_month_growth": FLOAT,
}
ORGANIZATION_SPECIAL = frozenset({"id", "sanitized_phone"})

#: ``companies`` columns the importer writes, in this order (identity first)
COMPANY_COLUMNS: tuple[str, ...] = (
    "apollo_id",
    "domain",
    *ORGANIZATION_FIELDS,
    "sanitized_phone",
    "technology_uids",
    "extra",
)


_INT_LIMIT, _BIGINT_LIMIT = 2**31, 2**63
#: organizations remembered by map_person (each holds its parsed object, ~30 KB): bounded memory
ORG_CACHE_SIZE = 512


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _check(field: str, kind: str, value: Any) -> Any:
    """The value in the form the staging COPY wants, None for "no data"; RecordError on a bad type.

    Reasons name the field and what was expected, never the value: they go to the rejects file,
    and a value in the wrong field is often someone's address."""
    if value is None:
        return None
    t = type(value)
    if kind == TEXT:
        if t is str:
            return value if value.strip() else None
        if t is int or t is float:  # ids and codes sometimes arrive as numbers
            return str(value)
        raise RecordError(f"field {field!r}: expected a string, got {t.__name__}")
    if kind == BOOL:
        if t is bool:
            return value
        raise RecordError(f"field {field!r}: expected true/false, got {t.__name__}")
    if kind == FLOAT:
        if t is int or t is float:
            if not math.isfinite(value):
                raise RecordError(f"field {field!r}: expected a finite number")
            return float(value)
        raise RecordError(f"field {field!r}: expected a number, got {t.__name__}")
    if kind in (INT, BIGINT):
        if t is float and value.is_integer():
            value, t = int(value), int
        if t is int:
            limit = _INT_LIMIT if kind == INT else _BIGINT_LIMIT
            if -limit <= value < limit:
                return value
            raise RecordError(f"field {field!r}: expected an integer in range")
        raise RecordError(f"field {field!r}: expected an integer, got {t.__name__}")
    if kind == NUMERIC:
        if t is int or t is float:
            if t is float and not math.isfinite(value):
                raise RecordError(f"field {field!r}: expected a finite number")
            return value
        if t is str:
            try:
                number = float(value.replace(",", "")) if value.strip() else None
            except ValueError:
                number = math.nan
            if number is None or math.isfinite(number):
                return number
        raise RecordError(f"field {field!r}: expected a number, got {t.__name__}")
    if kind == TEXT_ARRAY:
        if t is not list:
            raise RecordError(f"field {field!r}: expected a list of strings, got {t.__name__}")
        out = []
        for item in value:
            ti = type(item)
            if ti is str:
                out.append(item)
            elif ti is int or ti is float:
                out.append(str(item))
            elif item is not None:
                raise RecordError(f"field {field!r}: expected a list of strings, found a {ti.__name__}")
        return out or None
    if kind == JSON_LIST:
        if t is not list:
            raise RecordError(f"field {field!r}: expected a list, got {t.__name__}")
        return _dumps(value) if value else None
    if kind == JSON_OBJECT:
        if t is not dict:
            raise RecordError(f"field {field!r}: expected an object, got {t.__name__}")
        return _dumps(value) if value else None
    if kind == TIMESTAMP:
        if t is str:
            if not value.strip():
                return None
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise RecordError(f"field {field!r}: expected an ISO date/time") from None
            return parsed.isoformat()
        raise RecordError(f"field {field!r}: expected an ISO date/time string, got {t.__name__}")
    raise AssertionError(kind)


def _checked(field: str, kind: str, value: Any, invalid: dict[str, Any] | None) -> Any:
    """``_check``; with ``invalid`` given, a value of the wrong type goes there (by field) and
    the column gets None instead of the record being rejected."""
    if value is None:
        return None
    try:
        return _check(field, kind, value)
    except RecordError:
        if invalid is None:
            raise
        invalid[field] = value
        return None


def _identity(field: str, value: Any) -> str | None:
    # identities are strings: a number here means the record is not what it claims to be
    if value is None or (type(value) is str and not value.strip()):
        return None
    if type(value) is not str:
        raise RecordError(f"field {field!r}: expected a string, got {type(value).__name__}")
    return value.strip()


def _extra(obj: dict[str, Any], known: dict[str, str], special: frozenset[str]) -> dict[str, Any]:
    return {
        k: v
        for k, v in obj.items()
        if k not in known and k not in special and v is not None and v != "" and v != [] and v != {}
    }


@dataclass(slots=True)
class PersonRow:
    """One person ready to stage: ``values`` in LEAD_COLUMNS order plus the company it works for."""

    values: list[Any]
    company: list[Any] | None  # COMPANY_COLUMNS order
    apollo_id: str | None
    email: str | None
    linkedin_url: str | None
    phone: str | None  # the best of ``numbers``
    numbers: list[PhoneNumber] = dataclasses.field(default_factory=list)
    best: PhoneNumber | None = None
    region: str | None = None  # the country (ISO alpha-2) national phone formats are read in
    # the person's other addresses (personal emails, numbers of their own): an erased person is
    # recognised by any of them
    personal: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def map_organization(org: Any, region_hint: str | None = None, *, lenient: bool = False) -> list[Any] | None:
    """An Apollo organization object -> COMPANY_COLUMNS values; None when it has no identity.
    ``lenient``: a value of the wrong type is kept in the company's extra (``invalid_fields``)
    and its column left empty, rather than rejecting the person (see ``map_person``)."""
    if org is None:
        return None
    if type(org) is not dict:
        raise RecordError(f"field 'organization': expected an object, got {type(org).__name__}")
    if not org:
        return None
    apollo_id = _check("organization.id", TEXT, org.get("id"))
    values: dict[str, Any] = {}
    invalid: dict[str, Any] = {}
    get = org.get
    for field, kind in ORGANIZATION_FIELDS.items():
        values[field] = _checked("organization." + field, kind, get(field), invalid if lenient else None)
    domain = company_domain(values["primary_domain"], values["website_url"])
    if apollo_id is None and domain is None:
        return None  # nothing to recognise the company by: map_person keeps it in the person's extra
    region = country_code(values["country"]) or region_hint
    sanitized = None
    for candidate in (get("sanitized_phone"), values["phone"]):
        if isinstance(candidate, str) and candidate.strip():
            try:
                sanitized = normalize_phone(candidate, region)
                break
            except NotNormalisable:
                continue
    techs = get("current_technologies")
    uids = None
    if type(techs) is list:
        uids = [t["uid"] for t in techs if type(t) is dict and type(t.get("uid")) is str] or None
    names = get("technology_names")
    if uids is None and type(names) is list:  # a CSV export lists names only: the ICP matches uids
        uids = [technology_uid(n) for n in names if type(n) is str and n.strip()] or None
    extra = _extra(org, ORGANIZATION_FIELDS, ORGANIZATION_SPECIAL)
    if invalid:
        extra["invalid_fields"] = {k.removeprefix("organization."): v for k, v in invalid.items()}
    return [
        apollo_id,
        domain,
        *values.values(),
        sanitized,
        uids,
        _dumps(extra) if extra else None,
    ]


def map_person(person: Any, source: str, org_cache: dict[Any, tuple[Any, Any]] | None = None) -> PersonRow:
    """An Apollo person object -> typed, normalised values. Raises RecordError with the reason.

    A value that has the right type but cannot be normalised (an invalid email, a non-profile
    LinkedIn URL) is not a reason to drop paid-for data: it is kept in ``extra`` under
    ``invalid_email`` / ``invalid_linkedin_url`` and the identity is left empty.
    """
    if type(person) is not dict:
        raise RecordError(f"expected a person object, got {type(person).__name__}")
    get = person.get
    extra = _extra(person, PERSON_FIELDS, PERSON_SPECIAL)

    apollo_id = _identity("id", get("id"))
    raw_email = _identity("email", get("email"))
    email = None
    if raw_email is not None:
        try:
            email = normalize_email(raw_email)
        except NotNormalisable:
            extra["invalid_email"] = raw_email
    raw_linkedin = _identity("linkedin_url", get("linkedin_url"))
    linkedin = None
    if raw_linkedin is not None:
        try:
            linkedin = normalize_linkedin_url(raw_linkedin)
        except NotNormalisable:
            extra["invalid_linkedin_url"] = raw_linkedin
    if email is not None and is_role_address(email) and (apollo_id is not None or linkedin is not None):
        # a shared mailbox would merge everyone listed under it into one lead: kept as data only
        extra["role_email"] = email
        email = None
    if apollo_id is None and email is None and linkedin is None:
        raise RecordError("missing identity: no Apollo id, usable email or LinkedIn URL")

    # a paid answer (source "api") is never thrown away for one odd value: Apollo's types are
    # "known at least", and a person rejected here still counts as bought, so is never bought
    # again. The value is kept aside (extra.invalid_fields), the column left empty. A file's
    # record of the wrong type is more likely a shifted row, and is rejected with its line.
    lenient = source == "api"
    invalid: dict[str, Any] = {}
    values: list[Any] = [apollo_id, email, linkedin, None]
    for field, kind in PERSON_FIELDS.items():
        values.append(_checked(field, kind, get(field), invalid if lenient else None))
    city, state, country = values[_CITY], values[_STATE], values[_COUNTRY]
    org = get("organization")
    region = country_code(country)
    # a number without its country code is read in the person's country, else the company's
    org_country = org.get("country") if type(org) is dict else None
    phone_region = region or (country_code(org_country) if type(org_country) is str else None)
    phone_numbers = get("phone_numbers")
    numbers = phone_numbers_of(phone_numbers, phone_region) if type(phone_numbers) is list else []
    best = best_number(numbers)
    values[3] = best.e164 if best else None
    tz_value = _checked("time_zone", TEXT, get("time_zone"), invalid if lenient else None)
    tz, tz_source = resolve_time_zone(tz_value, city, state, country, values[3])
    if tz_value is not None and tz_source != "apollo":
        extra["invalid_time_zone"] = tz_value
    values.append(tz)
    values.append(tz_source)

    if org_cache is not None and type(org) is dict and org:
        # the people of one company carry the same organization object: map it once
        key = (org.get("id"), org.get("primary_domain"), region)
        hit = org_cache.get(key)
        if hit is not None and hit[0] == org:
            company = hit[1]
        else:
            company = map_organization(org, region, lenient=lenient)
            if len(org_cache) >= ORG_CACHE_SIZE:
                org_cache.clear()
            org_cache[key] = (org, company)
    else:
        company = map_organization(org, region, lenient=lenient)
    if company is None and type(org) is dict:
        # no id and no domain to make a company of (a CSV row without Website): what is known of
        # the employer stays with the person rather than only in the raw payload
        known = _extra(org, {}, frozenset())
        if known:
            extra["organization"] = known
    if invalid:
        extra["invalid_fields"] = invalid
    values.append(_dumps(extra) if extra else None)
    values.append(source)
    personal = [("phone", n.e164) for n in numbers if n.personal and n.e164 is not None]
    if values[_PERSONAL_EMAILS] is not None:
        # stored in the spelling events name them in (an opt-out sent from one finds the lead by
        # it, through an index); one not readable as an address is kept as it came
        spelled: list[str] = []
        for address in values[_PERSONAL_EMAILS]:
            try:
                normalised = normalize_email(address)
            except NotNormalisable:
                normalised, kept = None, address
            else:
                kept = normalised
            if normalised is not None:
                personal.append(("email", normalised))
            if kept is not None and kept not in spelled:
                spelled.append(kept)
        values[_PERSONAL_EMAILS] = spelled or None
    return PersonRow(
        values,
        company,
        apollo_id,
        email,
        linkedin,
        values[3],
        numbers=numbers,
        best=best,
        region=phone_region,
        personal=personal,
    )
