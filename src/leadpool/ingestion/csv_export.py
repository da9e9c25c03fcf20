"""Apollo's CSV export -> Apollo-shaped person objects (so one mapping path serves every format).

Columns are matched by name, case-, space- and punctuation-insensitively, never by position.
Columns with no API equivalent (Stage, Lists, Email Sent, custom fields...) are kept under their
original header in the person object, which the person mapping stores in ``leads.extra``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any


def header_key(name: str) -> str:
    """``"Person Linkedin Url"`` -> ``"personlinkedinurl"``; ``"# Employees"`` -> ``"#employees"``."""
    return re.sub(r"[\s_\-()]+", "", name.strip().lower())


def _text(v: str) -> str:
    return v.strip()


def _label(v: str) -> str:
    # "Verified" -> "verified", "C suite" -> "c_suite": the API's spelling of these open enums
    return re.sub(r"\s+", "_", v.strip().lower())


def _email_status(v: str) -> str:
    # the API spells these in lower case with spaces ("likely to engage")
    return " ".join(v.strip().lower().split())


# the API's department keys (apollo.md 6.4); an export labels them ("C-Suite", "Sales",
# "Engineering & Technical"): a label becomes its key, or "master_" + its key when that is one
DEPARTMENT_KEYS = frozenset(
    {
        "c_suite", "master_engineering_technical", "master_information_technology", "master_finance",
        "master_sales", "master_operations", "master_marketing", "master_human_resources", "master_legal",
        "product_management", "design", "education", "medical_health", "consulting",
    }
)  # fmt: skip


def _key(label: str) -> str:
    return "_".join(re.sub(r"[^a-z0-9]+", " ", label.lower()).split())


def _departments(v: str) -> list[str]:
    out = []
    for label in _list(v):
        key = _key(label)
        out.append(
            key if key in DEPARTMENT_KEYS or f"master_{key}" not in DEPARTMENT_KEYS else f"master_{key}"
        )
    return out


def _subdepartments(v: str) -> list[str]:
    # the API's keys (apollo.md 6.4: "Operations Executive" is operations_executive); there is no
    # master_ prefix among them
    return [_key(label) for label in _list(v)]


# Parsers name the expected type, never the cell: reasons go to the rejects file, and a cell in the
# wrong column (a shifted row) is often someone's email or phone number.


def _int(v: str) -> int:
    s = v.strip().replace(",", "")
    try:
        return int(float(s)) if "." in s else int(s)
    except ValueError:
        raise ValueError("expected an integer") from None


def _number(v: str) -> float:
    s = v.strip().replace(",", "").replace("$", "")
    try:
        n = float(s)
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(n):  # "inf", "nan", "1e400": no amount of money, and no stored number
        raise ValueError("expected a finite number")
    return n


def _confidence(v: str) -> float:
    s = v.strip()
    pct = s.endswith("%")
    n = _number(s.rstrip("%"))
    return n / 100 if pct or n > 1 else n


def _list(v: str) -> list[str]:
    return [p.strip() for p in v.split(",") if p.strip()]


def _catchall(v: str) -> bool:
    s = v.strip().lower()
    if s in ("catch-all", "catch all", "catchall", "true", "yes"):
        return True
    if s in ("not catch-all", "not catch all", "not catchall", "false", "no"):
        return False
    raise ValueError("expected a catch-all status")


def _date(v: str) -> str:
    s = v.strip()
    try:
        return datetime.fromisoformat(s).isoformat()
    except ValueError:
        pass
    for fmt in ("%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%b %d, %Y", "%B %d, %Y"):
        try:
            return datetime.strptime(s, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError("expected a date")


Target = tuple[str, str, Callable[[str], Any]]  # (object, key, parser); object "person" | "organization"

# Apollo export headers (apollo.md section 7) -> where the value goes in the person object.
COLUMNS: dict[str, Target] = {
    "First Name": ("person", "first_name", _text),
    "Last Name": ("person", "last_name", _text),
    "Title": ("person", "title", _text),
    "Company Name": ("organization", "name", _text),
    "Company": ("organization", "name", _text),
    "Email": ("person", "email", _text),
    "Email Status": ("person", "email_status", _email_status),
    "Email Confidence": ("person", "extrapolated_email_confidence", _confidence),
    "Primary Email Catch-all Status": ("person", "email_domain_catchall", _catchall),
    "Seniority": ("person", "seniority", _label),
    "Departments": ("person", "departments", _departments),
    "Sub Departments": ("person", "subdepartments", _subdepartments),
    "# Employees": ("organization", "estimated_num_employees", _int),
    "Industry": ("organization", "industry", _text),
    "Keywords": ("organization", "keywords", _list),
    "Person Linkedin Url": ("person", "linkedin_url", _text),
    "Website": ("organization", "website_url", _text),
    "Company Linkedin Url": ("organization", "linkedin_url", _text),
    "Facebook Url": ("organization", "facebook_url", _text),
    "Twitter Url": ("organization", "twitter_url", _text),
    "Address": ("person", "street_address", _text),
    "City": ("person", "city", _text),
    "State": ("person", "state", _text),
    "Country": ("person", "country", _text),
    "Company Address": ("organization", "raw_address", _text),
    "Company Street": ("organization", "street_address", _text),
    "Company City": ("organization", "city", _text),
    "Company State": ("organization", "state", _text),
    "Company Country": ("organization", "country", _text),
    "Company Postal Code": ("organization", "postal_code", _text),
    "Company Phone": ("organization", "phone", _text),
    "Technologies": ("organization", "technology_names", _list),
    "Annual Revenue": ("organization", "annual_revenue", _number),
    "Total Funding": ("organization", "total_funding", _number),
    "Latest Funding": ("organization", "latest_funding_stage", _text),
    "Last Raised At": ("organization", "latest_funding_round_date", _date),
    "Subsidiary of (Organization ID)": ("organization", "owned_by_organization_id", _text),
    "Parent company (Apollo data - Organization ID)": ("organization", "owned_by_organization_id", _text),
    "Number of Retail Locations": ("organization", "retail_location_count", _int),
    "SIC Codes": ("organization", "sic_codes", _list),
    "NAICS Codes": ("organization", "naics_codes", _list),
    "Founded Year": ("organization", "founded_year", _int),
    "Company Founded Year": ("organization", "founded_year", _int),
    "SEO Description": ("organization", "seo_description", _text),
    "Short Description": ("organization", "short_description", _text),
    "Logo Url": ("organization", "logo_url", _text),
    "Apollo Contact Id": ("person", "contact_id", _text),
    "Apollo Account Id": ("person", "account_id", _text),
}

# phone columns -> Apollo phone types (the person's phone_numbers list)
PHONE_COLUMNS: dict[str, str | None] = {
    "Mobile Phone": "mobile",
    "Work Direct Phone": "work_direct",
    "Other Phone": "other",
    "Home Phone": "home",
    "Corporate Phone": "work_hq",
    "First Phone": None,
}

_BY_KEY = {header_key(k): v for k, v in COLUMNS.items()}
_PHONES_BY_KEY = {header_key(k): v for k, v in PHONE_COLUMNS.items()}


class CsvMapper:
    """Maps the rows of one CSV file (given its header) to person objects."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.plan: list[tuple[int, str, Target | None, str | None, bool]] = []
        for i, name in enumerate(header):
            key = header_key(name)
            if key in _BY_KEY:
                self.plan.append((i, name, _BY_KEY[key], None, False))
            elif key in _PHONES_BY_KEY:
                self.plan.append((i, name, None, _PHONES_BY_KEY[key], True))
            else:
                self.plan.append((i, name, None, None, False))

    def has_identity_column(self) -> bool:
        return any(t is not None and t[1] in ("email", "linkedin_url") for _, _, t, _, _ in self.plan)

    def person(self, row: list[str]) -> dict[str, Any]:
        """The person object for one row; ValueError naming the column when a cell cannot be read."""
        if len(row) > len(self.header):
            raise ValueError(f"row has {len(row)} cells but the header has {len(self.header)}")
        person: dict[str, Any] = {}
        org: dict[str, Any] = {}
        phones: list[dict[str, Any]] = []
        for i, name, target, phone_type, is_phone in self.plan:
            if i >= len(row):
                break
            cell = row[i]
            if not cell.strip():
                continue
            if is_phone:
                phones.append(
                    {"raw_number": cell.strip().lstrip("'"), "type": phone_type, "position": len(phones)}
                )
            elif target is not None:
                obj, key, parse = target
                try:
                    value = parse(cell)
                except ValueError as e:
                    raise ValueError(f"column {name!r}: {e}") from None
                (person if obj == "person" else org)[key] = value
            else:
                person[name] = cell  # unknown column: kept as is (lands in leads.extra)
        if phones:
            person["phone_numbers"] = phones
        if org:
            person["organization"] = org
        return person
