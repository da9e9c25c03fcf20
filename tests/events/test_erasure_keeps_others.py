"""Erasure takes the person out of stored requests and lost paid calls, and nobody else: a request
entry names the person when its address, normalised, is one of theirs, or a text quotes one of
their addresses whole. Erasing jo@acme-widgets.com leaves bojo@acme-widgets.com, and the profile
/in/anna leaves /in/annabelle-smith."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import text

from leadpool.apollo.client import ApolloClient
from leadpool.apollo.enrich import enrich_people
from leadpool.apollo.errors import ChargeUncertain
from leadpool.apollo.fake import FakeApollo
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_people
from leadpool.privacy import erase
from leadpool.privacy.payloads import _names_person

KEY = "erasure-key"
JO = {
    "id": "apollo-jo",
    "first_name": "Jo",
    "email": "jo@acme-widgets.com",
    "linkedin_url": "https://www.linkedin.com/in/anna",
}
BOJO = {"id": "apollo-bojo", "first_name": "Bojo", "email": "bojo@acme-widgets.com"}
ANNABELLE = {
    "id": "apollo-annabelle",
    "first_name": "Annabelle",
    "linkedin_url": "https://www.linkedin.com/in/annabelle-smith",
}
JO_IDENTIFIERS = {"apollo-jo", "jo@acme-widgets.com", "https://www.linkedin.com/in/anna"}


def _client(fake: FakeApollo) -> ApolloClient:
    return ApolloClient(
        KEY, base_url=fake.base_url, sleep=lambda s: None, rng=random.Random(1), max_retries=0
    )


def test_a_lost_call_about_others_keeps_its_request_when_jo_is_erased(db: Database) -> None:
    asked = [{"email": BOJO["email"]}, {"linkedin_url": ANNABELLE["linkedin_url"]}]
    with FakeApollo(people=[BOJO, ANNABELLE], api_key=KEY) as fake:
        fake.fail_next(1, status=503)
        with pytest.raises(ChargeUncertain):
            enrich_people(db, _client(fake), asked, max_age=timedelta(0), credit_budget=None)
    [jo] = import_people(db, [JO], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        erase(s, jo, actor="dpo")
    with session_scope(db) as s:
        request = s.execute(text("SELECT request FROM raw_payloads WHERE body = ''")).scalar_one()
    # neither Bojo nor Annabelle is Jo: the request still says whom the paid call was for
    assert request == {"details": asked}, request


def test_a_stored_answer_keeps_the_request_entries_of_others_when_jo_is_erased(db: Database) -> None:
    with FakeApollo(people=[JO, BOJO, ANNABELLE], api_key=KEY) as fake:
        enrich_people(
            db,
            _client(fake),
            [{"email": JO["email"]}, {"email": BOJO["email"]}, {"linkedin_url": ANNABELLE["linkedin_url"]}],
            max_age=timedelta(0),
            credit_budget=None,
        )
    with session_scope(db) as s:
        jo = s.execute(text("SELECT id FROM leads WHERE apollo_id = 'apollo-jo'")).scalar_one()
        erase(s, jo, actor="dpo")
    with session_scope(db) as s:
        request = s.execute(
            text("SELECT request FROM raw_payloads WHERE endpoint = 'people/bulk_match'")
        ).scalar_one()
    assert request == {"details": [{"email": BOJO["email"]}, {"linkedin_url": ANNABELLE["linkedin_url"]}]}, (
        request
    )


@pytest.mark.parametrize(
    ("value", "names_jo"),
    [
        ("JO@Acme-Widgets.com", True),
        ("uk.linkedin.com/in/Anna/", True),
        ("no match for jo@acme-widgets.com.", True),
        ("asked: email=jo@acme-widgets.com&x=1", True),
        ("see https://www.linkedin.com/in/anna?trk=x", True),
        ("bojo@acme-widgets.com", False),
        ("no match for bojo@acme-widgets.com.", False),
        ("jo@acme-widgets.com.au", False),
        ("https://www.linkedin.com/in/annabelle-smith", False),
        ("see linkedin.com/in/anna-maria", False),
    ],
)
def test_a_request_value_names_the_person_by_a_whole_address(value: str, names_jo: bool) -> None:
    assert _names_person(value, JO_IDENTIFIERS) is names_jo
