"""Tests written while mutation-testing allocation: each pins a rule whose wrong version the suite
did not notice (the mutant it kills is named in its docstring)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.agencies import cancel_agency
from leadpool.allocation.allocate import allocate
from leadpool.allocation.rounds import proportional_split
from leadpool.db import Database, session_scope


def test_icp_ranges_include_both_bounds(db: Database) -> None:
    """The ICP's ``employee_count``, ``revenue`` and ``founded_year`` ranges are inclusive
    (icp.py docstring, docs/allocation.md): a company of exactly ``min`` or ``max`` employees
    matches, one just outside does not. Kills ``>=``/``<=`` turned into ``>``/``<`` in
    ``icp._in_range`` (both survived the suite: no test put a company on a bound)."""
    icp = {
        "industries": ["construction"],
        "employee_count": {"min": 50, "max": 200},
        "revenue": {"min": 1_000_000, "max": 9_000_000},
        "founded_year": {"min": 1990, "max": 2010},
    }
    inside = {"annual_revenue": 5_000_000, "founded_year": 2000, "estimated_num_employees": 100}
    with session_scope(db) as s:
        want: list[int] = []
        unwanted: list[int] = []
        for field, lo, hi in (
            ("estimated_num_employees", 50, 200),
            ("annual_revenue", 1_000_000, 9_000_000),
            ("founded_year", 1990, 2010),
        ):
            for value, ok in ((lo - 1, False), (lo, True), (hi, True), (hi + 1, False)):
                co = make_company(s, **(inside | {field: value}))
                (lead,) = make_leads(s, 1, company_id=co)
                (want if ok else unwanted).append(lead)
        camp = make_campaign(s, make_agency(s), icp=icp)
    with session_scope(db) as s:
        got = allocate(s, camp, 100, at=NOW).lead_ids
    assert sorted(got) == sorted(want)


def test_exclusions_do_not_rule_out_a_lead_without_the_excluded_field(db: Database) -> None:
    """``exclude`` rules a lead out only when it has the excluded value: a lead with no company
    (or a company with no domain) passes ``exclude.company_domains`` ("A lead without a company
    ... passes the company exclusions", icp.py), and a lead with no title passes
    ``exclude.title_terms``. In SQL, ``NULL NOT IN (...)`` is null, i.e. false: without the
    explicit ``IS NULL`` arm these leads would silently never be allocated. Kills dropping
    either ``is_(None)`` arm in ``compile_icp`` (both survived)."""
    icp = {
        "countries": ["united states"],
        "exclude": {"company_domains": ["rival.com"], "title_terms": ["intern"]},
    }
    with session_scope(db) as s:
        rival = make_company(s, domain="rival.com")
        no_domain = make_company(s, domain=None, apollo_id="org-without-domain")
        make_leads(s, 1, company_id=rival)
        make_leads(s, 1, title="Marketing Intern")
        kept = [
            *make_leads(s, 1, company_id=None),
            *make_leads(s, 1, company_id=no_domain),
            *make_leads(s, 1, title=None),
        ]
        camp = make_campaign(s, make_agency(s), icp=icp)
    with session_scope(db) as s:
        got = allocate(s, camp, 100, at=NOW).lead_ids
    assert sorted(got) == sorted(kept)


def test_split_remainder_ties_go_to_the_bigger_ask() -> None:
    """Fair rounds: with equal remainders the extra lead goes to the bigger ask, then the older
    campaign (rounds.py policy 3, docs/allocation.md). Two leads for asks of 1 and 3 are 0.5 and
    1.5: the tie is the bigger ask's. Kills the tie-break turned to the smaller ask (survived)."""
    assert proportional_split(2, {1: 1, 2: 3}) == {1: 0, 2: 2}
    assert proportional_split(2, {7: 3, 9: 1}) == {7: 2, 9: 0}
    # equal asks: the older (smaller id) campaign
    assert proportional_split(1, {4: 2, 3: 2}) == {3: 1, 4: 0}


@pytest.mark.parametrize("which", ["lead", "ownership"])
def test_release_keeps_a_lead_converted_by_either_flag(db: Database, which: str) -> None:
    """Release keeps converted leads with the agency, and "a lead counts as converted when its
    ownership OR the lead itself has converted_at" (release.py). The existing test set both
    flags at once, so a release that checked only one of them survived. A converted person
    handed back to the pool (after quarantine) would be sold to a rival agency."""
    with session_scope(db) as s:
        co = make_company(s)
        leads = make_leads(s, 2, company_id=co)
        agency = make_agency(s)
        camp = make_campaign(s, agency)
    with session_scope(db) as s:
        assert sorted(allocate(s, camp, 10, at=NOW).lead_ids) == sorted(leads)
        table, col = ("leads", "id") if which == "lead" else ("ownerships", "lead_id")
        s.execute(text(f"UPDATE {table} SET converted_at = :at WHERE {col} = :l"), {"at": NOW, "l": leads[0]})
    with session_scope(db) as s:
        res = cancel_agency(s, agency, at=NOW + timedelta(days=1))
    assert res.released_lead_ids == [leads[1]] and res.kept_converted == 1
    with session_scope(db) as s:
        owners = s.execute(text("SELECT lead_id, agency_id FROM ownerships")).tuples().all()
    assert owners == [(leads[0], agency)]


@pytest.mark.parametrize("how", ["allocate", "round"])
def test_company_exclusivity_still_allocates_leads_without_a_company(
    db: Database, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Under company exclusivity a lead with no company has no company to claim; it is
    allocated like in person mode, by ``allocate`` and by a round alike. No company-mode test
    had such a lead (CSV rows without a website, Apollo people without an organization).
    (It does not kill dropping ``cid is None`` from ``claim_companies``' kept list: the next
    pass re-reads the dropped leads, alone, and keeps them; that mutant is masked, not tested.)"""
    monkeypatch.setenv("LEADPOOL_EXCLUSIVITY", "company")
    from leadpool.allocation.rounds import allocate_round

    with session_scope(db) as s:
        co = make_company(s)
        with_company = make_leads(s, 1, company_id=co)
        without = make_leads(s, 2, company_id=None)
        camp = make_campaign(s, make_agency(s), icp={"countries": ["united states"]})
    with session_scope(db) as s:
        if how == "allocate":
            got = allocate(s, camp, 10, at=NOW).lead_ids
        else:
            got = [lid for c in allocate_round(s, at=NOW).campaigns for lid in c.lead_ids]
    assert sorted(got) == sorted(with_company + without)


def test_a_campaign_never_gets_its_own_former_lead_again(db: Database) -> None:
    """The agency's own free leads are re-used for a campaign only if they "never were in this
    campaign" (``pool.owned_candidates``): a person whose sequence in campaign C finished is not
    put through C's sequence a second time once the rest period is over (a second run of the
    same emails), though another campaign of the agency may take them. Dropping that condition
    survived the suite."""
    with session_scope(db) as s:
        (lead,) = make_leads(s, 1, company_id=make_company(s))
        agency = make_agency(s)
        first = make_campaign(s, agency)
        second = make_campaign(s, agency)
    from leadpool.allocation.campaigns import end_enrollment

    with session_scope(db) as s:
        assert allocate(s, first, 1, at=NOW).lead_ids == [lead]
        assert end_enrollment(s, first, lead, at=NOW + timedelta(days=1)).ended
    after_rest = NOW + timedelta(days=200)
    with session_scope(db) as s:
        again = allocate(s, first, 5, at=after_rest, refill_shortfall=False)
    assert again.lead_ids == [] and again.reused == 0
    with session_scope(db) as s:
        other = allocate(s, second, 5, at=after_rest, refill_shortfall=False)
    assert other.lead_ids == [lead] and other.reused == 1


def test_the_daily_quota_counts_from_midnight_utc(db: Database) -> None:
    """A campaign's daily quota is per UTC day (allocate.py): a lead enrolled at 00:30 UTC
    counts against that day. Moving the day's start (here: an hour late) survived the suite,
    which only enrolled at 09:00; a late start lets a campaign take more than its quota a day."""
    from datetime import UTC, datetime

    early = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)
    with session_scope(db) as s:
        make_leads(s, 5, company_id=make_company(s))
        camp = make_campaign(s, make_agency(s), daily_quota=2)
    with session_scope(db) as s:
        assert len(allocate(s, camp, 1, at=early).lead_ids) == 1
    with session_scope(db) as s:
        later = allocate(s, camp, 5, at=early.replace(hour=12), refill_shortfall=False)
    assert later.granted == 1 and len(later.lead_ids) == 1
    with session_scope(db) as s:
        next_day = allocate(s, camp, 5, at=early + timedelta(days=1), refill_shortfall=False)
    assert next_day.granted == 2


def test_a_round_in_company_mode_claims_the_companies_it_allocates_from(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under company exclusivity, a fair round claims (``company_owners``) the company of every
    lead it gives an agency, as ``allocate`` does. The claim is what serialises concurrent
    allocators (its advisory lock and primary key) and what release hands back. A round that
    skipped ``claim_companies`` survived the suite: the colleague rule in ``pool_candidates``
    hid it in single-threaded tests."""
    monkeypatch.setenv("LEADPOOL_EXCLUSIVITY", "company")
    from leadpool.allocation.rounds import allocate_round

    with session_scope(db) as s:
        companies = [make_company(s) for _ in range(3)]
        for co in companies:
            make_leads(s, 2, company_id=co)
        agencies = [make_agency(s) for _ in range(2)]
        for a in agencies:
            make_campaign(s, a, daily_quota=3)
    with session_scope(db) as s:
        res = allocate_round(s, at=NOW)
        assert sum(len(c.lead_ids) for c in res.campaigns) == 5  # whole companies of two: 3 + 2
        held = s.execute(
            text(
                "SELECT DISTINCT l.company_id, o.agency_id FROM ownerships o JOIN leads l ON l.id = o.lead_id "
                "ORDER BY 1"
            )
        ).all()
        claims = s.execute(text("SELECT company_id, agency_id FROM company_owners ORDER BY 1")).all()
    assert len(held) == 3 and [tuple(r) for r in claims] == [tuple(r) for r in held]
