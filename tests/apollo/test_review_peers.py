"""peers.md section 3.6 and 2.8 ("Not paying twice for data"): enrichment skips anyone the
platform already knows it may not contact, against the fake Apollo server and the real pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from leadpool.apollo.client import ApolloClient
from leadpool.apollo.enrich import enrich_people
from leadpool.apollo.fake import FakeApollo
from leadpool.apollo.generate import person_to_teaser
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.ingestion import import_people

MONTHS_6 = timedelta(days=180)


def test_a_person_who_opted_out_is_not_bought_again_when_their_data_is_stale(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    """peers.md 3.6: "buy more Apollo records within a budget. Skip anyone already enriched, leased,
    suppressed or cooling anywhere on the platform, so no one pays twice"; 2.8 "Not paying twice
    for data". A person in the pool unsubscribed (and another filed a spam complaint): nobody may
    ever contact them again (brief: "no one contacts again"). Once their record is older than
    max_age, enrich_people re-buys both from Apollo (a credit each), refreshing data that can never
    be used. Expected: both skipped, no credit spent. Fault: apollo/enrich.py _FRESH_SQL / _skip_fresh
    skips only fresh and erased leads; unsubscribed_at / complained_at are not read.
    """
    opted_out = people[:2]
    result = import_people(db, opted_out, endpoint="people/bulk_match")
    assert not result.rejected
    at = datetime.now(UTC) - timedelta(days=300)
    for person, kind in zip(opted_out, ("unsubscribe", "complaint"), strict=True):
        with session_scope(db) as s:
            record_event(
                s,
                EventIn(
                    type=kind,
                    email=person["email"],
                    occurred_at=at,
                    source="test",
                    provider_event_id=f"{kind}-{person['id']}",
                ),
            )
    with session_scope(db) as s:
        flags = s.execute(
            text("SELECT count(*) FROM leads WHERE unsubscribed_at IS NOT NULL OR complained_at IS NOT NULL")
        ).scalar_one()
        assert flags == 2
        s.execute(text("UPDATE leads SET enriched_at = now() - interval '400 days'"))
    out = enrich_people(
        db, client, [person_to_teaser(p) for p in opted_out], max_age=MONTHS_6, credit_budget=None
    )
    assert fake.credits_charged == 0 and out.requested == 0, (
        f"paid {fake.credits_charged} credits to re-enrich 2 people who opted out (requested {out.requested})"
    )
    assert out.skipped_suppressed == 2


def test_a_person_who_opted_out_by_address_alone_is_not_bought(
    db: Database, fake: FakeApollo, client: ApolloClient, people: list[dict[str, Any]]
) -> None:
    """The pool holds no lead of theirs: only the unsubscribe (or a blocklist entry) by address."""
    person = people[2]
    with session_scope(db) as s:
        record_event(
            s,
            EventIn(
                type="unsubscribe",
                email=person["email"],
                occurred_at=datetime.now(UTC) - timedelta(days=3),
                source="test",
                provider_event_id="unsub-by-address",
            ),
        )
    out = enrich_people(
        db,
        client,
        [person_to_teaser(person) | {"email": person["email"]}],
        max_age=MONTHS_6,
        credit_budget=None,
    )
    assert fake.credits_charged == 0 and out.requested == 0 and out.skipped_suppressed == 1
