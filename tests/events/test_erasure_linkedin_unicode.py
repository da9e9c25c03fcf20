"""An erased person's LinkedIn URL is refused whatever Unicode form its slug comes in: an accented
slug written decomposed (NFD, as macOS and some exports write it) is the same profile as the
composed one (``normalize_linkedin_url`` gives the composed form, NFC), and migration 0045 brings
the URLs stored before in another form to it."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from tests.migrations_data._scratch import scratch_db

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.db.migrate import upgrade
from leadpool.events import EventIn, record_event
from leadpool.events.effects import suppress
from leadpool.ingestion import import_files, import_people
from leadpool.ingestion.erased import erased_people
from leadpool.ingestion.hashing import hmac_hex
from leadpool.ingestion.normalize import normalize_email, normalize_linkedin_url
from leadpool.privacy import erase

SLUG = "jérôme-dupont-fr"
URL = f"https://www.linkedin.com/in/{SLUG}"
NFD = unicodedata.normalize("NFD", URL)
JEROME = {
    "id": "apollo-jerome",
    "first_name": "Jérôme",
    "last_name": "Dupont",
    "email": "jerome.dupont@exemple-fr.com",
    "linkedin_url": URL,
    "country": "France",
}


def test_an_erased_persons_linkedin_url_in_decomposed_unicode_is_refused(
    db: Database, tmp_path: Path
) -> None:
    [jerome] = import_people(db, [JEROME], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        erase(s, jerome, actor="dpo")
    # the same URL as stored, in a CSV export without an email, is refused
    same = tmp_path / "same.csv"
    same.write_text(f"First Name,Last Name,Person Linkedin Url\nJérôme,Dupont,{URL}\n")
    control = import_files(db, [same], collect_lead_ids=True)
    assert control.lead_ids == [] and [r.reason for r in control.rejected] == ["erased person"]
    # the very same profile URL, its accents written decomposed
    assert NFD != URL and unicodedata.normalize("NFC", NFD) == URL
    other = tmp_path / "nfd.csv"
    other.write_text(f"First Name,Last Name,Person Linkedin Url\nJérôme,Dupont,{NFD}\n")
    back = import_files(db, [other], collect_lead_ids=True)
    assert back.lead_ids == [], f"the erased person is back as lead(s) {back.lead_ids}"
    assert [r.reason for r in back.rejected] == ["erased person"]


def test_a_person_erased_before_0045_under_her_decomposed_url_is_refused_by_the_composed_one(
    db: Database, tmp_path: Path
) -> None:
    """Before 0045 an erasure hashed the URL as stored: a slug that came decomposed was hashed
    decomposed, and no migration can rehash it (the key is not the migration's, the URL is gone).
    An import, a paid answer or an event naming her by the composed spelling (every one since)
    must still find her among the erased."""
    key = get_settings().resolved_secret_key()
    with session_scope(db) as s:
        tombstone = s.execute(
            text("INSERT INTO leads (apollo_id, erased_at) VALUES ('apollo-old-jerome', now()) RETURNING id")
        ).scalar_one()
        # what erase() wrote then: the keyed hash of the URL lower-cased, in the form it came in
        suppress(s, "erased", [("linkedin", hmac_hex(NFD, key))], lead_id=tombstone, event_id=None)
    csv = tmp_path / "nfc.csv"
    csv.write_text(f"First Name,Last Name,Person Linkedin Url\nJérôme,Dupont,{URL}\n")
    back = import_files(db, [csv], collect_lead_ids=True)
    assert back.lead_ids == [], f"the erased person is back as lead(s) {back.lead_ids}"
    assert [r.reason for r in back.rejected] == ["erased person"]
    with session_scope(db) as s:
        assert erased_people(s, [JEROME], key) == [JEROME]  # a paid answer naming her
    with session_scope(db) as s:
        record_event(
            s,
            EventIn(
                type="reply",
                linkedin_url=URL,
                channel="linkedin",
                text="Jérôme ici, rappelez-moi au 06 12 34 56 78",
                occurred_at=datetime(2025, 1, 14, 17, 0, tzinfo=UTC),
                source="api",
                provider_event_id="li-reply-1",
            ),
        )
        assert s.execute(text("SELECT text FROM events")).scalar_one() is None


def test_addresses_are_normalised_to_the_composed_form() -> None:
    assert normalize_linkedin_url(NFD) == URL
    assert (
        normalize_linkedin_url("linkedin.com/in/je%CC%81ro%CC%82me-dupont-fr") == URL
    )  # NFD, percent-encoded
    # email-validator gives an international address (local part and domain) composed already
    composed = "jérôme@exémple.fr"
    assert normalize_email(unicodedata.normalize("NFD", composed.upper())) == composed


def test_0045_stores_the_linkedin_urls_of_leads_in_the_composed_form(database_uri: str) -> None:
    stored = {
        1: NFD,  # composed
        2: unicodedata.normalize("NFD", "https://www.linkedin.com/in/zoë-b"),  # composed: 3 holds it
        3: "https://www.linkedin.com/in/zoë-b",  # composed already: kept
        4: "https://www.linkedin.com/in/plain-ascii",  # untouched
        5: None,
    }
    with scratch_db(database_uri, "0044_allocation_requests") as scratch:
        with scratch.engine.begin() as c:
            for lead_id, url in stored.items():
                c.execute(
                    text("INSERT INTO leads (id, linkedin_url) VALUES (:i, :u)"), {"i": lead_id, "u": url}
                )
        upgrade(scratch)
        with scratch.engine.connect() as c:
            rows = dict(c.execute(text("SELECT id, linkedin_url FROM leads ORDER BY id")).all())
    assert rows == {**stored, 1: URL}
