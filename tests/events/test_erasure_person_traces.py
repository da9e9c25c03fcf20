"""Erasure leaves nothing of the person behind: a non-US person's other number read in their own
country, a second lead keyed by an address they had before (or listing the erased lead's address
among its personal or previous emails), the free text operators typed about them into the audit
log (a consent revocation's reason, a blocklisting's reason, also one typed before the pool held
them), and their own addresses given as who erased or who asked."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.events.effects import revoke_consents
from leadpool.gate import check
from leadpool.ingestion import import_files, import_people
from leadpool.ingestion.hashing import hmac_hex
from leadpool.privacy import erase
from leadpool.privacy.blocklist import blocklist
from leadpool.privacy.consent import grant_consent, revoke_consent
from leadpool.timeline import lead_timeline

from .conftest import World

EMAIL = "erinyes.zabrowski@zabcorp.com"
PERSONAL = "erinyes.zab@gmail.com"
LINKEDIN = "http://www.linkedin.com/in/erinyes-zabrowski"
PHONE = "+13035550177"
ERIN: dict[str, Any] = {
    "id": "apollo-erin-77",
    "first_name": "Erinyes",
    "last_name": "Zabrowski",
    "name": "Erinyes Zabrowski",
    "email": EMAIL,
    "personal_emails": [PERSONAL],
    "linkedin_url": LINKEDIN,
    "title": "CFO",
    "headline": "CFO at Zabcorp",
    "country": "United States",
    "state": "Colorado",
    "city": "Denver",
    "email_status": "verified",
    "phone_numbers": [{"sanitized_number": PHONE, "raw_number": "(303) 555-0177", "type": "mobile"}],
    "employment_history": [{"organization_name": "Zabcorp", "title": "CFO", "current": True}],
    "organization": {"id": "org-zab", "name": "Zabcorp", "primary_domain": "zabcorp.com"},
}
# what must not be found anywhere once Erin is erased (lower-case; searched case-insensitively)
NEEDLES = ["erinyes", "zabrowski", "3035550177", "555-0177", "erinyes-zabrowski", "erinyes.zab"]


def owned(world: World, lead_id: int) -> int:
    """The lead owned by a new agency and enrolled in its campaign; the agency's id."""
    agency = world.agency()
    world.own(lead_id, agency, world.campaign(agency))
    return agency


def scan(db: Database, needles: list[str] = NEEDLES) -> dict[str, list[str]]:
    """Every row of every table (public and procrastinate schemas) whose text form names a needle."""
    found: dict[str, list[str]] = {}
    with db.engine.connect() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname IN ('public', 'procrastinate') ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            for needle in needles:
                rows = (
                    conn.execute(
                        text(f"SELECT t::text FROM {table} t WHERE lower(t::text) LIKE :p"),
                        {"p": f"%{needle}%"},
                    )
                    .scalars()
                    .all()
                )
                for row in rows:
                    found.setdefault(table, [])
                    snippet = row[:400]
                    if snippet not in found[table]:
                        found[table].append(snippet)
    return found


CLAIRE = {
    "id": "apollo-claire",
    "first_name": "Claire",
    "last_name": "Dupont",
    "email": "claire.dupont@exemple-fr.com",
    "country": "France",
    "city": "Paris",
    # as an Apollo CSV export gives them (raw_number, national format): the mobile is the best
    # number (leads.phone, E.164), the "other" one is hers too
    "phone_numbers": [
        {"raw_number": "06 12 34 56 78", "type": "mobile"},
        {"raw_number": "01 42 68 53 00", "type": "other"},
    ],
}


def _import_by_number(db: Database, apollo_id: str, email: str, number: str) -> Any:
    """Someone new by id and email, holding ``number``: refused only if the number is erased."""
    person = {
        "id": apollo_id,
        "email": email,
        "phone_numbers": [{"sanitized_number": number, "type": "mobile"}],
    }
    return import_people(db, [person], endpoint="people/match")


def test_a_non_us_persons_other_number_is_refused_after_erasure(db: Database) -> None:
    # erasure read the other numbers as US numbers, the importer in the person's country
    [claire] = import_people(db, [CLAIRE], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        erase(s, claire, actor="dpo")
    # control: the best number (stored E.164) is refused
    by_mobile = _import_by_number(db, "x-1", "c1@ailleurs.com", "+33612345678")
    assert [r.reason for r in by_mobile.rejected] == ["erased person"]
    # her other number, by which the importer would have refused her before the erasure
    by_other = _import_by_number(db, "x-2", "c2@ailleurs.com", "+33142685300")
    assert [r.reason for r in by_other.rejected] == ["erased person"], by_other


OLD = "erinyes.zabrowski@oldjob.com"
NOON_DENVER = datetime(2025, 1, 14, 17, 0, tzinfo=UTC)


def test_a_lead_holding_the_persons_previous_email_is_erased_with_them(db: Database, tmp_path: Path) -> None:
    first = copy.deepcopy(ERIN)
    first["email"] = OLD
    [erin] = import_people(db, [first], endpoint="people/match").lead_ids
    # Apollo's refresh: she moved job; the lead keeps the old address under previous_emails
    assert import_people(db, [ERIN], endpoint="people/match").lead_ids == [erin]
    with session_scope(db) as s:
        assert s.execute(text("SELECT previous_emails FROM leads WHERE id = :i"), {"i": erin}).scalar() == [
            OLD
        ]
    # an older CSV export keyed by the old work address: a second lead of the same person
    f = tmp_path / "old.csv"
    f.write_text(f"First Name,Last Name,Email,Title\nErinyes,Zabrowski,{OLD},CFO\n")
    result = import_files(db, [f], collect_lead_ids=True)
    [other] = result.lead_ids
    assert other != erin

    with session_scope(db) as s:
        erased = erase(s, erin, actor="dpo")
    with session_scope(db) as s:
        left = s.execute(
            text("SELECT id, email, first_name, last_name, erased_at FROM leads WHERE id = :i"), {"i": other}
        ).one()
        erased_hmac_for_old = s.execute(
            text(
                "SELECT count(*) FROM suppressions WHERE kind = 'erased' AND address_type = 'email' "
                "AND value_hmac = :h"
            ),
            {"h": hmac_hex(OLD, get_settings().resolved_secret_key())},
        ).scalar()
    # erasure itself says the old address is an erased person's ...
    assert erased_hmac_for_old == 1
    # ... and no live lead still holds it, with her name
    assert other in erased.same_person_erased, (left, erased)
    found = scan(db, ["erinyes", "zabrowski", "oldjob"])
    assert not found, found


def test_consent_revocation_reason_is_gone_after_erasure(db: Database, world: World) -> None:
    [erin] = import_people(db, [ERIN], endpoint="people/match").lead_ids
    agency = owned(world, erin)
    with session_scope(db) as s:
        c = grant_consent(
            s,
            lead_id=erin,
            agency_id=agency,
            basis="express",
            source="webinar form",
            actor="ops",
            evidence="form signed by Erinyes Zabrowski",
        )
        revoke_consent(s, c.id, actor="ops", reason="Erinyes Zabrowski phoned from 303-555-0177 to withdraw")
    with session_scope(db) as s:
        erase(s, erin, actor="dpo")
    found = scan(db)
    assert not found, found


def test_blocklist_reason_is_gone_after_erasure(db: Database) -> None:
    [erin] = import_people(db, [ERIN], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        blocklist(s, reason="Erinyes Zabrowski threatened legal action", actor="ops", lead_id=erin)
    with session_scope(db) as s:
        erase(s, erin, actor="dpo")
    with session_scope(db) as s:
        shown = json.dumps([e.detail for e in lead_timeline(s, erin)], default=str).lower()
    assert "zabrowski" not in shown
    found = scan(db)
    assert not found, found


def test_erasure_marks_the_audit_rows_free_text_and_keeps_the_rows(db: Database, world: World) -> None:
    # an opt-out's revocation (events.effects) and a blocklisting by address (the row's subject
    # is the address's hash, the lead only listed in lead_ids) both about Erin; Olaf's untouched
    [erin, olaf] = import_people(
        db,
        [ERIN, {"id": "apollo-olaf", "email": "olaf.other@othercorp.com", "first_name": "Olaf"}],
        endpoint="people/match",
    ).lead_ids
    agency = owned(world, erin)
    with session_scope(db) as s:
        grant_consent(s, lead_id=erin, agency_id=agency, basis="express", source="form", actor="ops")
        grant_consent(s, lead_id=olaf, agency_id=agency, basis="express", source="form", actor="ops")
    with session_scope(db) as s:
        assert revoke_consents(s, erin, datetime.now(UTC), "Erinyes Zabrowski said stop", actor="ops") == 1
        assert revoke_consents(s, olaf, datetime.now(UTC), "Olaf said stop", actor="ops") == 1
        blocklist(s, reason="Erinyes Zabrowski's address, by request", actor="ops", email=PERSONAL)
        blocklist(s, reason="Olaf by request", actor="ops", email="olaf.other@othercorp.com")
    with session_scope(db) as s:
        erase(s, erin, actor="dpo")
    with session_scope(db) as s:
        rows = s.execute(
            text(
                "SELECT action, detail->>'reason' FROM audit_log "
                "WHERE action IN ('consent.revoke', 'blocklist.add') ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("consent.revoke", "(erased)"),
        ("consent.revoke", "Olaf said stop"),
        ("blocklist.add", "(erased)"),
        ("blocklist.add", "Olaf by request"),
    ]
    assert not scan(db), scan(db)
    # a second erasure changes nothing
    with session_scope(db) as s:
        assert erase(s, erin, actor="dpo").already_erased


def _lead_row(db: Database, lead_id: int) -> tuple[Any, ...]:
    with session_scope(db) as s:
        return tuple(
            s.execute(
                text(
                    "SELECT erased_at, first_name, personal_emails, previous_emails FROM leads WHERE id = :i"
                ),
                {"i": lead_id},
            ).one()
        )


def test_erasing_the_lead_keyed_by_a_personal_address_erases_the_lead_listing_it(
    db: Database, world: World, tmp_path: Path
) -> None:
    """The DSAR comes from the person's personal address, and the operator erases the CSV lead
    keyed by it: her Apollo lead listing that address among its personal emails is erased too."""
    [erin] = import_people(db, [ERIN], endpoint="people/match").lead_ids
    f = tmp_path / "home.csv"
    f.write_text(f"First Name,Last Name,Email,Title\nErinyes,Zabrowski,{PERSONAL},CFO\n")
    [csv_erin] = import_files(db, [f], collect_lead_ids=True).lead_ids
    assert csv_erin != erin
    agency = world.agency()
    campaign = world.campaign(agency)
    world.own(erin, agency, campaign)

    with session_scope(db) as s:
        result = erase(s, csv_erin, actor="dpo")

    erased_at, first_name, personal, _ = _lead_row(db, erin)
    with session_scope(db) as s:
        decision = check(
            s, lead_id=erin, campaign_id=campaign, channel="email", at=NOON_DENVER, reserve=False
        )
    assert erin in result.same_person_erased, (
        f"lead {erin} still holds the erased address {personal} and name {first_name!r}; "
        f"erased_at={erased_at}; gate allows email: {decision.allowed}"
    )
    assert not decision.allowed
    assert not scan(db, ["erinyes", "zabrowski"]), scan(db, ["erinyes", "zabrowski"])


def test_erasing_the_lead_keyed_by_an_old_address_erases_the_lead_listing_it_as_previous(
    db: Database, tmp_path: Path
) -> None:
    """The mirror of test_a_lead_holding_the_persons_previous_email_is_erased_with_them: erasing the
    CSV lead keyed by her old work address erases the refreshed lead that lists it as previous."""
    first = copy.deepcopy(ERIN)
    first["email"] = OLD
    [erin] = import_people(db, [first], endpoint="people/match").lead_ids
    assert import_people(db, [ERIN], endpoint="people/match").lead_ids == [erin]
    f = tmp_path / "old.csv"
    f.write_text(f"First Name,Last Name,Email,Title\nErinyes,Zabrowski,{OLD},CFO\n")
    [other] = import_files(db, [f], collect_lead_ids=True).lead_ids
    assert other != erin

    with session_scope(db) as s:
        result = erase(s, other, actor="dpo")
    _, first_name, _, previous = _lead_row(db, erin)
    assert erin in result.same_person_erased, (
        f"lead {erin} still holds the erased address in previous_emails={previous}, name {first_name!r}"
    )
    assert not scan(db, ["erinyes", "zabrowski", "oldjob"]), scan(db, ["erinyes", "zabrowski", "oldjob"])


def test_blocklist_reason_typed_before_the_lead_existed_is_gone_after_erasure(db: Database) -> None:
    """A blocklisting by address before the pool held the person (the row's subject is the
    address's keyed hash, no lead listed) loses its reason when she is erased."""
    with session_scope(db) as s:
        added = blocklist(
            s, reason="Erinyes Zabrowski called, wants no contact at all", actor="ops", email=PERSONAL
        )
    assert added.lead_ids == []
    _erin_imported_then_erased_leaves_no_reason(db)


def test_blocklist_reason_naming_her_second_address_is_gone_after_erasure(db: Database) -> None:
    """A blocklisting by several addresses names its row by the first one's keyed hash; the person
    imported later may hold only another of them (here her LinkedIn URL, not the old address)."""
    with session_scope(db) as s:
        blocklist(
            s,
            reason="Erinyes Zabrowski (ex OldJob) asked never to be contacted",
            actor="ops",
            email="erinyes@oldjob.example",
            linkedin=LINKEDIN,
        )
    _erin_imported_then_erased_leaves_no_reason(db)


def _erin_imported_then_erased_leaves_no_reason(db: Database) -> None:
    """Import Erin (born blocklisted), erase her: the blocklisting's reason is gone, and her name
    nowhere."""
    [erin] = import_people(db, [ERIN], endpoint="people/match").lead_ids  # born blocklisted
    with session_scope(db) as s:
        erase(s, erin, actor="dpo")
    with session_scope(db) as s:
        reason = s.execute(
            text("SELECT detail->>'reason' FROM audit_log WHERE action = 'blocklist.add'")
        ).scalar()
    assert reason == "(erased)"
    found = scan(db, ["erinyes", "zabrowski"])
    assert not found, found


def _hashed(value: str) -> str:
    return "addr-" + hmac_hex(value, get_settings().resolved_secret_key())[:32]


def test_the_persons_address_given_as_actor_is_kept_only_as_a_keyed_hash(db: Database, world: World) -> None:
    """``leads erase --actor`` names the operator who erases; given the person's own address
    instead, the audit log and the lead history (which outlive the erasure) keep its keyed hash."""
    [erin] = import_people(db, [ERIN], endpoint="people/match").lead_ids
    owned(world, erin)
    res = CliRunner().invoke(app, ["leads", "erase", str(erin), "--actor", PERSONAL, "--yes"])
    assert res.exit_code == 0, res.output
    found = scan(db, ["erinyes.zab"])
    assert not found, found
    with session_scope(db) as s:
        actors = s.execute(
            text(
                "SELECT actor FROM audit_log WHERE action = 'lead.erase' "
                "UNION SELECT actor FROM lead_history WHERE lead_id = :i"
            ),
            {"i": erin},
        ).scalars()
        assert set(actors) == {_hashed(PERSONAL)}
    assert "operator" in CliRunner().invoke(app, ["leads", "erase", "--help"]).output


def test_requested_by_keeps_the_persons_own_addresses_only_as_keyed_hashes(db: Database) -> None:
    """Who asked stays readable; the person's own addresses in it are replaced by their keyed hashes,
    and the operator's own address in ``actor`` is kept as given."""
    [erin] = import_people(db, [ERIN], endpoint="people/match").lead_ids
    with session_scope(db) as s:
        erase(
            s, erin, actor="dpo@agency.example", requested_by=f"DSAR mail from {PERSONAL}, call 303-555-0177"
        )
    found = scan(db, ["erinyes.zab", "555-0177"])
    assert not found, found
    with session_scope(db) as s:
        actor, requested_by = s.execute(
            text("SELECT actor, detail->>'requested_by' FROM audit_log WHERE action = 'lead.erase'")
        ).one()
    assert actor == "dpo@agency.example"
    assert requested_by == f"DSAR mail from {_hashed(PERSONAL)}, call {_hashed('303-555-0177')}"
