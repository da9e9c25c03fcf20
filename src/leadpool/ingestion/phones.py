"""A person's phone numbers: which one reaches them best, and one list across all their records.

Apollo types each number (apollo.md 4.4). Best first for reaching the person (sms/phone channels):
a mobile reaches the person, a direct line nearly so, "other" and "home" are personal but
unclassified, HQ is the company switchboard, an untyped number comes last. A number with an
extension ranks as the switchboard: E.164 has no extension, so the number kept (and dialled) is
the company's line, which neither identifies the person nor is theirs alone.

A lead's numbers are merged across records, because a later partial record (a search row listing
only the switchboard) must not take away the mobile a paid match revealed: one entry per number,
the newest record's entry for a number replacing the older one, and the lead's ``phone`` moves only
to a number of the same or a better rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from leadpool.ingestion.normalize import NotNormalisable, parse_phone

PHONE_TYPE_RANK = {"mobile": 0, "work_direct": 1, "other": 2, "home": 3, "work_hq": 4}
SWITCHBOARD = PHONE_TYPE_RANK["work_hq"]
UNTYPED = 5


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """One item of ``phone_numbers`` as Apollo gave it (``entry``), parsed and ranked."""

    key: str  # E.164 (with ";ext=" when there was one), or the text itself when it does not parse
    e164: str | None
    rank: int
    position: int
    entry: dict[str, Any]

    @property
    def personal(self) -> bool:
        """A number typed as the person's own (not the company's line, not untyped)."""
        return self.e164 is not None and self.rank < SWITCHBOARD


def phone_numbers_of(items: list[Any] | None, region: str | None) -> list[PhoneNumber]:
    """The numbers of a ``phone_numbers`` list; ``region`` (ISO alpha-2) reads national formats.

    Raises AttributeError for an item that is not an object (the record is then rejected).
    """
    out: list[PhoneNumber] = []
    for i, item in enumerate(items or ()):
        raw = item.get("sanitized_number") or item.get("raw_number") or item.get("number")
        kind = item.get("type") or item.get("type_cd")
        rank = PHONE_TYPE_RANK.get(kind, UNTYPED) if isinstance(kind, str) else UNTYPED
        position = item.get("position")
        pos = position if type(position) is int else i
        parsed = None
        if isinstance(raw, str):
            try:
                parsed = parse_phone(raw, region)
            except NotNormalisable:
                parsed = None
        if parsed is None:
            key = raw.strip() if isinstance(raw, str) else orjson.dumps(item).decode()
            out.append(PhoneNumber(key, None, rank, pos, item))
            continue
        e164, extension = parsed
        if extension:
            # the extension is lost in E.164: what remains is the switchboard
            out.append(PhoneNumber(f"{e164};ext={extension}", e164, SWITCHBOARD, pos, item))
        else:
            out.append(PhoneNumber(e164, e164, rank, pos, item))
    return out


def best_number(numbers: list[PhoneNumber]) -> PhoneNumber | None:
    """The number that reaches the person best; within a type Apollo's ``position`` decides."""
    usable = [n for n in numbers if n.e164 is not None]
    return min(usable, key=lambda n: (n.rank, n.position, n.e164)) if usable else None


def best_phone(phone_numbers: list[dict[str, Any]] | None, region: str | None) -> str | None:
    """The best number of a ``phone_numbers`` list in E.164 (numbers that do not parse are skipped)."""
    found = best_number(phone_numbers_of(phone_numbers, region))
    return found.e164 if found else None


class PhoneBook:
    """One lead's numbers while a batch merges its records into it: the stored ones, then each record's."""

    __slots__ = ("changed", "entries", "phone", "rank")

    def __init__(self, phone: str | None, stored: list[Any] | None, region: str | None) -> None:
        numbers = phone_numbers_of([i for i in stored or () if isinstance(i, dict)], region)
        self.entries: dict[str, PhoneNumber] = {n.key: n for n in numbers}
        self.phone = phone
        ranks = [n.rank for n in numbers if n.e164 == phone]
        self.rank: int | None = None if phone is None else min(ranks, default=UNTYPED)
        self.changed = False

    @property
    def shared(self) -> bool:
        """The lead's phone is a company's switchboard: a colleague's opt-out there is not theirs."""
        return self.rank == SWITCHBOARD

    def add(self, numbers: list[PhoneNumber], best: PhoneNumber | None) -> None:
        for n in numbers:
            old = self.entries.get(n.key)
            if old is None or old.entry != n.entry:
                self.entries[n.key] = n
                self.changed = True
        better = best is not None and (self.rank is None or best.rank <= self.rank)
        if best is not None and better and (best.e164, best.rank) != (self.phone, self.rank):
            self.phone, self.rank = best.e164, best.rank
            self.changed = True

    def numbers_json(self) -> str | None:
        return orjson.dumps([n.entry for n in self.entries.values()]).decode() if self.entries else None
