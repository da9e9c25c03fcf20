"""Consent where the policy's countries want it (no_consent): by country and channel, per agency,
live only between its grant and its expiry or revocation; the same answer from the full check, the
fast path, GateWorker and check_many; agencies add countries to the platform's; erasure deletes
consents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.events.record import record_event
from leadpool.events.schemas import EventIn
from leadpool.gate import CheckRequest, GateWorker, check, check_many, fast
from leadpool.gate.policy import (
    _env_overrides,
    clear_policy_cache,
    platform_policy,
    resolve,
    validate_overrides,
)
from leadpool.models import AuditLog, Consent
from leadpool.privacy.consent import consents_of, grant_consent, revoke_consent
from leadpool.privacy.erase import erase

T0 = MONDAY_OPEN


@pytest.fixture(autouse=True)
def _defaults(fresh_policy: None) -> None:
    """The platform policy's defaults: email needs consent in DE and CA, texts in CA."""


def _codes(db: Database, lead: int, campaign: int, channel: str = "email", **kw: Any) -> list[str]:
    with session_scope(db) as s:
        d = check(
            s, lead_id=lead, campaign_id=campaign, channel=channel, at=kw.pop("at", T0), reserve=False, **kw
        )
        return d.codes


def _grant(db: Database, w: World, lead: int, **kw: Any) -> int:
    kw.setdefault("basis", "express")
    kw.setdefault("source", "webinar sign-up form, 2026-02-10")
    kw.setdefault("granted_at", T0 - timedelta(days=20))
    with session_scope(db) as s:
        return grant_consent(s, lead_id=lead, agency_id=w.agency_id, actor="ops:kim", **kw).id


def test_the_default_policy_wants_consent_for_email_to_germany_and_canada_only(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        berlin = w.lead(company_id=None, country="Germany", time_zone="Europe/Berlin")
        toronto = w.lead(company_id=None, country="CA", time_zone="America/Toronto")
        spelled = w.lead(company_id=None, country=" deu ", time_zone="Europe/Berlin")
        boston = w.lead(company_id=None, country="United States")
        nowhere = w.lead(company_id=None, country=None)
        unknown = w.lead(company_id=None, country="Atlantis")
    for lead in (berlin, toronto, spelled):
        assert _codes(db, lead, w.campaign_id) == ["no_consent"], lead
    for lead in (boston, nowhere, unknown):  # no country the policy lists: no consent needed
        assert _codes(db, lead, w.campaign_id) == [], lead
    assert _codes(db, berlin, w.campaign_id, "linkedin") == []
    assert _codes(db, berlin, w.campaign_id, "phone") == []
    assert _codes(db, toronto, w.campaign_id, "sms") == ["no_consent"]
    with session_scope(db) as s:
        d = check(s, lead_id=berlin, campaign_id=w.campaign_id, channel="email", at=T0, reserve=False)
    (reason,) = d.reasons
    assert "DE" in reason.message and "holds none" in reason.message and reason.retry_after is None


def test_a_consent_opens_its_channel_for_its_agency_only_while_it_is_live(db: Database) -> None:
    with session_scope(db) as s:
        w, other = World(s), World(s)
        lead = w.lead(company_id=None, country="Germany", time_zone="Europe/Berlin")
        elsewhere = other.lead(company_id=None, country="Germany", time_zone="Europe/Berlin")
    _grant(db, other, lead, channel="email")  # another agency's permission is not this one's
    _grant(db, w, lead, channel="sms")  # nor another channel's
    assert _codes(db, lead, w.campaign_id) == ["no_consent"]

    consent = _grant(
        db, w, lead, channel="email", granted_at=T0 - timedelta(days=1), expires_at=T0 + timedelta(days=30)
    )
    assert _codes(db, lead, w.campaign_id) == []
    assert _codes(db, elsewhere, other.campaign_id) == ["no_consent"]  # other's consent is for `lead`
    with session_scope(db) as s:  # expired by then
        d = check(
            s,
            lead_id=lead,
            campaign_id=w.campaign_id,
            channel="email",
            at=T0 + timedelta(days=31, hours=0),
            reserve=False,
        )
    assert "no_consent" in d.codes
    assert "expired" in next(r.message for r in d.reasons if r.code == "no_consent")

    with session_scope(db) as s, pytest.raises(InvalidInput, match="in the future"):
        revoke_consent(s, consent, actor="ops:kim", reason="asked", at=datetime.now(UTC) + timedelta(days=1))
    with session_scope(db) as s:
        done = revoke_consent(s, consent, actor="ops:kim", reason="asked by phone")
        again = revoke_consent(s, consent, actor="ops:kim", reason="twice")
    assert done.changed and not again.changed and again.revoked_reason == "asked by phone"
    assert _codes(db, lead, w.campaign_id) == ["no_consent"]

    every = _grant(db, w, lead, basis="implied", granted_at=T0 + timedelta(hours=2))  # all channels, later
    with session_scope(db) as s:
        d = check(s, lead_id=lead, campaign_id=w.campaign_id, channel="email", at=T0, reserve=False)
    assert d.codes == ["no_consent"] and d.reasons[0].retry_after == T0 + timedelta(hours=2)
    assert _codes(db, lead, w.campaign_id, at=T0 + timedelta(hours=2, minutes=1)) == []
    with session_scope(db) as s:
        mine = consents_of(s, lead, agency_id=w.agency_id)
        assert [c.id for c in mine][-1] == every and [c.live_at(T0) for c in mine] == [True, False, False]
        actions = s.scalars(
            select(AuditLog.action).where(AuditLog.subject_id == str(lead)).order_by(AuditLog.id)
        ).all()
    assert actions == ["consent.grant"] * 3 + ["consent.revoke"] + ["consent.grant"]


def test_the_fast_path_worker_and_batch_give_the_full_checks_answer(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        primer = w.lead(company_id=None)
        without = w.lead(company_id=None, country="Germany", time_zone="Europe/Berlin")
        with_consent = w.lead(company_id=None, country="Germany", time_zone="Europe/Berlin")
        revoked = w.lead(company_id=None, country="Germany", time_zone="Europe/Berlin")
    _grant(db, w, with_consent, channel="email")
    gone = _grant(db, w, revoked)
    with session_scope(db) as s:
        revoke_consent(s, gone, actor="ops:kim", reason="withdrawn")
        assert check(s, lead_id=primer, campaign_id=w.campaign_id, channel="linkedin", at=T0).allowed
    assert w.campaign_id in fast._policies  # the campaign's policy is known: the fast path answers
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        kw: dict[str, Any] = {"campaign_id": w.campaign_id, "channel": "email", "sender": None, "at": T0}
        assert fast.try_allow(dbapi, lead_id=without, idempotency_key=None, **kw) is None
        assert fast.try_allow(dbapi, lead_id=revoked, idempotency_key=None, **kw) is None
        assert fast.try_allow(dbapi, lead_id=with_consent, idempotency_key=None, **kw) is not None
        s.rollback()
    with GateWorker(db) as gate:
        denied = gate.check(lead_id=without, campaign_id=w.campaign_id, channel="email", at=T0)
        allowed = gate.check(lead_id=with_consent, campaign_id=w.campaign_id, channel="email", at=T0)
    assert denied.codes == ["no_consent"] and allowed.allowed and allowed.touch_id is not None
    with session_scope(db) as s:
        got = check_many(
            s,
            [
                CheckRequest(lead, w.campaign_id, "email", None, T0 + timedelta(days=1), True, None)
                for lead in (without, revoked, with_consent)
            ],
        )
    assert [d.codes for d in got] == [["no_consent"], ["no_consent"], []]


def test_agencies_and_campaigns_add_countries_to_the_platforms(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = resolve(None, None)
    assert [defaults.consent_countries(ch) for ch in ("email", "linkedin", "sms", "phone")] == [
        ("CA", "DE"),
        (),
        ("CA",),
        (),
    ]
    p = resolve(
        {"gate": {"consent_required": {"email": ["at", " "]}}},
        {"gate": {"consent_required": {"linkedin": "*"}}},
    )
    assert p.consent_countries("email") == ("AT", "CA", "DE") and p.consent_countries("linkedin") == ("*",)
    assert p.consent_countries("sms") == ("CA",)
    # an agency's list adds to the platform's: naming fewer removes none
    assert resolve({"gate": {"consent_required": {"email": [], "sms": []}}}, None) == defaults
    with pytest.raises(InvalidInput, match=r"consent_required\.email.*United Kingdom is GB"):
        validate_overrides({"gate": {"consent_required": {"email": ["DE", "CA", "UK"]}}}, level="campaign")
    assert _env_overrides({"LEADPOOL_GATE_CONSENT_REQUIRED__EMAIL": "DE"}) == {
        "consent_required": {"email": "DE"}
    }
    # an empty variable (a template's unset value) is refused, not read as "ask nowhere"
    monkeypatch.setenv("LEADPOOL_GATE_CONSENT_REQUIRED__EMAIL", "")
    clear_policy_cache()
    with pytest.raises(InvalidInput, match=r"consent_required\.email.*empty"):
        platform_policy()
    monkeypatch.setenv("LEADPOOL_GATE_CONSENT_REQUIRED__EMAIL", "DE,")  # a trailing comma is fine
    clear_policy_cache()
    assert platform_policy().consent_countries("email") == ("DE",)
    monkeypatch.setenv("LEADPOOL_GATE_CONSENT_REQUIRED__EMAIL", "[]")
    clear_policy_cache()
    assert platform_policy().consent_countries("email") == ()
    monkeypatch.delenv("LEADPOOL_GATE_CONSENT_REQUIRED__EMAIL")
    clear_policy_cache()

    with session_scope(db) as s:
        w = World(s, campaign_gate={"consent_required": {"email": ["DE", "CA", "AT"], "linkedin": ["*"]}})
        vienna = w.lead(company_id=None, country="Austria", time_zone="Europe/Vienna")
        nowhere = w.lead(company_id=None, country=None)
    assert _codes(db, vienna, w.campaign_id) == ["no_consent"]
    assert _codes(db, nowhere, w.campaign_id, "linkedin") == ["no_consent"]  # '*': wherever it is
    assert _codes(db, nowhere, w.campaign_id) == []
    with session_scope(db) as s:
        d = check(s, lead_id=nowhere, campaign_id=w.campaign_id, channel="linkedin", at=T0, reserve=False)
    assert "any lead" in d.reasons[0].message


def test_bad_grants_are_refused_and_erasure_deletes_consents(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(company_id=None, country="Canada", time_zone="America/Toronto")
    bad: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"basis": "assumed"}, InvalidInput, "basis"),
        ({"channel": "fax"}, InvalidInput, "channel"),
        ({"source": "  "}, InvalidInput, "source"),
        ({"granted_at": T0.replace(tzinfo=None)}, InvalidInput, "granted_at"),
        ({"granted_at": T0, "expires_at": T0}, InvalidInput, "expires_at"),
        ({"granted_at": datetime(1, 1, 1, tzinfo=UTC)}, InvalidInput, "granted_at.*outside 1970-2999"),
        ({"expires_at": datetime(3000, 1, 1, tzinfo=UTC)}, InvalidInput, "expires_at.*outside"),
        ({"lead_id": 10**12}, NotFound, "lead"),
        ({"agency_id": 10**12}, NotFound, "agency"),
    ]
    for override, error, where in bad:
        args: dict[str, Any] = {
            "lead_id": lead,
            "agency_id": w.agency_id,
            "basis": "express",
            "source": "form",
            "actor": "ops:kim",
        } | override
        with session_scope(db) as s, pytest.raises(error, match=where):
            grant_consent(s, **args)
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Consent)) == 0
    _grant(db, w, lead, evidence="recording 2026-02-10-0915.mp3")
    assert _codes(db, lead, w.campaign_id) == []
    with session_scope(db) as s:
        result = erase(s, lead, actor="dpo")
    assert result.consents_deleted == 1
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Consent)) == 0
        with pytest.raises(InvalidInput, match="erased"):
            grant_consent(
                s, lead_id=lead, agency_id=w.agency_id, basis="express", source="form", actor="ops:kim"
            )


def test_an_opt_out_withdraws_the_consents_given_before_it(db: Database) -> None:
    with session_scope(db) as s:
        w, other = World(s), World(s)
        lead = w.lead(company_id=None, country="Germany", time_zone="Europe/Berlin")
    mine = _grant(db, w, lead, channel="email")
    theirs = _grant(db, other, lead)
    later = _grant(db, w, lead, granted_at=T0 + timedelta(days=2))  # given after the opt-out below
    stop = EventIn(
        type="unsubscribe",
        lead_id=lead,
        occurred_at=T0 + timedelta(days=1),
        source="test",
        provider_event_id="u-1",
    )
    with session_scope(db) as s:
        out = record_event(s, stop, at=T0 + timedelta(days=1, minutes=1))
        again = record_event(s, stop, at=T0 + timedelta(days=1, minutes=2))
    assert "consents:revoked" in out.effects and again.duplicate
    with session_scope(db) as s:
        got = {c.id: (c.revoked_at, c.revoked_reason) for c in consents_of(s, lead)}
    assert got[mine] == got[theirs] == (T0 + timedelta(days=1), f"unsubscribed (event {out.event_id})")
    assert got[later] == (None, None)
    assert _codes(db, lead, w.campaign_id, at=T0 + timedelta(days=3)) == ["not_enrolled", "unsubscribed"]


def test_allocation_hands_a_campaign_no_lead_it_could_never_touch_for_want_of_consent(db: Database) -> None:
    from leadpool.allocation.allocate import allocate

    with session_scope(db) as s:
        agency, other = f.agency(s), f.agency(s)
        email_only = f.campaign(s, agency, channels=("email",))
        with_linkedin = f.campaign(s, other, channels=("email", "linkedin"))
        berlin = f.lead(s, country="Germany", time_zone="Europe/Berlin")
        consented = f.lead(s, country="Germany", time_zone="Europe/Berlin")
        boston = f.lead(s, country="United States")
        nowhere = f.lead(s, country=None)  # a country not known: no consent asked for
        grant_consent(s, lead_id=consented, agency_id=agency, basis="express", source="form", actor="ops:kim")
    with session_scope(db) as s:
        got = allocate(s, email_only, 10, refill_shortfall=False).lead_ids
    # berlin could only ever be denied no_consent there: it stays in the pool for someone who can
    assert sorted(got) == sorted([consented, boston, nowhere])
    with session_scope(db) as s:
        assert allocate(s, with_linkedin, 10, refill_shortfall=False).lead_ids == [
            berlin
        ]  # LinkedIn needs none
