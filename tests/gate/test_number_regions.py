"""Where a lead's own country is unknown, its phone number's country stands in: for the consent
rule and for the clocks of a lead without a zone, on every path of the gate and in allocation. A
country the lead names always wins; toll-free numbers place nobody."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, GateWorker, check, check_many, fast
from leadpool.gate.places import number_region_rows
from leadpool.privacy.consent import grant_consent

T0 = MONDAY_OPEN  # 15:00 UTC: 16:00 in Berlin, 10:00 in Toronto, midnight in Tokyo
BERLIN = "+4930901820"
TORONTO = "+14165550100"
TOLL_FREE = "+18005550100"
TOKYO = "+81312345678"


@pytest.fixture(autouse=True)
def _defaults(fresh_policy: None) -> None:
    """The platform policy's defaults: email needs consent in DE and CA, texts in CA."""


def _check(db: Database, lead: int, campaign: int, channel: str = "email") -> Any:
    with session_scope(db) as s:
        return check(s, lead_id=lead, campaign_id=campaign, channel=channel, at=T0, reserve=False)


def test_the_rows_place_numbers_as_libphonenumber_does() -> None:
    rows = {r["prefix"]: r["code"] for r in number_region_rows()}
    assert rows["49"] == "DE" and rows["1416"] == "CA" and rows["1212"] == "US" and rows["1876"] == "JM"
    assert (
        rows["7"] == "RU" and rows["77"] == "KZ"
    )  # a shared calling code: its main country, and the others'
    assert "1800" not in rows and "1" not in rows  # toll-free, and +1 alone, place nobody


def test_a_lead_without_a_country_needs_consent_where_its_number_is(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        berlin = w.lead(company_id=None, country=None, phone=BERLIN, time_zone="Europe/Berlin")
        unreadable = w.lead(company_id=None, country="Atlantis", phone=BERLIN, time_zone="Europe/Berlin")
        toronto = w.lead(company_id=None, country=None, phone=TORONTO, time_zone="America/Toronto")
        moved = w.lead(company_id=None, country="United States", phone=BERLIN, time_zone="America/New_York")
        toll_free = w.lead(company_id=None, country=None, phone=TOLL_FREE, time_zone="America/New_York")
        no_number = w.lead(company_id=None, country=None, phone=None, time_zone="America/New_York")
    assert _check(db, primer, w.campaign_id).allowed  # and this process learns the policy

    for lead in (berlin, unreadable):
        d = _check(db, lead, w.campaign_id)
        assert d.codes == ["no_consent"], lead
        assert "DE (its phone number's country; its own is unknown)" in d.reasons[0].message
    assert _check(db, toronto, w.campaign_id).codes == ["no_consent"]
    assert _check(db, toronto, w.campaign_id, "sms").codes == ["no_consent"]  # texts in Canada too
    assert _check(db, berlin, w.campaign_id, "linkedin").allowed
    for lead in (moved, toll_free, no_number):  # the lead's own country wins; no place; no number
        assert _check(db, lead, w.campaign_id).allowed, lead

    # the fast path sends it to the full check; a sending worker and a batch deny it
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        args: dict[str, Any] = {"campaign_id": w.campaign_id, "channel": "email", "sender": None, "at": T0}
        assert fast.try_allow(dbapi, lead_id=berlin, idempotency_key=None, **args) is None
        assert fast.try_allow(dbapi, lead_id=moved, idempotency_key=None, **args) is not None
    with GateWorker(db) as gate:
        assert gate.check(lead_id=unreadable, campaign_id=w.campaign_id, channel="email", at=T0).codes == [
            "no_consent"
        ]
    with session_scope(db) as s:
        reqs = [
            CheckRequest(lead, w.campaign_id, "email", None, T0, True, None) for lead in (toronto, toll_free)
        ]
        assert [d.codes for d in check_many(s, reqs)] == [["no_consent"], []]

    # with the agency's consent, the fast path allows it
    with session_scope(db) as s:
        grant_consent(
            s,
            lead_id=berlin,
            agency_id=w.agency_id,
            basis="express",
            source="form",
            actor="ops:kim",
            granted_at=T0 - timedelta(days=1),
        )
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        assert fast.try_allow(dbapi, lead_id=berlin, idempotency_key=None, **args) is not None


def test_a_lead_without_a_zone_or_a_country_is_emailed_in_its_numbers_countrys_hours(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        tokyo = w.lead(company_id=None, country=None, time_zone=None, phone=TOKYO)
        nowhere = w.lead(company_id=None, country=None, time_zone=None, phone=None)
    assert _check(db, primer, w.campaign_id).allowed
    d = _check(db, tokyo, w.campaign_id)  # midnight in Tokyo
    assert d.codes == ["quiet_hours"] and "JP" in d.reasons[0].message
    assert _check(db, nowhere, w.campaign_id).allowed  # no place known: UTC's hours, as before
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        args: dict[str, Any] = {"campaign_id": w.campaign_id, "channel": "email", "sender": None}
        assert fast.try_allow(dbapi, lead_id=tokyo, at=T0, idempotency_key=None, **args) is None
    # 09:00 in Tokyo the next day (Tuesday)
    assert _check_at(db, tokyo, w.campaign_id, T0 + timedelta(hours=9)).allowed


def _check_at(db: Database, lead: int, campaign: int, at: Any) -> Any:
    with session_scope(db) as s:
        return check(s, lead_id=lead, campaign_id=campaign, channel="email", at=at, reserve=False)


def test_allocation_hands_an_email_campaign_no_lead_whose_number_wants_consent(db: Database) -> None:
    from leadpool.allocation.allocate import allocate

    with session_scope(db) as s:
        agency = f.agency(s)
        email_only = f.campaign(s, agency, channels=("email",))
        berlin = f.lead(s, country=None, phone=BERLIN, time_zone="Europe/Berlin")
        consented = f.lead(s, country=None, phone=BERLIN, time_zone="Europe/Berlin")
        moved = f.lead(s, country="United States", phone=BERLIN)
        no_number = f.lead(s, country=None, phone=None)
        grant_consent(s, lead_id=consented, agency_id=agency, basis="express", source="form", actor="ops:kim")
    with session_scope(db) as s:
        got = allocate(s, email_only, 10, refill_shortfall=False).lead_ids
    assert berlin not in got and sorted(got) == sorted([consented, moved, no_number])
