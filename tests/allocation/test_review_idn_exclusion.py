"""Review of the IDN company domains: migration 0032 leaves a company in its ``xn--`` form when
its Unicode form is another company's domain (two spellings of one company, imported before the
upgrade). A campaign excluding that company by the ``xn--`` name (as Apollo spells it) excluded
it before the upgrade; the exclusion, now converted to the Unicode form, must still exclude it."""

from __future__ import annotations

from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from leadpool.allocation.allocate import allocate
from leadpool.db import Database, session_scope

ACE = "xn--mller-kva.example"  # müller.example as Apollo sends it
UNICODE = "müller.example"


def test_an_exclusion_by_either_spelling_excludes_a_company_left_in_its_xn_form(db: Database) -> None:
    with session_scope(db) as s:
        left = make_company(s, domain=ACE)  # what 0032 leaves: its Unicode form is taken
        taken = make_company(s, domain=UNICODE)
        other = make_company(s)
        left_leads = make_leads(s, 1, company_id=left)
        taken_leads = make_leads(s, 1, company_id=taken)
        other_leads = make_leads(s, 1, company_id=other)
        agency = make_agency(s)
        by_ace = make_campaign(
            s, agency, icp={"industries": ["construction"], "exclude": {"company_domains": [ACE]}}
        )
        by_unicode = make_campaign(
            s, agency, icp={"industries": ["construction"], "exclude": {"company_domains": [UNICODE]}}
        )
    with session_scope(db) as s:
        got = allocate(s, by_ace, 10, at=NOW).lead_ids
    # one company under two spellings: neither row's people go to a campaign that excluded it
    assert sorted(got) == sorted(other_leads), (got, left_leads, taken_leads)
    with session_scope(db) as s:
        assert allocate(s, by_unicode, 10, at=NOW).lead_ids == []  # the rest went to by_ace
