"""Deterministic, Apollo-shaped sample people for the demo, tests and benchmarks.

``generate_people(n, seed)`` streams ``n`` person objects shaped like ``people/match`` output
(full nested organization, employment history, phones, departments...). The same ``(n, seed)``
always yields the same records, with no global random state.

Shape of the variety, so readers of tests know what to expect:

- companies: a pool of about ``n / 8``, shared by several people with a skew (a few big
  employers, many small ones); about 16% are in ``construction``.
- email_status: verified (with email), extrapolated (with ``extrapolated_email_confidence``),
  guessed, unverified, unavailable (no email) and null (no email).
- location: mostly city/state/country/time_zone; some with ``time_zone`` null, some with only a
  country, a few with none; US states sometimes abbreviated ("CA").
- duplicates (``duplicate_rate``, default 3%): an earlier person again under a second Apollo id
  (same email and LinkedIn), with a case variant of the email (no LinkedIn), or with a LinkedIn
  URL variant (https / no www / trailing slash, no email). Each duplicate shares exactly one
  identity key with its original, so a correct importer merges it.

Uniqueness is built in rather than checked: names within a company, company names/domains and
LinkedIn slugs come from bijections of counters, so non-duplicates never share an email,
LinkedIn URL or id by accident, and the generator needs no memory that grows with ``n``.
"""

from __future__ import annotations

import random
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from itertools import accumulate
from typing import Any, TypeVar

import orjson
import phonenumbers

from leadpool.apollo.sample_data import (
    COMMON_TECH,
    COMPANY_PREFIXES,
    CONSTRUCTION_ROLES,
    COUNTRIES,
    DEPARTMENT_HEADCOUNT_KEYS,
    FIRST_NAMES,
    FUNDING_STAGES,
    GENERIC_ROLES,
    INDUSTRIES,
    INVESTORS,
    LAST_NAMES,
    TECHNOLOGIES,
    TLDS,
    City,
    Country,
    Role,
)

__all__ = ["GenerateStats", "generate_people", "person_to_teaser"]

_FIRST = tuple(dict.fromkeys(FIRST_NAMES))
_LAST = tuple(dict.fromkeys(LAST_NAMES))
_NAME_SPACE = len(_FIRST) * len(_LAST)
_STEM_WORDS = (
    "",
    "Creek",
    "Ridge",
    "Harbor",
    "Point",
    "Valley",
    "Park",
    "Field",
    "Bay",
    "Mesa",
    "Hollow",
    "Grove",
    "Summit",
    "Crossing",
    "Bridge",
    "Lake",
    "Hill",
    "Forge",
    "River",
    "Trail",
)
_STEM_SPACE = len(COMPANY_PREFIXES) * len(_STEM_WORDS)
_QUALIFIERS = (
    "Pacific",
    "Atlantic",
    "Metro",
    "United",
    "Premier",
    "Allied",
    "National",
    "Coastal",
    "Central",
    "Golden",
    "Royal",
    "First",
    "Continental",
    "Heritage",
    "Frontier",
    "Liberty",
    "Pioneer",
    "Sovereign",
    "Cardinal",
    "Empire",
)

_COUNTRY_CUM = list(accumulate(c.weight for c in COUNTRIES))
_COUNTRY_BY_NAME = {c.name: c for c in COUNTRIES}
_PAST_EMPLOYER_WORDS = ("Group", "Partners", "Holdings", "Services", "Inc.", "& Co.")
_INDUSTRY_CUM = list(accumulate(i.weight for i in INDUSTRIES))
_GENERIC_CUM = list(accumulate(r[5] for r in GENERIC_ROLES))
_CONSTRUCTION_CUM = list(accumulate(r[5] for r in CONSTRUCTION_ROLES))

# (status, weight, has_email)
_EMAIL_STATUSES: tuple[tuple[str | None, int, bool], ...] = (
    ("verified", 58, True),
    ("extrapolated", 11, True),
    ("guessed", 7, True),
    ("unverified", 3, True),
    ("unavailable", 10, False),
    (None, 11, False),
)
_EMAIL_STATUS_CUM = list(accumulate(s[1] for s in _EMAIL_STATUSES))
_EMAIL_PATTERNS = ("{f}.{l}", "{f}_{l}", "{l}.{f}", "{f}-{l}", "{f}.{l}")
_EMPLOYEE_BUCKETS = (
    (1, 10, 14),
    (11, 50, 24),
    (51, 200, 25),
    (201, 500, 15),
    (501, 1000, 9),
    (1001, 5000, 8),
    (5001, 10000, 3),
    (10001, 80000, 2),
)
_EMPLOYEE_CUM = list(accumulate(b[2] for b in _EMPLOYEE_BUCKETS))
_SLUG_RE = re.compile(r"[^a-z0-9]+")
# name -> the ASCII letters used in email addresses and LinkedIn slugs ("Lefèvre" -> "lefevre")
_SLUGS = {
    name: _SLUG_RE.sub("", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower())
    for name in _FIRST + _LAST
}
_EPOCH_2015 = 1420070400  # ObjectId timestamps fall in 2015..2025, like real Apollo ids
_LOW64 = (1 << 64) - 1


@dataclass
class GenerateStats:
    """What one run produced; pass an instance to ``generate_people`` to have it filled in."""

    people: int = 0
    duplicates: int = 0
    duplicate_kinds: Counter[str] = field(default_factory=Counter)
    companies_in_pool: int = 0
    by_email_status: Counter[str] = field(default_factory=Counter)
    by_country: Counter[str] = field(default_factory=Counter)
    by_industry: Counter[str] = field(default_factory=Counter)

    @property
    def distinct_people(self) -> int:
        return self.people - self.duplicates

    def as_dict(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "distinct_people": self.distinct_people,
            "duplicates": self.duplicates,
            "duplicate_kinds": dict(self.duplicate_kinds),
            "companies_in_pool": self.companies_in_pool,
            "by_email_status": dict(self.by_email_status),
            "by_country": dict(self.by_country),
            "by_industry": dict(self.by_industry),
        }


def _ascii_slug(text: str, sep: str = "-") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _SLUG_RE.sub(sep, plain.replace("'", "")).strip(sep)


def _ri(rng: random.Random, low: int, high: int) -> int:
    """rng.randint without its overhead (the generator calls it a dozen times per person)."""
    return low + int(rng.random() * (high - low + 1))


def _rb(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


_T = TypeVar("_T")


def _ch(rng: random.Random, seq: Sequence[_T]) -> _T:
    return seq[int(rng.random() * len(seq))]


def _pick(rng: random.Random, cum: list[int]) -> int:
    """Index drawn with the weights whose running totals are ``cum``."""
    return bisect_right(cum, rng.random() * cum[-1])


def _object_id(rng: random.Random) -> str:
    x = rng.getrandbits(92)  # 28 bits of seconds (about 8.5 years) + 64 random bits
    return f"{_EPOCH_2015 + (x >> 64):08x}{x & _LOW64:016x}"


def _coprime_multiplier(rng: random.Random, space: int) -> int:
    from math import gcd

    while True:
        a = rng.randrange(1, space)
        if gcd(a, space) == 1:
            return a


def _printed(amount: float) -> str:
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if amount >= div:
            text = f"{amount / div:.1f}".removesuffix(".0")
            return f"{text}{unit}"
    return str(int(amount))


@cache
def _phone_head(calling_code: str, area: str, n_digits: int) -> str:
    """Leading subscriber digits that make a valid number in this area (found once, by search).

    Validity depends on the leading digits; the last four are free. The search uses its own
    fixed seed, so the cache never makes one run depend on another.
    """
    rng = random.Random(f"phone-head:{calling_code}:{area}")
    digits = "0" * n_digits
    for _ in range(500):
        digits = "".join(str(rng.randrange(10)) for _ in range(n_digits))
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+{calling_code}{area}{digits}")):
            break
    return digits[:-4]


def _phone(rng: random.Random, country: Country, city: City) -> tuple[str, str]:
    """(display, E.164) for an invented but well-formed number in the city's area.

    NANP numbers use the fictional 555-01xx range; elsewhere a valid leading part for the area
    (see ``_phone_head``) is followed by four random digits, so importers see valid numbers.
    """
    cc = country.calling_code
    if cc == "1":
        line = f"01{_rb(rng, 100):02d}"
        return f"+1 {city.area}-555-{line}", f"+1{city.area}555{line}"
    digits = _phone_head(cc, city.area, country.national_digits - len(city.area)) + f"{_rb(rng, 10000):04d}"
    half = len(digits) // 2
    area = f" {city.area}" if city.area else ""
    return f"+{cc}{area} {digits[:half]} {digits[half:]}", f"+{cc}{city.area}{digits}"


def _iso_date(d: date) -> str:
    return f"{d.isoformat()}T00:00:00.000+00:00"


class _Companies:
    """Company ``k`` is a pure function of ``(seed, k)``, built when the first employee needs it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        meta = random.Random(f"{seed}:companies")
        self._stem_a = _coprime_multiplier(meta, _STEM_SPACE)
        self._stem_b = meta.randrange(_STEM_SPACE)

    def name_parts(self, k: int) -> tuple[str, str]:
        """(stem, suffix) unique per k: an affine bijection over prefix x word; each further cycle
        through that space takes a qualifier word ("Pacific Larkspur Creek"), then a number."""
        cycle, pos = divmod(k, _STEM_SPACE)
        idx = (self._stem_a * pos + self._stem_b) % _STEM_SPACE
        prefix = COMPANY_PREFIXES[idx // len(_STEM_WORDS)]
        word = _STEM_WORDS[idx % len(_STEM_WORDS)]
        stem = f"{prefix} {word}".strip()
        if cycle == 0:
            return stem, ""
        rounds, q = divmod(cycle - 1, len(_QUALIFIERS))
        return f"{_QUALIFIERS[q]} {stem}", (f" {rounds + 1}" if rounds else "")

    def build(self, k: int) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:company:{k}")
        industry = INDUSTRIES[_pick(rng, _INDUSTRY_CUM)]
        country = COUNTRIES[_pick(rng, _COUNTRY_CUM)]
        city = _ch(rng, country.cities)
        stem, cycle = self.name_parts(k)
        name = f"{stem} {_ch(rng, industry.name_words)}{cycle}"
        domain = f"{_ascii_slug(stem + cycle)}.{_ch(rng, TLDS)}"
        org_id = _object_id(rng)
        low, high, _w = _EMPLOYEE_BUCKETS[_pick(rng, _EMPLOYEE_CUM)]
        employees: int | None = _ri(rng, low, high) if rng.random() > 0.03 else None
        revenue: float | None = None
        if employees is not None and rng.random() > 0.08:
            revenue = round(employees * industry.revenue_per_employee * rng.uniform(0.5, 1.8), -3)
        legacy_revenue = revenue is not None and rng.random() > 0.1
        founded = _ri(rng, 1950, 2023) if rng.random() > 0.05 else None
        phone_display, phone_e164 = _phone(rng, country, city)
        has_phone = rng.random() > 0.1

        funding_events: list[dict[str, Any]] = []
        if rng.random() < 0.3:
            when = date(_ri(rng, 2012, 2018), _ri(rng, 1, 12), 1)
            for stage_i in range(_ri(rng, 1, 4)):
                stage = FUNDING_STAGES[min(stage_i + _ri(rng, 0, 2), len(FUNDING_STAGES) - 1)]
                funding_events.append(
                    {
                        "id": _object_id(rng),
                        "date": _iso_date(when),
                        "news_url": None,
                        "type": stage,
                        "investors": ", ".join(rng.sample(INVESTORS, _ri(rng, 1, 3))),
                        "amount": f"{_ri(rng, 1, 60)}M",
                        "currency": "$",
                    }
                )
                when = when + timedelta(days=_ri(rng, 300, 900))
            funding_events.reverse()  # newest first, as Apollo lists them
        total_funding = sum(int(e["amount"][:-1]) * 1_000_000 for e in funding_events) or None

        tech_uids = rng.sample(industry.tech, min(len(industry.tech), _ri(rng, 1, 4))) + rng.sample(
            COMMON_TECH, _ri(rng, 2, 8)
        )
        techs = [TECHNOLOGIES[u] for u in tech_uids]
        keywords = rng.sample(industry.keywords, min(len(industry.keywords), _ri(rng, 2, 6)))
        head_count: dict[str, int] = {}
        if employees is not None:
            weights = [rng.random() for _ in DEPARTMENT_HEADCOUNT_KEYS]
            total_w = sum(weights)
            head_count = {
                key: int(employees * 0.8 * w / total_w)
                for key, w in zip(DEPARTMENT_HEADCOUNT_KEYS, weights, strict=True)
            }
        slug = _ascii_slug(stem + cycle)
        org: dict[str, Any] = {
            "id": org_id,
            "name": name,
            "website_url": f"http://www.{domain}",
            "blog_url": None,
            "angellist_url": None,
            "linkedin_url": f"http://www.linkedin.com/company/{slug}",
            "twitter_url": f"https://twitter.com/{slug.replace('-', '_')}" if rng.random() < 0.4 else None,
            "facebook_url": f"https://www.facebook.com/{slug}" if rng.random() < 0.3 else None,
            "primary_phone": (
                {
                    "number": phone_display,
                    "source": _ch(rng, ("Account", "Owler", "Scraped")),
                    "sanitized_number": phone_e164,
                }
                if has_phone
                else {}
            ),
            "languages": [country.language],
            "alexa_ranking": _ri(rng, 50_000, 9_000_000) if rng.random() < 0.5 else None,
            "phone": phone_display if has_phone else None,
            "linkedin_uid": str(_ri(rng, 1_000_000, 99_999_999)),
            "founded_year": founded,
            "publicly_traded_symbol": None,
            "publicly_traded_exchange": None,
            "logo_url": f"https://media.example-cdn.test/logos/{slug}.png",
            "crunchbase_url": None,
            "primary_domain": domain,
            "sanitized_phone": phone_e164 if has_phone else None,
            "sic_codes": [industry.sic],
            "naics_codes": [industry.naics],
            "industry": industry.name,
            "keywords": keywords,
            "estimated_num_employees": employees,
            "industries": [industry.name],
            "secondary_industries": list(industry.secondary[: _ri(rng, 0, len(industry.secondary))]),
            "snippets_loaded": True,
            "industry_tag_id": industry.tag_id,
            "industry_tag_hash": {industry.name: industry.tag_id},
            "retail_location_count": _ri(rng, 0, 40) if industry.name == "retail" else 0,
            "raw_address": ", ".join(
                p for p in (f"{_ri(rng, 1, 9999)} Example St", city.city, city.state, city.postal_code) if p
            )
            + f", {country.name}",
            "street_address": f"{_ri(rng, 1, 9999)} Example St" if rng.random() < 0.7 else "",
            "city": city.city,
            "state": city.state,
            "postal_code": city.postal_code,
            "country": country.name,
            "owned_by_organization_id": None,
            "suborganizations": [],
            "num_suborganizations": 0,
            "seo_description": f"{name}: {', '.join(keywords[:2])}.",
            "short_description": f"{name} is a {industry.name} company based in {city.city}.",
            "annual_revenue_printed": _printed(revenue) if legacy_revenue and revenue else None,
            "annual_revenue": int(revenue) if legacy_revenue and revenue else None,
            "organization_revenue_printed": _printed(revenue) if revenue else None,
            "organization_revenue": float(revenue) if revenue else None,
            "total_funding": total_funding,
            "total_funding_printed": _printed(total_funding) if total_funding else None,
            "latest_funding_round_date": funding_events[0]["date"] if funding_events else None,
            "latest_funding_stage": funding_events[0]["type"] if funding_events else None,
            "funding_events": funding_events,
            "technology_names": [t.name for t in techs],
            "current_technologies": [{"uid": t.uid, "name": t.name, "category": t.category} for t in techs],
            "org_chart_root_people_ids": [],
            "org_chart_sector": None,
            "org_chart_removed": None,
            "org_chart_show_department_filter": None,
            "departmental_head_count": head_count,
            "intent_strength": None,
            "show_intent": False,
            "has_intent_signal_account": False,
            "intent_signal_account": None,
            "generic_org_insights": None,
            "organization_headcount_six_month_growth": round(rng.uniform(-0.1, 0.2), 3),
            "organization_headcount_twelve_month_growth": round(rng.uniform(-0.15, 0.4), 3),
            "organization_headcount_twenty_four_month_growth": round(rng.uniform(-0.2, 0.8), 3),
        }
        return org


def _role(rng: random.Random, industry: str | None) -> Role:
    if industry in ("construction", "civil engineering", "building materials") and rng.random() < 0.6:
        return CONSTRUCTION_ROLES[_pick(rng, _CONSTRUCTION_CUM)]
    return GENERIC_ROLES[_pick(rng, _GENERIC_CUM)]


def _location(rng: random.Random, org: dict[str, Any] | None) -> tuple[Country | None, City | None]:
    country: Country | None = None
    if org is not None and rng.random() < 0.75:
        country = _COUNTRY_BY_NAME.get(org["country"])
    if country is None:
        country = COUNTRIES[_pick(rng, _COUNTRY_CUM)]
    return country, _ch(rng, country.cities)


def _duplicate(rng: random.Random, original: dict[str, Any], kind: str) -> dict[str, Any]:
    dup: dict[str, Any] = orjson.loads(orjson.dumps(original))
    dup["id"] = _object_id(rng)
    if kind == "email_case":
        local, _, domain = original["email"].partition("@")
        dup["email"] = f"{local.title()}@{domain.upper()}"
        dup["linkedin_url"] = None
    elif kind == "linkedin_variant":
        slug = original["linkedin_url"].rstrip("/").rsplit("/", 1)[-1]
        dup["linkedin_url"] = _ch(
            rng,
            (
                f"https://www.linkedin.com/in/{slug}/",
                f"https://linkedin.com/in/{slug}",
                f"http://linkedin.com/in/{slug}/",
                f"https://www.linkedin.com/in/{slug}",
            ),
        )
        dup["email"] = None
        dup["email_status"] = None
        dup["extrapolated_email_confidence"] = None
    return dup


class _Employer:
    """A company currently hiring sample people, with its own name bijection and member count."""

    __slots__ = ("k", "name_a", "name_b", "org", "quota", "taken")

    def __init__(self, rng: random.Random, k: int, org: dict[str, Any] | None, quota: int) -> None:
        self.k = k
        self.org = org
        self.quota = quota
        self.taken = 0
        self.name_a = _coprime_multiplier(rng, _NAME_SPACE)
        self.name_b = _rb(rng, _NAME_SPACE)


def generate_people(
    n: int, seed: int, *, duplicate_rate: float = 0.03, stats: GenerateStats | None = None
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` Apollo person objects (``people/match`` shape), deterministic for ``seed``.

    Streaming: memory does not grow with ``n``. About ``duplicate_rate`` of the records are
    duplicates of earlier ones (see the module docstring); ``stats``, if given, is filled in.
    Treat records as read-only: people of one company share the organization's nested lists,
    and a later duplicate is copied from the record as yielded.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= duplicate_rate <= 1.0:
        raise ValueError(f"duplicate_rate must be within 0..1, got {duplicate_rate}")
    rng = random.Random(seed)
    companies = _Companies(seed)
    st = stats if stats is not None else GenerateStats()
    # Employers are opened one after another, each with a heavy-tailed headcount (mean about 8),
    # and people are drawn from a small window of open ones: companies are shared and interleaved
    # without keeping every company in memory.
    window = max(1, min(64, n // 64))
    quota_cap = max(2, min(2000, n // 10))

    def open_employer() -> _Employer:
        k = st.companies_in_pool
        st.companies_in_pool += 1
        quota = min(quota_cap, max(1, round(3 * rng.paretovariate(1.5))))
        return _Employer(rng, k, companies.build(k), quota)

    active = [open_employer() for _ in range(window)] if n else []
    freelance = _Employer(rng, -1, None, 1 << 62)  # people with no current organization
    recent: list[dict[str, Any]] = []  # originals that duplicates may copy

    for serial in range(n):
        if recent and rng.random() < duplicate_rate:
            original = recent[int(rng.random() * len(recent))]
            kinds = ["second_id"]
            if original["email"]:
                kinds.append("email_case")
            if original["linkedin_url"]:
                kinds.append("linkedin_variant")
            kind = kinds[int(rng.random() * len(kinds))]
            person = _duplicate(rng, original, kind)
            st.duplicates += 1
            st.duplicate_kinds[kind] += 1
        else:
            slot = -1
            if rng.random() < 0.01:
                employer = freelance
            else:
                slot = int(rng.random() * window)
                employer = active[slot]
            person = _person(rng, employer, serial)
            if slot >= 0 and employer.taken >= employer.quota:
                active[slot] = open_employer()
            if person["email"] or person["linkedin_url"]:
                if len(recent) < 512:
                    recent.append(person)
                else:
                    recent[int(rng.random() * 512)] = person
        st.people += 1
        st.by_email_status[person["email_status"] or "null"] += 1
        st.by_country[person["country"] or "none"] += 1
        org = person["organization"]
        st.by_industry[org["industry"] if org else "none"] += 1
        yield person


_SLUG_MULT = 2654435761  # odd, so serial -> LinkedIn slug tag is a bijection mod 2**32


def _person(rng: random.Random, employer: _Employer, serial: int) -> dict[str, Any]:
    k = employer.k
    # a shallow copy per person: top-level edits stay private, nested lists are shared (read-only)
    org: dict[str, Any] | None = dict(employer.org) if employer.org is not None else None

    # a name unique within the company: the company's own affine bijection of its member ordinal
    m = employer.taken
    employer.taken = m + 1
    idx = (employer.name_a * (m % _NAME_SPACE) + employer.name_b) % _NAME_SPACE
    first, last = _FIRST[idx // len(_LAST)], _LAST[idx % len(_LAST)]
    f_slug, l_slug = _SLUGS[first], _SLUGS[last]

    title, seniority, departments, subdepartments, functions, _w = _role(
        rng, org["industry"] if org else None
    )
    status, _sw, has_email = _EMAIL_STATUSES[_pick(rng, _EMAIL_STATUS_CUM)]
    email: str | None = None
    if has_email and org is not None:
        pattern = _EMAIL_PATTERNS[k % len(_EMAIL_PATTERNS)]
        local = pattern.format(f=f_slug, l=l_slug)
        # past the name space a company repeats names; the cycle number keeps addresses unique
        if m >= _NAME_SPACE:
            local += str(m // _NAME_SPACE)
        email = f"{local}@{org['primary_domain']}"
    elif has_email:
        status = "unavailable"

    tag = f"{(serial * _SLUG_MULT) & 0xFFFFFFFF:08x}"
    linkedin = f"http://www.linkedin.com/in/{f_slug}-{l_slug}-{tag}" if rng.random() < 0.9 else None

    country, city = _location(rng, org)
    mode = rng.random()
    c_name: str | None = country.name if country else None
    c_city: str | None = city.city if city else None
    c_state: str | None = city.state if city else None
    tz: str | None = city.time_zone if city else None
    if mode < 0.12:
        tz = None  # location without a zone: the importer must derive it
    elif mode < 0.17:
        c_city = c_state = tz = None  # only the country
    elif mode < 0.20:
        c_name = c_city = c_state = tz = None  # no location at all
    us_state = c_state and city and city.state_abbr and country and country.name == "United States"
    if us_state and city and rng.random() < 0.1:
        c_state = city.state_abbr
    postal = city.postal_code if city and c_city and rng.random() < 0.3 else None

    history: list[dict[str, Any]] = []
    start = date(_ri(rng, 2008, 2024), _ri(rng, 1, 12), 1)
    if org is not None:
        history.append(_job(rng, org["id"], org["name"], title, start, None))
    end = start
    for _ in range(_ri(rng, 0, 3)):
        prev_start = date(max(1990, end.year - _ri(rng, 1, 8)), _ri(rng, 1, 12), 1)
        if prev_start >= end:
            break
        past_employer = f"{_ch(rng, COMPANY_PREFIXES)} {_ch(rng, _PAST_EMPLOYER_WORDS)}"
        linked = rng.random() < 0.5
        history.append(
            _job(
                rng,
                _object_id(rng) if linked else None,
                past_employer,
                _ch(rng, GENERIC_ROLES)[0],
                prev_start,
                end,
                matched_by_name=not linked,
            )
        )
        end = prev_start

    phones: list[dict[str, Any]] = []
    if org is not None and org["sanitized_phone"] and rng.random() < 0.7:
        phones.append(
            {
                "raw_number": org["phone"],
                "sanitized_number": org["sanitized_phone"],
                "type": "work_hq",
                "position": 0,
                "status": "no_status",
                "dnc_status": None,
                "dnc_other_info": None,
            }
        )
    if country is not None and city is not None and rng.random() < 0.12:
        display, e164 = _phone(rng, country, city)
        phones.append(
            {
                "raw_number": display,
                "sanitized_number": e164,
                "type": _ch(rng, ("mobile", "work_direct")),
                "position": len(phones),
                "status": "valid_number",
                "dnc_status": None,
                "dnc_other_info": None,
            }
        )

    name = f"{first} {last}"
    company_name = org["name"] if org else None
    headline = (
        _ch(rng, (f"{title} at {company_name}", f"{title} | {company_name}", title))
        if company_name and rng.random() < 0.85
        else (title if rng.random() < 0.5 else None)
    )
    slug = f"{f_slug}-{l_slug}-{tag}"
    return {
        "id": _object_id(rng),
        "first_name": first,
        "last_name": last,
        "name": name,
        "linkedin_url": linkedin,
        "title": title,
        "email_status": status,
        "photo_url": f"https://media.example-cdn.test/profile/{slug}.jpg" if rng.random() < 0.7 else None,
        "twitter_url": f"https://twitter.com/{f_slug}_{tag[:5]}" if rng.random() < 0.12 else None,
        "github_url": f"https://github.com/{f_slug}{tag[:4]}" if rng.random() < 0.04 else None,
        "facebook_url": f"https://www.facebook.com/{slug}" if rng.random() < 0.03 else None,
        "extrapolated_email_confidence": round(rng.uniform(0.4, 0.95), 2)
        if status == "extrapolated"
        else None,
        "headline": headline,
        "email": email,
        "organization_id": org["id"] if org else None,
        "employment_history": history,
        "street_address": "",
        "city": c_city,
        "state": c_state,
        "country": c_name,
        "postal_code": postal,
        "formatted_address": ", ".join(p for p in (c_city, c_state, c_name) if p) or None,
        "time_zone": tz,
        "organization": org,
        "phone_numbers": phones,
        "personal_emails": [],
        "hashed_email": None,
        "is_likely_to_engage": rng.random() < 0.3,
        "intent_strength": None,
        "show_intent": False,
        "email_domain_catchall": rng.random() < 0.08,
        "revealed_for_current_team": True,
        "departments": list(departments),
        "subdepartments": list(subdepartments),
        "functions": list(functions),
        "seniority": seniority,
    }


_JOB_TEMPLATE: dict[str, Any] = {
    "_id": None,
    "created_at": None,
    "current": False,
    "degree": None,
    "description": None,
    "emails": None,
    "end_date": None,
    "grade_level": None,
    "kind": None,
    "major": None,
    "org_matched_by_name": False,
    "organization_id": None,
    "organization_name": None,
    "raw_address": None,
    "start_date": None,
    "title": None,
    "updated_at": None,
    "id": None,
    "key": None,
}


def _job(
    rng: random.Random,
    org_id: str | None,
    org_name: str,
    title: str,
    start: date,
    end: date | None,
    *,
    matched_by_name: bool = False,
) -> dict[str, Any]:
    """One employment_history item (apollo.md 4.2); ``_id``, ``id`` and ``key`` are the same."""
    job_id = _object_id(rng)
    job = _JOB_TEMPLATE.copy()  # keeps Apollo's key order; cheaper than a 19-key literal
    job["_id"] = job["id"] = job["key"] = job_id
    job["current"] = end is None
    job["end_date"] = end.isoformat() if end else None
    job["org_matched_by_name"] = matched_by_name
    job["organization_id"] = org_id
    job["organization_name"] = org_name
    job["start_date"] = start.isoformat()
    job["title"] = title
    return job


def person_to_teaser(
    person: dict[str, Any], *, refreshed_at: str = "2025-10-02T14:21:07.512+00:00"
) -> dict[str, Any]:
    """The ``mixed_people/api_search`` row (apollo.md 4.3) Apollo shows for a full person."""
    last = person.get("last_name") or ""
    org = person.get("organization") or {}
    phones = person.get("phone_numbers") or []
    direct = any(p.get("type") in ("mobile", "work_direct") for p in phones)
    return {
        "id": person["id"],
        "first_name": person.get("first_name"),
        "last_name_obfuscated": f"{last[:2]}***{last[-1:]}" if last else None,
        "title": person.get("title"),
        "last_refreshed_at": refreshed_at,
        "has_email": bool(person.get("email")),
        "has_city": bool(person.get("city")),
        "has_state": bool(person.get("state")),
        "has_country": bool(person.get("country")),
        "has_direct_phone": "Yes" if direct else "Maybe: please request direct dial via people/bulk_match",
        "organization": {
            "name": org.get("name"),
            "has_industry": bool(org.get("industry")),
            "has_phone": bool(org.get("phone")),
            "has_city": bool(org.get("city")),
            "has_state": bool(org.get("state")),
            "has_country": bool(org.get("country")),
            "has_zip_code": bool(org.get("postal_code")),
            "has_revenue": bool(org.get("organization_revenue") or org.get("annual_revenue")),
            "has_employee_count": bool(org.get("estimated_num_employees")),
        },
    }
