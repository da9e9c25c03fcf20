"""A record in another country brings its own zone, or none, whatever the stored zone's rank; a
record in the same country, or in a country spelled a way nobody knows, keeps the rank rule. In
one import batch (LeadResolver.merge) as across batches (the upsert)."""

from __future__ import annotations

import pytest
from tests.ingestion.factories import KIM, zone_of

from leadpool.db import Database
from leadpool.ingestion import import_people


def _import(db: Database, locations: list[dict[str, str | None]], *, one_batch: bool) -> int:
    records = [dict(KIM, **loc) for loc in locations]
    if one_batch:
        return import_people(db, records, endpoint="people/match").lead_ids[0]
    ids = {import_people(db, [r], endpoint="people/match").lead_ids[0] for r in records}
    (lead_id,) = ids
    return lead_id


@pytest.mark.parametrize("one_batch", [False, True])
@pytest.mark.parametrize(
    ("first", "then", "zone"),
    [
        # a finer zone of the old country gives way to the new country's coarser one...
        (
            {"city": "Munich", "country": "Germany"},
            {"country": "Argentina"},
            ("America/Argentina/Buenos_Aires", "country"),
        ),
        # ...or to none, when the new country has several clocks and nothing narrower is known
        ({"country": "Argentina"}, {"country": "United States"}, (None, None)),
        ({"city": "Munich", "country": "Germany"}, {"country": "usa"}, (None, None)),
        # the same country, spelled otherwise: the rank rule (a coarser zone never replaces)
        ({"city": "Denver", "country": "United States"}, {"country": "USA"}, ("America/Denver", "city")),
        ({"city": "Munich", "country": "Germany"}, {"country": " DEU "}, ("Europe/Berlin", "city")),
        # a spelling nobody knows says nothing of a move
        ({"city": "Munich", "country": "Germany"}, {"country": "Deutschland"}, ("Europe/Berlin", "city")),
        # no country stored, or none in the record: no move (Apollo's own zone stays)
        ({"time_zone": "America/Chicago"}, {"country": "United States"}, ("America/Chicago", "apollo")),
        ({"city": "Munich", "country": "Germany"}, {"country": None}, ("Europe/Berlin", "city")),
    ],
)
def test_a_record_in_another_country_brings_its_own_zone(
    db: Database,
    first: dict[str, str | None],
    then: dict[str, str | None],
    zone: tuple[str | None, str | None],
    one_batch: bool,
) -> None:
    assert zone_of(db, _import(db, [first, then], one_batch=one_batch)) == zone
