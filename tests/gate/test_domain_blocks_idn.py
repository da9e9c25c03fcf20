"""A block of an international domain covers the company imported under it, whichever spelling
the import (Apollo's ``xn--`` name, a CSV's Unicode one) and the block use: company domains are
stored in the Unicode form email domains and blocks are stored in."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN
from tests.ingestion.factories import person
from tests.ingestion.test_import_files import APOLLO_HEADER

from leadpool.allocation.allocate import allocate
from leadpool.db import Database, session_scope
from leadpool.gate import check, fast
from leadpool.ingestion import import_files, import_people
from leadpool.models import Company, DomainBlock, Lead
from leadpool.privacy.domains import block_domain

T0 = MONDAY_OPEN
ACE = "xn--mnchen-firma-dlb.de"  # münchen-firma.de
UNICODE = "münchen-firma.de"
# the lead's own address is elsewhere (a personal one): only its company's domain is at the block
ORG = {"id": "o-idn-1", "name": "München Firma", "primary_domain": ACE}


def _import_apollo(db: Database, tmp_path: Path) -> None:
    people = [
        person(1, email="jo@gmail.com", organization=ORG),
        person(3, email="ann@web.example", organization=ORG),
        person(2, email="kim@fine.example"),
    ]
    assert import_people(db, people, endpoint="people/search").rejected == []


def _import_csv(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    rows = [
        {"Email": "jo@gmail.com", "Website": f"http://www.{ACE}/"},
        {"Email": "ann@web.example", "Website": ACE},
        {"Email": "kim@fine.example", "Website": "fine.example"},
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(APOLLO_HEADER)
        for r in rows:
            local = r["Email"].partition("@")[0]
            cells = {"Email Status": "Verified", "Person Linkedin Url": f"linkedin.com/in/{local}-idn", **r}
            w.writerow([cells.get(h, "") for h in APOLLO_HEADER])
    result = import_files(db, [path], rejects_path=tmp_path / "rejects.jsonl")
    assert result.inserted == 3, result.rejected


def _lead(db: Database, email: str) -> int:
    with session_scope(db) as s:
        lead = s.scalar(select(Lead).where(Lead.email == email))
        assert lead is not None
        return lead.id


def _codes(db: Database, lead: int, campaign: int) -> list[str]:
    with session_scope(db) as s:
        return check(s, lead_id=lead, campaign_id=campaign, channel="linkedin", at=T0, reserve=False).codes


def _fast(db: Database, lead: int, campaign: int) -> object:
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        return fast.try_allow(
            dbapi,
            lead_id=lead,
            campaign_id=campaign,
            channel="linkedin",
            sender=None,
            at=T0,
            idempotency_key=None,
        )


@pytest.mark.parametrize("importer", [_import_apollo, _import_csv], ids=["apollo", "csv"])
@pytest.mark.parametrize(
    "blocked_as", [UNICODE, ACE, f"https://www.{ACE.upper()}/kontakt"], ids=["unicode", "xn", "url"]
)
def test_a_block_of_either_spelling_covers_a_company_imported_as_xn(
    db: Database, tmp_path: Path, importer: Callable[[Database, Path], None], blocked_as: str
) -> None:
    importer(db, tmp_path)
    jo, ann, kim = (_lead(db, e) for e in ("jo@gmail.com", "ann@web.example", "kim@fine.example"))
    with session_scope(db) as s:
        company = select(Company.domain).join(Lead, Lead.company_id == Company.id)
        assert s.scalars(company.where(Lead.id.in_([jo, ann]))).all() == [UNICODE, UNICODE]
        agency = f.agency(s)
        campaign = f.campaign(s, agency, channels=("email", "linkedin"))
        enrolled = f.campaign(s, agency, channels=("email", "linkedin"))
        primer = f.lead(s)
        for lead in (jo, primer):
            f.set_lead(s, lead, time_zone="America/New_York")
            f.own(s, lead, agency)
            f.enroll(s, lead, enrolled, agency)
    assert _codes(db, jo, enrolled) == []
    with session_scope(db) as s:  # this process learns the campaign's policy (the fast path's cache)
        assert check(s, lead_id=primer, campaign_id=enrolled, channel="linkedin", at=T0).allowed

    with session_scope(db) as s:
        done = block_domain(s, blocked_as, reason="our client", actor="ops:kim", agency_id=agency)
    assert done.domain == UNICODE and done.enrollments_ended == 1  # jo's, by its company's domain
    with session_scope(db) as s:
        assert s.scalars(select(DomainBlock.domain)).all() == [UNICODE]
        f.enroll(s, jo, enrolled, agency)  # enrolled again after the block ended it
        f.set_lead(s, jo, rest_until=None)  # and its rest over
    assert _codes(db, jo, enrolled) == ["domain_blocked"]
    assert _fast(db, jo, enrolled) is None  # the fast path leaves it to the full check, which denies it
    with session_scope(db) as s:
        got = allocate(s, campaign, 10, refill_shortfall=False, at=T0)
    assert ann not in got.lead_ids and kim in got.lead_ids
