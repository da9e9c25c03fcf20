"""Review of 55a55f3 (time zones: a location on several clocks is a guess): where a guess ranks.

``SOURCE_RANK`` puts ``guess`` (4) below ``country`` (3), and both the importer's upsert
(``importer._lead_expr``) and the in-batch merge (``resolve.LeadResolver.merge``) keep the stored
zone whenever the new one's source ranks coarser. Before this commit a split state resolved as
``state`` (2) and a city name without its state as ``city`` (1), both finer than ``country``, so a
lead whose record moved from a single-zone country to such a US location took the new zone. Now the
zone of the *old country* stays, still labelled ``country``: the gate reads it as a known zone and
lets sms and calls through by a clock an ocean away, the very thing the commit set out to stop
(a guess is at least denied ``unknown_timezone`` for sms/phone; a stale country zone is not).
"""

from __future__ import annotations

from tests.ingestion.factories import KIM, zone_of

from leadpool.db import Database
from leadpool.ingestion import import_people


def test_a_move_from_a_single_zone_country_to_a_split_us_state_drops_the_old_country_zone(
    db: Database,
) -> None:
    """Kim's record said Germany (zone Europe/Berlin, source ``country``); a refresh says Texas.
    Before 55a55f3 the lead became America/Chicago (``state``); now Europe/Berlin stays, as a
    ``country`` zone the gate trusts for sms at Berlin hours to a Texan. Expected: the Texas zone
    (as a guess), or at least no zone of a country the person is no longer in."""
    lead_id = import_people(db, [dict(KIM, country="Germany")], endpoint="people/match").lead_ids[0]
    assert zone_of(db, lead_id) == ("Europe/Berlin", "country")
    refreshed = dict(KIM, city=None, state="Texas", country="United States")
    assert import_people(db, [refreshed], endpoint="people/match").lead_ids == [lead_id]
    zone, source = zone_of(db, lead_id)
    assert zone != "Europe/Berlin", (zone, source)


def test_a_move_to_a_city_name_on_several_clocks_drops_the_old_country_zone(db: Database) -> None:
    """The same with a city name that exists on several US clocks (Portland, no state): before
    55a55f3 the lead took America/Los_Angeles (``city``); now it keeps Europe/Berlin."""
    lead_id = import_people(db, [dict(KIM, country="Germany")], endpoint="people/match").lead_ids[0]
    refreshed = dict(KIM, city="Portland", country="United States")
    assert import_people(db, [refreshed], endpoint="people/match").lead_ids == [lead_id]
    zone, source = zone_of(db, lead_id)
    assert zone != "Europe/Berlin", (zone, source)


def test_the_same_move_within_one_import_batch_drops_the_old_country_zone(db: Database) -> None:
    """Two records of the person in one batch (the in-memory merge, ``LeadResolver.merge``): the
    later Texas record loses to the earlier Germany one for the same reason."""
    records = [dict(KIM, country="Germany"), dict(KIM, state="Texas", country="United States")]
    lead_id = import_people(db, records, endpoint="people/match").lead_ids[0]
    zone, source = zone_of(db, lead_id)
    assert zone != "Europe/Berlin", (zone, source)
