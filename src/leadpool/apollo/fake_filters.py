"""Search parameters as the fake Apollo reads them, and the filters it applies to people.

Kept apart from the server so the matching rules (a model of apollo.md 2.1, not Apollo's exact
fuzzy search) can be read and tested on their own.
"""

from __future__ import annotations

import re
from typing import Any

ARRAY_PARAMS = frozenset(
    {
        "person_titles",
        "person_not_titles",
        "person_locations",
        "person_seniorities",
        "person_functions",
        "person_department_or_subdepartments",
        "organization_locations",
        "organization_not_locations",
        "q_organization_domains_list",
        "contact_email_status",
        "organization_ids",
        "organization_num_employees_ranges",
        "organization_industry_tag_ids",
        "q_organization_keyword_tags",
        "currently_using_all_of_technology_uids",
        "currently_using_any_of_technology_uids",
        "currently_not_using_any_of_technology_uids",
        "details",
        "domains",
    }
)
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def norm_domain(value: str) -> str:
    d = value.strip().lower()
    d = re.sub(r"^[a-z]+://", "", d).split("/", 1)[0]
    return d.removeprefix("www.").lstrip("@")


def norm_linkedin(value: str) -> str:
    return re.sub(r"^https?://(www\.)?", "", value.strip().lower()).rstrip("/")


def parse_params(query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any]:
    """Merge query and body parameters into plain names (``a[]`` -> ``a``, ``a[min]`` -> ``a.min``)."""
    out: dict[str, Any] = {}

    def put(raw_key: str, value: Any, from_query: bool) -> None:
        m = _KEY_RE.match(raw_key)
        if not m:
            out[raw_key] = value
            return
        name, brackets = m.group(1), m.group(2)
        subkeys = re.findall(r"\[([^\[\]]*)\]", brackets)
        if subkeys and subkeys[-1] == "":  # PHP array: name[] (or name[x][])
            subkeys = subkeys[:-1]
            value = value if isinstance(value, list) else [value]
        elif from_query:
            value = value if name in ARRAY_PARAMS else value[-1]
        elif name in ARRAY_PARAMS and isinstance(value, str):
            value = [value]
        target = out
        for sub in [name, *subkeys][:-1]:
            nxt = target.get(sub)
            if not isinstance(nxt, dict):
                nxt = target[sub] = {}
            target = nxt
        last = [name, *subkeys][-1]
        if isinstance(target.get(last), list) and isinstance(value, list):
            target[last] = target[last] + value
        else:
            target[last] = value

    for key, values in query.items():
        put(key, values, True)
    for key, value in body.items():
        put(key, value, False)
    return out


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def as_int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, list):
        value = value[-1]
    return int(value)


def _lower_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v).strip().lower() for v in items if str(v).strip()]


def _revenue(org: dict[str, Any]) -> float | None:
    value = org.get("organization_revenue") or org.get("annual_revenue")
    return float(value) if value is not None else None


def _in_range(value: float | None, low: Any, high: Any) -> bool:
    if value is None:
        return low in (None, "") and high in (None, "")
    if low not in (None, "") and value < float(low):
        return False
    return not (high not in (None, "") and value > float(high))


def _employees_match(employees: int | None, ranges: list[str]) -> bool:
    if employees is None:
        return False
    for r in ranges:
        low, _, high = r.partition(",")
        if (not low or employees >= int(low)) and (not high or employees <= int(high)):
            return True
    return False


def person_matches(person: dict[str, Any], f: dict[str, Any]) -> bool:
    """Whether a full person passes the search filters (the subset of apollo.md 2.1 we model)."""
    org: dict[str, Any] = person.get("organization") or {}
    title = (person.get("title") or "").lower()
    titles = _lower_list(f.get("person_titles"))
    if titles:
        strict = not _as_bool(f.get("include_similar_titles"), True)
        if strict and title not in titles:
            return False
        if not strict and not any(t in title for t in titles):
            return False
    not_titles = _lower_list(f.get("person_not_titles"))
    if not_titles and any(t in title for t in not_titles):
        return False
    seniorities = _lower_list(f.get("person_seniorities"))
    if seniorities and (person.get("seniority") or "").lower() not in seniorities:
        return False
    departments = _lower_list(f.get("person_department_or_subdepartments"))
    if departments:
        mine = {d.lower() for d in (person.get("departments") or []) + (person.get("subdepartments") or [])}
        if not mine & set(departments):
            return False
    functions = _lower_list(f.get("person_functions"))
    if functions and not {x.lower() for x in person.get("functions") or []} & set(functions):
        return False
    locations = _lower_list(f.get("person_locations"))
    if locations:
        places = {(person.get(k) or "").lower() for k in ("city", "state", "country")} - {""}
        if not places & set(locations):
            return False
    org_locations = _lower_list(f.get("organization_locations"))
    if org_locations:
        places = {(org.get(k) or "").lower() for k in ("city", "state", "country")} - {""}
        if not places & set(org_locations):
            return False
    not_org_locations = _lower_list(f.get("organization_not_locations"))
    if not_org_locations:
        places = {(org.get(k) or "").lower() for k in ("city", "state", "country")} - {""}
        if places & set(not_org_locations):
            return False
    domains = {norm_domain(d) for d in _lower_list(f.get("q_organization_domains_list"))}
    legacy_domains = f.get("q_organization_domains")
    if isinstance(legacy_domains, str) and legacy_domains.strip():
        domains |= {norm_domain(d) for d in legacy_domains.split("\n") if d.strip()}
    if domains and norm_domain(org.get("primary_domain") or "") not in domains:
        return False
    org_ids = set(_lower_list(f.get("organization_ids")))
    if org_ids and (org.get("id") or "").lower() not in org_ids:
        return False
    tag_ids = set(_lower_list(f.get("organization_industry_tag_ids")))
    if tag_ids and (org.get("industry_tag_id") or "").lower() not in tag_ids:
        return False
    ranges = [r.replace(" ", "") for r in _lower_list(f.get("organization_num_employees_ranges"))]
    if ranges and not _employees_match(org.get("estimated_num_employees"), ranges):
        return False
    revenue = f.get("revenue_range")
    if isinstance(revenue, dict) and not _in_range(_revenue(org), revenue.get("min"), revenue.get("max")):
        return False
    techs = {t.get("uid", "").lower() for t in org.get("current_technologies") or []}
    any_of = set(_lower_list(f.get("currently_using_any_of_technology_uids")))
    if any_of and not techs & any_of:
        return False
    all_of = set(_lower_list(f.get("currently_using_all_of_technology_uids")))
    if all_of and not all_of <= techs:
        return False
    none_of = set(_lower_list(f.get("currently_not_using_any_of_technology_uids")))
    if none_of and techs & none_of:
        return False
    statuses = _lower_list(f.get("contact_email_status"))
    if statuses:
        bucket = _email_status_bucket(person)
        engaged = bucket == "verified" and bool(person.get("is_likely_to_engage"))
        if bucket not in statuses and not (engaged and "likely to engage" in statuses):
            return False
    org_keywords = _lower_list(f.get("q_organization_keyword_tags"))
    if org_keywords:
        words = {k.lower() for k in org.get("keywords") or []} | {(org.get("industry") or "").lower()}
        if not words & set(org_keywords):
            return False
    q = f.get("q_keywords")
    if isinstance(q, str) and q.strip():
        text = " ".join(
            str(x or "")
            for x in (
                person.get("name"),
                person.get("title"),
                person.get("headline"),
                org.get("name"),
                org.get("industry"),
                " ".join(org.get("industries") or []),
                " ".join(org.get("keywords") or []),
            )
        ).lower()
        if not all(term in text for term in q.lower().split()):
            return False
    return True


def _email_status_bucket(person: dict[str, Any]) -> str:
    status = (person.get("email_status") or "").lower()
    if status == "verified":
        return "verified"
    if person.get("email") and status not in ("unavailable", "bounced"):
        return "unverified"
    return "unavailable"
