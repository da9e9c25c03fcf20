"""Identity resolution for one import batch, in memory: which records are one person (or company),
which existing row each is, and how a batch's records of one row merge into the row it stages.

Lookups answer what a fresh database lookup would: a key a record moves a row away from (an email,
a LinkedIn URL, a company domain) no longer finds that row, so someone else holding it is not
merged into it, whatever the batch size. The database holds the old value until the batch
writes, so ``Resolver.released`` names the rows whose old value another row of the batch takes:
the importer clears those first.

Merging a row's records: a value replaces an older one and a null never does, except that
  * ``extra`` objects merge key by key (as ``||`` does across batches);
  * (leads) the email's status fields (``email_status``, ``extrapolated_email_confidence``,
    ``email_domain_catchall``) describe one address: when a record changes the email they are
    taken from it as they are, nulls included, and a record whose email stays with another lead
    brings none of them;
  * (leads) a time zone never gives way to one from a coarser source (``timezone.SOURCE_RANK``),
    except to a record in another (known) country: its own zone or none is taken.
Phone numbers merge by number (``phones.PhoneBook``, driven by the importer).
"""

from __future__ import annotations

from typing import Any

import orjson

from leadpool.ingestion.records import LEAD_COLUMNS
from leadpool.ingestion.timezone import SOURCE_RANK, country_code


class Entity:
    """One lead (or company) the batch writes: an existing row or a new one."""

    __slots__ = ("db_keys", "id", "keys", "new", "records", "src", "values")

    def __init__(self, nkeys: int, ncols: int, id_: int | None, db_keys: tuple[Any, ...] | None) -> None:
        self.id = id_
        self.new = id_ is None
        self.db_keys = db_keys or (None,) * nkeys
        self.keys: list[Any] = list(self.db_keys)
        self.values: list[Any] = [None] * ncols
        self.records: int = 0
        self.src: Any = None  # the one mapped row every record brought, if they all brought the same


def merge_objects(old: str, new: str) -> str:
    """Two JSON objects (as text) merged key by key, the newer winning."""
    return orjson.dumps({**orjson.loads(old), **orjson.loads(new)}).decode()


class Resolver:
    """Maps identity values to entities; the first kind is kept once known, the others follow the newest."""

    def __init__(self, kinds: tuple[str, ...], columns: tuple[str, ...]) -> None:
        self.kinds = kinds
        self.ncols = len(columns)
        self._extra = columns.index("extra") if "extra" in columns else None
        self.index: list[dict[Any, Entity]] = [{} for _ in kinds]
        self.entities: list[Entity] = []

    def load(self, id_: int, keys: tuple[Any, ...]) -> Entity:
        entity = Entity(len(self.kinds), self.ncols, id_, keys)
        for i, v in enumerate(keys):
            if v is not None:
                self.index[i][v] = entity
        self.entities.append(entity)
        return entity

    def find(self, keys: tuple[Any, ...]) -> Entity | None:
        for i, v in enumerate(keys):
            if v is not None:
                e = self.index[i].get(v)
                if e is not None:
                    return e
        return None

    def resolve(self, keys: tuple[Any, ...], values: list[Any]) -> tuple[Entity, list[tuple[str, Entity]]]:
        """The entity for a record (created if new) with the record merged in, and its conflicts."""
        target = self.find(keys)
        if target is None:
            target = Entity(len(self.kinds), self.ncols, None, None)
            self.entities.append(target)
        conflicts: list[tuple[str, Entity]] = []
        changed = [False] * len(keys)
        for i, v in enumerate(keys):
            if v is None:
                continue
            owner = self.index[i].get(v)
            if owner is not None and owner is not target:
                conflicts.append((self.kinds[i], owner))
                continue
            current = target.keys[i]
            if current is None or (i > 0 and current != v):
                if current is not None and self.index[i].get(current) is target:
                    del self.index[i][current]  # let go: nobody holds it now
                target.keys[i] = v
                self.index[i][v] = target
                changed[i] = True
        target.src = values if target.records == 0 or target.src is values else None
        self.merge(target, keys, values, changed)
        target.records += 1
        return target, conflicts

    def merge(self, target: Entity, keys: tuple[Any, ...], values: list[Any], changed: list[bool]) -> None:
        merged = target.values
        extra = self._extra
        for j, v in enumerate(values):
            if v is not None:
                if j == extra and merged[j] is not None and merged[j] is not v:
                    v = merge_objects(merged[j], v)
                merged[j] = v

    def released(self) -> list[tuple[str, list[int]]]:
        """(key kind, ids) of stored rows whose stored value of that key another row of the batch
        now holds: the unique index would refuse that row while the old holder still has it."""
        staged = [e for e in self.entities if e.records]
        out: list[tuple[str, list[int]]] = []
        for i in range(1, len(self.kinds)):
            held = {e.keys[i] for e in staged if e.keys[i] is not None}
            ids = [
                e.id
                for e in staged
                if e.id is not None
                and not e.new
                and e.db_keys[i] is not None
                and e.db_keys[i] != e.keys[i]
                and e.db_keys[i] in held
            ]
            if ids:
                out.append((self.kinds[i], ids))
        return out


LEAD_KEYS = ("apollo_id", "email", "linkedin_url")  # strongest first
_EMAIL = LEAD_KEYS.index("email")
_STATUS = tuple(
    LEAD_COLUMNS.index(c) for c in ("email_status", "extrapolated_email_confidence", "email_domain_catchall")
)
_TZ, _TZ_SOURCE = LEAD_COLUMNS.index("time_zone"), LEAD_COLUMNS.index("time_zone_source")
_COUNTRY = LEAD_COLUMNS.index("country")
_COARSEST = len(SOURCE_RANK)


class LeadResolver(Resolver):
    """Leads: the email's status fields follow the email, and time zones only get finer."""

    def __init__(self) -> None:
        super().__init__(LEAD_KEYS, LEAD_COLUMNS)

    def merge(self, target: Entity, keys: tuple[Any, ...], values: list[Any], changed: list[bool]) -> None:
        merged = target.values
        status = [merged[j] for j in _STATUS]
        zone = (merged[_TZ], merged[_TZ_SOURCE])
        country = merged[_COUNTRY]
        super().merge(target, keys, values, changed)
        email = keys[_EMAIL]
        if email is not None and target.keys[_EMAIL] != email:
            # the record's address stays with another lead: its status is that address's, not ours
            for j, v in zip(_STATUS, status, strict=True):
                merged[j] = v
        elif changed[_EMAIL]:
            # a new address: what Apollo said about the old one (verified...) is not about this one
            for j in _STATUS:
                merged[j] = values[j]
        new, old = country_code(values[_COUNTRY]), country_code(country)
        moved = new is not None and old is not None and new != old
        if moved:
            # another country: the record's own zone, or none (the old one is not where they are)
            merged[_TZ], merged[_TZ_SOURCE] = values[_TZ], values[_TZ_SOURCE]
        elif SOURCE_RANK.get(merged[_TZ_SOURCE], _COARSEST) > SOURCE_RANK.get(zone[1], _COARSEST):
            merged[_TZ], merged[_TZ_SOURCE] = zone
