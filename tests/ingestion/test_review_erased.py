"""Regression tests for the privacy review of the importer: an erased person is recognised by any
address of their own, and is taken out of every payload the import stores."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, text

from leadpool.db import Database, session_scope
from leadpool.ingestion import import_people
from leadpool.models import Lead, RawPayload
from leadpool.privacy import erase

JANE: dict[str, Any] = {
    "id": "apollo-jane-1",
    "first_name": "Jane",
    "last_name": "Roe",
    "email": "jane.roe@acme-widgets.com",
    "linkedin_url": "https://www.linkedin.com/in/jane-roe-42",
    "personal_emails": ["jane.roe.home@gmail.com"],
    "phone_numbers": [
        {"sanitized_number": "+13035550199", "type": "mobile", "position": 0},
        {"sanitized_number": "+13035550142", "type": "work_hq", "position": 1},
    ],
    "country": "United States",
}


def _erase_jane(db: Database) -> None:
    [lead_id] = import_people(db, [JANE], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        erase(s, lead_id, actor="dpo")


def _bodies(db: Database) -> list[str]:
    with session_scope(db) as s:
        return list(s.scalars(select(RawPayload.body).order_by(RawPayload.id)))


def test_an_erased_person_is_refused_by_a_personal_email_or_a_number_of_their_own(db: Database) -> None:
    _erase_jane(db)
    moved = {
        "id": "apollo-jane-2",
        "email": "jane@new-employer.io",
        "personal_emails": ["Jane.Roe.Home@gmail.com"],
    }
    by_mobile = {
        "id": "apollo-jane-3",
        "first_name": "Jane",
        "country": "United States",
        "phone_numbers": [{"raw_number": "(303) 555-0199", "type": "mobile"}],
    }
    result = import_people(db, [moved, by_mobile], endpoint="people/match")
    assert [(r.index, r.reason) for r in result.rejected] == [(0, "erased person"), (1, "erased person")]
    with session_scope(db) as s:
        assert s.execute(text("SELECT count(*) FROM leads WHERE erased_at IS NULL")).scalar_one() == 0


def test_a_colleague_on_the_erased_persons_switchboard_is_imported(db: Database) -> None:
    _erase_jane(db)
    colleague = {
        "id": "apollo-colleague",
        "email": "sam@acme-widgets.com",
        "phone_numbers": [{"sanitized_number": "+13035550142", "type": "work_hq"}],
    }
    result = import_people(db, [colleague], endpoint="people/match")
    assert result.rejected == [] and result.inserted == 1


def test_an_erased_person_is_taken_out_of_a_payload_a_later_batch_meets_them_in(db: Database) -> None:
    _erase_jane(db)
    jane_again = dict(JANE, id="apollo-jane-second-record")
    people = [{"id": f"apollo-{i}", "email": f"p{i}@example.com"} for i in range(3)] + [jane_again]
    result = import_people(
        db, people, endpoint="api:leads/import", raw_body=json.dumps({"people": people}), batch_size=2
    )
    assert [r.reason for r in result.rejected] == ["erased person"] and result.inserted == 3
    [body] = _bodies(db)
    assert "jane" not in body.lower() and "p2@example.com" in body
    with session_scope(db) as s:
        [ids] = s.scalars(select(RawPayload.apollo_person_ids)).all()
    assert ids == ["apollo-0", "apollo-1", "apollo-2"]


def test_a_payload_with_others_is_kept_without_the_erased_person(db: Database) -> None:
    _erase_jane(db)
    people = [{"id": "apollo-x", "email": "x@example.com"}, dict(JANE, id="apollo-jane-2")]
    import_people(db, people, endpoint="api:leads/import", raw_body=json.dumps({"people": people}))
    [body] = _bodies(db)
    assert "x@example.com" in body and "jane" not in body.lower()
    with session_scope(db) as s:
        [lead] = s.scalars(select(Lead).where(Lead.erased_at.is_(None))).all()
        assert lead.email == "x@example.com"


def test_a_payload_holding_only_the_erased_person_is_not_stored(db: Database) -> None:
    _erase_jane(db)
    again = dict(JANE, id="apollo-jane-2")
    import_people(db, [again], endpoint="people/match", raw_body=json.dumps(again))
    assert _bodies(db) == []
