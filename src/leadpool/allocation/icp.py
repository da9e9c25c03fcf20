"""The ICP filter: a validated model over stored lead and company fields, compiled to SQL.

Semantics (every dimension is optional; the ones given are ANDed, values inside one are any-of):

- ``industries``: the company's ``industry`` (case-insensitive, exact).
- ``keywords``: any of the company's ``keywords`` (stored lower-case by Apollo; input lower-cased).
- ``title_terms``: the lead's title contains any term (case-insensitive substring).
- ``seniorities``, ``departments``: the lead's Apollo seniority / any of its departments.
- ``countries``, ``states``, ``cities``: the lead's location, case-insensitive; each given list is a
  separate condition (``countries: [united states]`` + ``states: [texas]`` means Texas, US).
- ``employee_count``, ``revenue``, ``founded_year``: inclusive ``{min, max}`` ranges; revenue is the
  company's ``annual_revenue``, else ``organization_revenue``.
- ``technologies``: ``any_of`` / ``all_of`` Apollo technology uids; names are accepted and turned
  into the uid form Apollo uses (lower case, spaces and dots become ``_``: "Google Analytics" ->
  ``google_analytics``), so matching is case-insensitive and served by the GIN index.
- ``funding_stages``: the company's latest funding stage, case-insensitive.
- ``email_statuses``: allowed ``email_status`` values, default ``["verified"]``.
- ``exclude``: company domains and title terms that rule a lead out.

A lead without a company fails every company condition but passes the company exclusions.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import ColumnElement, FromClause, and_, func, literal, not_, or_, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from leadpool.errors import InvalidInput
from leadpool.ingestion.normalize import NotNormalisable, ace_form, idn_form, is_international, technology_uid

# Each term is a bind parameter (a title term a regular expression) of every allocation's
# statement: past these, PostgreSQL refuses the statement ("regular expression is too complex",
# more parameters than the protocol carries) and the campaign could never be allocated, nor,
# before rounds skipped such campaigns, any other agency's in the same round.
MAX_TERMS = 1000
MAX_TERM_CHARS = 200


def _clean_terms(values: list[str]) -> list[str]:
    if len(values) > MAX_TERMS:
        raise ValueError(f"at most {MAX_TERMS} items, got {len(values)}")
    out: dict[str, None] = {}  # de-duplicated in order, in linear time
    for n, v in enumerate(values):
        t = v.strip().lower()
        if not t:
            raise ValueError("empty string in list")
        if len(t) > MAX_TERM_CHARS:
            raise ValueError(f"item {n}: at most {MAX_TERM_CHARS} characters, got {len(t)}")
        out[t] = None
    return list(out)


def normalise_domain(domain: str) -> str:
    d = domain.strip().lower()
    for prefix in ("https://", "http://"):
        d = d.removeprefix(prefix)
    d = d.removeprefix("www.").split("/")[0]
    if is_international(d):
        # compared with companies.domain, stored in the Unicode form (normalize_domain); a name
        # IDNA refuses is kept as written, as any misspelt exclusion is: a campaign stored with
        # one still loads, and it still names a company row the upgrade could not convert (0032)
        with contextlib.suppress(NotNormalisable):
            d = idn_form(d).removeprefix("www.")
    if not d or "." not in d:
        raise ValueError(f"not a domain: {domain!r}")
    return d


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntRange(_Strict):
    # the counts it is compared with are PostgreSQL integers: a larger bound would fail every
    # allocation of the campaign (and a round's, for every agency) instead of being refused here
    min: int | None = Field(default=None, ge=0, le=2**31 - 1)
    max: int | None = Field(default=None, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


class MoneyRange(_Strict):
    # a quadrillion is beyond any company's revenue; "1e200000" is beyond PostgreSQL's numeric
    min: Decimal | None = Field(default=None, ge=0, le=Decimal(10**15))
    max: Decimal | None = Field(default=None, ge=0, le=Decimal(10**15))

    @model_validator(mode="after")
    def _ordered(self) -> MoneyRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


class YearRange(_Strict):
    min: int | None = Field(default=None, ge=1600, le=2200)
    max: int | None = Field(default=None, ge=1600, le=2200)

    @model_validator(mode="after")
    def _ordered(self) -> YearRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


class Technologies(_Strict):
    any_of: list[str] = Field(default_factory=list)
    all_of: list[str] = Field(default_factory=list)

    @field_validator("any_of", "all_of")
    @classmethod
    def _uids(cls, v: list[str]) -> list[str]:
        return [technology_uid(t) for t in _clean_terms(v)]


class Exclusions(_Strict):
    company_domains: list[str] = Field(default_factory=list)
    title_terms: list[str] = Field(default_factory=list)

    @field_validator("company_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        return [normalise_domain(d) for d in _clean_terms(v)]

    @field_validator("title_terms")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        return _clean_terms(v)


class ICP(_Strict):
    """An ideal customer profile. Unknown fields are refused, so a typo never widens a filter."""

    industries: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    title_terms: list[str] = Field(default_factory=list)
    seniorities: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)
    cities: list[str] = Field(default_factory=list)
    employee_count: IntRange | None = None
    revenue: MoneyRange | None = None
    technologies: Technologies | None = None
    founded_year: YearRange | None = None
    funding_stages: list[str] = Field(default_factory=list)
    email_statuses: list[str] = Field(default_factory=lambda: ["verified"], min_length=1)
    exclude: Exclusions | None = None

    @field_validator(
        "industries",
        "keywords",
        "title_terms",
        "seniorities",
        "departments",
        "countries",
        "states",
        "cities",
        "funding_stages",
        "email_statuses",
    )
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        return _clean_terms(v)

    def to_json(self) -> dict[str, Any]:
        """The normalised form stored in ``campaigns.icp`` (defaults and empty parts left out)."""
        return self.model_dump(mode="json", exclude_defaults=True) | {"email_statuses": self.email_statuses}


def format_validation_error(exc: ValidationError, root: str = "icp") -> str:
    """One line per problem, each starting with the path of the offending part."""
    allowed = ", ".join(ICP.model_fields)
    lines = []
    for err in exc.errors():
        path = ".".join([root, *(str(p) for p in err["loc"])])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field" + (f" (allowed: {allowed})" if len(err["loc"]) == 1 else "")
        elif err["type"] == "missing":
            msg = "required"
        lines.append(f"{path}: {msg}")
    return "; ".join(lines)


def parse_icp(data: Any, *, root: str = "icp") -> ICP:
    """Validate a mapping (from JSON, YAML or the API) into an ICP, or raise InvalidInput."""
    if isinstance(data, ICP):
        return data
    if not isinstance(data, dict):
        raise InvalidInput(f"{root}: must be a mapping of filter fields, got {type(data).__name__}")
    try:
        return ICP.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(format_validation_error(e, root)) from e


def load_icp_file(path: Path) -> ICP:
    """Read an ICP from a ``.yaml``/``.yml`` or ``.json`` file; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"icp file {path}: cannot be read ({e.strerror})") from e
    except UnicodeDecodeError as e:
        raise InvalidInput(
            f"icp file {path}: not UTF-8 text (byte {e.start} is {e.object[e.start]:#04x})"
        ) from e
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise InvalidInput(f"icp file {path}: use a .yaml, .yml or .json file")
    except json.JSONDecodeError as e:
        raise InvalidInput(
            f"icp file {path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
        ) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise InvalidInput(f"icp file {path}: invalid YAML{where}") from e
    if data is None:
        # an empty file is more likely a mistake (a save that failed, the wrong path) than "every
        # lead in the pool": that takes an explicit {}
        raise InvalidInput(f"icp file {path}: is empty; write {{}} to match the whole pool")
    try:
        return parse_icp(data)
    except InvalidInput as e:
        raise InvalidInput(f"icp file {path}: {e.message}") from e


def _text_array(values: list[str]) -> ColumnElement[Any]:
    return literal(list(values), ARRAY(Text))


def _any_substring(column: Any, terms: list[str]) -> ColumnElement[bool]:
    """Any of the terms as whole words of the column, case-insensitive: "cto" is not in
    "Director", nor "intern" in "International"."""
    return or_(*(column.op("~*")(f"(^|[^[:alnum:]]){re.escape(t)}([^[:alnum:]]|$)") for t in terms))


def _in_range(column: Any, rng: IntRange | MoneyRange | YearRange) -> ColumnElement[bool]:
    parts = []
    if rng.min is not None:
        parts.append(column >= rng.min)
    if rng.max is not None:
        parts.append(column <= rng.max)
    return and_(*parts)


def revenue_column(company: FromClause) -> ColumnElement[Any]:
    return func.coalesce(company.c.annual_revenue, company.c.organization_revenue)


def _both_spellings(domains: list[str]) -> list[str]:
    """The excluded domains (stored in the Unicode form) and the ``xn--`` form of each international
    one: a company migration 0032 left in that form (its Unicode form was another company's) is
    the same company, and was excluded by its ``xn--`` name before the upgrade."""
    out = list(domains)
    for d in domains:
        ace = ace_form(d) if is_international(d) else None
        if ace is not None and ace not in out:
            out.append(ace)
    return out


def compile_icp(icp: ICP, lead: FromClause, company: FromClause) -> ColumnElement[bool]:
    """The ICP as one SQL condition over ``lead`` LEFT JOIN ``company``.

    Equality tests use the columns (or the ``lower()`` expressions) that have indexes; array
    tests use ``&&`` / ``@>`` so the GIN indexes serve them.
    """
    l, c = lead.c, company.c
    # email_statuses is not here: it rules on the email route only (pool.reachable), so a LinkedIn,
    # SMS or phone campaign can have a lead with no email (whose status is null)
    conds: list[ColumnElement[bool]] = []
    if icp.industries:
        conds.append(func.lower(c.industry).in_(icp.industries))
    if icp.keywords:
        conds.append(c.keywords.op("&&")(_text_array(icp.keywords)))
    if icp.title_terms:
        conds.append(_any_substring(l.title, icp.title_terms))
    if icp.seniorities:
        conds.append(l.seniority.in_(icp.seniorities))
    if icp.departments:
        conds.append(l.departments.op("&&")(_text_array(icp.departments)))
    if icp.countries:
        conds.append(func.lower(l.country).in_(icp.countries))
    if icp.states:
        conds.append(func.lower(l.state).in_(icp.states))
    if icp.cities:
        conds.append(func.lower(l.city).in_(icp.cities))
    if icp.employee_count:
        conds.append(_in_range(c.estimated_num_employees, icp.employee_count))
    if icp.revenue:
        conds.append(_in_range(revenue_column(company), icp.revenue))
    if icp.founded_year:
        conds.append(_in_range(c.founded_year, icp.founded_year))
    if icp.technologies and icp.technologies.any_of:
        conds.append(c.technology_uids.op("&&")(_text_array(icp.technologies.any_of)))
    if icp.technologies and icp.technologies.all_of:
        conds.append(c.technology_uids.op("@>")(_text_array(icp.technologies.all_of)))
    if icp.funding_stages:
        conds.append(func.lower(c.latest_funding_stage).in_(icp.funding_stages))
    if icp.exclude and icp.exclude.company_domains:
        conds.append(or_(c.domain.is_(None), c.domain.not_in(_both_spellings(icp.exclude.company_domains))))
    if icp.exclude and icp.exclude.title_terms:
        conds.append(or_(l.title.is_(None), not_(_any_substring(l.title, icp.exclude.title_terms))))
    return and_(true(), *conds)


def to_apollo_search(icp: ICP, channels: Sequence[str] = ("email",)) -> dict[str, Any]:
    """Apollo ``mixed_people/api_search`` parameters that approximate the ICP, for a campaign on
    ``channels``.

    ``q_keywords`` carries a single industry or keyword; several become
    ``q_organization_keyword_tags`` (any-of), since Apollo's free text needs every word. Apollo's
    search is fuzzier than ours (similar titles, free text); people it returns that do not match
    are still imported (nothing paid for is thrown away) but allocation applies
    the exact ICP afterwards.
    """
    params: dict[str, Any] = {}
    if icp.title_terms:
        params["person_titles"] = list(icp.title_terms)
    if icp.seniorities:
        params["person_seniorities"] = list(icp.seniorities)
    locations = [*icp.cities, *icp.states, *icp.countries]
    if locations:
        # the narrowest given level: Apollo ORs locations, we AND the levels
        narrowest = icp.cities or icp.states or icp.countries
        params["person_locations"] = list(narrowest)
    if icp.employee_count:
        lo = icp.employee_count.min or 1
        hi = icp.employee_count.max
        params["organization_num_employees_ranges"] = [f"{lo},{hi if hi is not None else ''}"]
    if icp.revenue:
        rr: dict[str, int] = {}
        if icp.revenue.min is not None:
            rr["min"] = int(icp.revenue.min)
        if icp.revenue.max is not None:
            rr["max"] = int(icp.revenue.max)
        params["revenue_range"] = rr
    keywords = [*icp.industries, *icp.keywords]
    if len(keywords) == 1:
        params["q_keywords"] = keywords[0]
    elif keywords:
        # Apollo's q_keywords needs every word to appear; several industries/keywords are any-of
        params["q_organization_keyword_tags"] = keywords
    if icp.technologies and icp.technologies.any_of:
        params["currently_using_any_of_technology_uids"] = list(icp.technologies.any_of)
    if icp.technologies and icp.technologies.all_of:
        params["currently_using_all_of_technology_uids"] = list(icp.technologies.all_of)
    statuses = [s for s in icp.email_statuses if s in ("verified", "unverified", "likely to engage")]
    # the email statuses rule the email route only (pool.reachable): a campaign that also sends on
    # LinkedIn, SMS or phone takes people with no usable email, so its refill must not filter them out
    if statuses and set(channels) == {"email"}:
        params["contact_email_status"] = statuses
    return params


__all__ = [
    "ICP",
    "Exclusions",
    "IntRange",
    "MoneyRange",
    "Technologies",
    "YearRange",
    "compile_icp",
    "format_validation_error",
    "load_icp_file",
    "parse_icp",
    "to_apollo_search",
]
