"""Enrichment and erasure: an erased person is never bought back by address, and a paid call
whose answer was lost keeps no trace of them once they are erased."""

from __future__ import annotations

import random
import unicodedata
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from leadpool.apollo.client import ApolloClient
from leadpool.apollo.enrich import enrich_people, search_and_enrich
from leadpool.apollo.errors import ChargeUncertain
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import generate_people
from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.events.effects import suppress
from leadpool.ingestion import import_people
from leadpool.ingestion.hashing import hmac_hex
from leadpool.privacy import erase

KEY = "erasure-key"


def _people(n: int) -> list[dict[str, Any]]:
    return [p for p in generate_people(60, 9, duplicate_rate=0.0) if p["email"] and p["linkedin_url"]][:n]


def _client(fake: FakeApollo, **kwargs: Any) -> ApolloClient:
    return ApolloClient(KEY, base_url=fake.base_url, sleep=lambda s: None, rng=random.Random(1), **kwargs)


def _erase(db: Database, person: dict[str, Any]) -> None:
    lead_id = import_people(db, [person], endpoint="people/match").lead_ids[0]
    with session_scope(db) as s:
        erase(s, lead_id, actor="dpo")


def _as_typed(url: str) -> str:
    """A LinkedIn URL as someone might paste it: no scheme, country host, capitals, trailing slash."""
    return "uk.linkedin.com/in/" + url.rsplit("/in/", 1)[1].upper() + "/"


@pytest.mark.parametrize("identity", ["email", "linkedin_url", "linkedin_url_as_typed"])
def test_an_erased_person_asked_for_by_address_is_not_bought(db: Database, identity: str) -> None:
    person, other = _people(2)
    _erase(db, person)
    value = _as_typed(person["linkedin_url"]) if identity == "linkedin_url_as_typed" else person[identity]
    asked = {"linkedin_url" if identity.startswith("linkedin") else identity: value}
    with FakeApollo(people=[person, other], api_key=KEY) as fake:
        result = enrich_people(
            db,
            _client(fake),
            [asked, {"email": other["email"]}],
            max_age=timedelta(days=90),
            credit_budget=None,
        )
        sent = [r.params for r in fake.request_log if r.endpoint == "people/bulk_match"]
    assert result.skipped_erased == 1 and result.requested == 1
    assert value not in str(sent) and other["email"] in str(sent)


def test_a_person_erased_before_0045_under_her_decomposed_url_is_not_bought_by_the_composed_one(
    db: Database,
) -> None:
    """Before migration 0045 an erasure hashed a LinkedIn slug in the Unicode form it came in:
    asked for by the composed form (every form since), she is still erased."""
    person, other = _people(2)
    url = "https://www.linkedin.com/in/jérôme-dupont-fr"
    person = {**person, "linkedin_url": url}
    with session_scope(db) as s:
        tombstone = s.execute(text("INSERT INTO leads (erased_at) VALUES (now()) RETURNING id")).scalar_one()
        decomposed = hmac_hex(unicodedata.normalize("NFD", url), get_settings().resolved_secret_key())
        suppress(s, "erased", [("linkedin", decomposed)], lead_id=tombstone, event_id=None)
    with FakeApollo(people=[person, other], api_key=KEY) as fake:
        result = enrich_people(
            db,
            _client(fake),
            [{"linkedin_url": url}, {"email": other["email"]}],
            max_age=timedelta(days=90),
            credit_budget=None,
        )
        sent = [r.params for r in fake.request_log if r.endpoint == "people/bulk_match"]
    assert result.skipped_erased == 1 and result.requested == 1
    assert "dupont" not in str(sent)


def test_a_lost_paid_call_loses_the_erased_persons_entry_and_keeps_the_others(db: Database) -> None:
    """Neither was in the pool when the call was lost; one is imported later and erased."""
    person, other = _people(2)
    with FakeApollo(people=[person, other], api_key=KEY) as fake:
        fake.fail_next(1, status=503)
        with pytest.raises(ChargeUncertain):
            enrich_people(
                db,
                _client(fake, max_retries=0),
                [{"email": person["email"]}, {"linkedin_url": other["linkedin_url"]}],
                max_age=timedelta(0),
                credit_budget=None,
            )
    _erase(db, person)
    with session_scope(db) as s:
        request, headers, credits = s.execute(
            text("SELECT request, response_headers, credits_consumed FROM raw_payloads WHERE body = ''")
        ).one()
    assert request["details"] == [{"linkedin_url": other["linkedin_url"]}]
    assert person["email"] not in str(headers) and headers["_leadpool_redacted"]["reason"] == "erasure"
    assert credits == 2.5  # the day's budget still counts what the call may have cost (1.25 a record)


def test_a_search_page_met_after_an_erasure_keeps_no_trace_of_the_erased_person(db: Database) -> None:
    """A refill's search meets the erased person again: she is not bought back, and the search
    page stored as a raw payload (every page is kept) must not keep her teaser row (name, title,
    employer) either, while the other people on it stay as received."""
    erased, other = _people(2)
    _erase(db, erased)
    first = str(erased["first_name"]).lower()
    with FakeApollo(people=[erased, other], api_key=KEY) as fake:
        result = search_and_enrich(
            db,
            _client(fake),
            {"person_titles": [erased["title"], other["title"]]},
            want=5,
            max_pages=1,
            max_age=timedelta(days=180),
            credit_budget=None,
        )
    assert result.skipped_in_pool == 1 and len(result.new_lead_ids) == 1
    with session_scope(db) as s:
        pages = (
            s.execute(text("SELECT body FROM raw_payloads WHERE endpoint = 'mixed_people/api_search'"))
            .scalars()
            .all()
        )
    assert len(pages) == 1
    assert first not in pages[0].lower() and erased["id"] not in pages[0]
    assert str(other["first_name"]).lower() in pages[0].lower()
