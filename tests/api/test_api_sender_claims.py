"""A sending account, and an email sending domain, belong to the agency that named it first over
the API: another agency naming it is denied ``sender_not_owned`` and so can neither spend its cap
nor pause it; an operator moves or frees a claim."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select, text
from typer.testing import CliRunner

from api.world import MONDAY
from leadpool.cli import app
from leadpool.db import session_scope
from leadpool.events.dead_domains import MAILBOX_PROVIDERS
from leadpool.gate import GateWorker
from leadpool.models import AuditLog, SenderClaim, Touch

runner = CliRunner()


def _codes(decision) -> list[str]:
    return [r.code for r in decision.reasons]


def _claims(db) -> dict[str, int]:
    with session_scope(db) as s:
        return dict(s.execute(select(SenderClaim.sender, SenderClaim.agency_id)).tuples().all())


def test_an_agency_can_neither_pause_nor_spend_another_agencys_sender(api, world, db):
    """The review's attack: A names B's LinkedIn account in its own checks, "sends" from it and
    reports a policy block on each send, which paused B's account for everyone (B could neither
    see nor resume the pause); or it spends B's daily cap. Now A's checks are denied, nothing is
    reserved, and B's account stays B's."""
    w = world
    victim = "li-b-sdr1"
    d = w.cb.check(w.alloc_b.allocated[0], w.camp_b.id, "linkedin", sender=victim, at=MONDAY)
    assert d.decision == "allow", d.reasons
    w.cb.cancel_touch(d.touch_id)
    assert _claims(db) == {f"linkedin:{victim}": w.b.id}

    for i, lead in enumerate(w.alloc_a.allocated[:3]):
        spelled = f"  {victim} " if i else victim  # one sender, however it is spelled
        d = w.ca.check(lead, w.camp_a.id, "linkedin", sender=spelled, at=MONDAY + timedelta(days=i))
        assert (d.decision, _codes(d), d.touch_id) == ("deny", ["sender_not_owned"], None)
        assert "another agency" in d.reasons[0].message and victim in d.reasons[0].message
    batch = w.ca.check_batch(
        [
            {"lead_id": w.alloc_a.allocated[3], "campaign_id": w.camp_a.id, "channel": "linkedin",
             "sender": victim, "at": MONDAY.isoformat()},
            {"lead_id": w.alloc_a.allocated[4], "campaign_id": w.camp_a.id, "channel": "linkedin",
             "sender": "li-a-sdr1", "at": MONDAY.isoformat()},
            {"lead_id": w.alloc_b.allocated[1], "campaign_id": w.camp_a.id, "channel": "linkedin",
             "sender": victim, "at": MONDAY.isoformat()},
        ]
    )  # fmt: skip
    assert _codes(batch[0]) == ["sender_not_owned"] and batch[0].touch_id is None
    assert batch[1].decision == "allow", batch[1].reasons  # its own account: decided as ever
    assert "not_owned" in _codes(batch[2]) and "sender_not_owned" not in _codes(batch[2])  # not held first
    with session_scope(db) as s:
        named = s.scalars(select(Touch.sender).where(Touch.agency_id == w.a.id)).all()
    assert named == ["li-a-sdr1"]
    assert _claims(db) == {f"linkedin:{victim}": w.b.id, "linkedin:li-a-sdr1": w.a.id}

    # A's refused checks are A's own checks: in its lead's timeline, not in B's
    entries = w.ca.lead_timeline(w.alloc_a.allocated[0]).entries
    refused = [e for e in entries if e.kind == "decision" and "sender_not_owned" in json.dumps(e.detail)]
    assert len(refused) == 1

    d = w.cb.check(w.alloc_b.allocated[2], w.camp_b.id, "linkedin", sender=victim, at=MONDAY)
    assert d.decision == "allow", d.reasons
    # each agency sees its own claims, the operators all of them
    assert [(c.sender, c.actor) for c in w.cb.sender_claims()] == [(f"linkedin:{victim}", f"agency:{w.b.id}")]
    assert [c.sender for c in w.ca.sender_claims()] == ["linkedin:li-a-sdr1"]
    assert len(api.admin.sender_claims()) == 2


def test_an_email_sender_claims_its_sending_domain_but_not_a_mailbox_providers(api, world, db):
    w = world
    mail = w.cb.create_campaign(
        "B mail", ["email"], {"email_statuses": ["verified", "guessed"]}, daily_quota=5
    )
    w.cb.activate_campaign(mail.id)
    gmail = "gmail.com"
    assert gmail in MAILBOX_PROVIDERS
    w.ca.check(w.alloc_a.allocated[0], w.camp_a.id, "email", sender="SDR1@Agency-A.example", at=MONDAY)
    w.ca.check(w.alloc_a.allocated[1], w.camp_a.id, "email", sender=f"a.sdr@{gmail}", at=MONDAY)
    assert _claims(db) == {
        "email:sdr1@agency-a.example": w.a.id,
        "domain:agency-a.example": w.a.id,
        f"email:a.sdr@{gmail}": w.a.id,
    }
    # B names another mailbox at A's sending domain: its pause and its rates are the domain's
    lead_b = w.alloc_b.allocated[0]
    d = w.cb.check(lead_b, mail.id, "email", sender="sdr9@agency-a.example.", at=MONDAY, reserve=False)
    assert "sender_not_owned" in _codes(d)
    d = w.cb.check(lead_b, mail.id, "email", sender=f"b.sdr@{gmail}", at=MONDAY, reserve=False)
    assert "sender_not_owned" not in _codes(d)  # a provider's domain is nobody's
    assert f"email:b.sdr@{gmail}" not in _claims(db)  # and a dry run claims nothing


def test_a_dry_run_claims_nothing(api, world, db):
    """A check that reserves nothing proves nothing was ever sent from the sender: naming a
    competitor's new sending domain in one must not take the domain (a review's squat)."""
    w = world
    mail = w.cb.create_campaign(
        "B mail", ["email"], {"email_statuses": ["verified", "guessed"]}, daily_quota=5
    )
    w.cb.activate_campaign(mail.id)
    squat = w.ca.check(
        w.alloc_a.allocated[0],
        w.camp_a.id,
        "email",
        sender="x@b-new-domain.example",
        at=MONDAY,
        reserve=False,
    )
    assert squat.touch_id is None and _claims(db) == {}
    batch = w.ca.check_batch(
        [{"lead_id": lead, "campaign_id": w.camp_a.id, "channel": "email", "sender": f"x@b-new{n}.example",
          "at": MONDAY.isoformat(), "reserve": False} for n, lead in enumerate(w.alloc_a.allocated)]
    )  # fmt: skip
    assert all(d.touch_id is None for d in batch) and _claims(db) == {}
    d = w.cb.check(w.alloc_b.allocated[0], mail.id, "email", sender="sdr1@b-new-domain.example", at=MONDAY)
    assert "sender_not_owned" not in _codes(d)
    assert _claims(db)["domain:b-new-domain.example"] == w.b.id


def _cli(*args: str):
    return runner.invoke(app, ["send", *args])


def test_an_operator_lists_moves_shares_and_frees_claims(api, world, db):
    w = world
    first = w.ca.check(w.alloc_a.allocated[0], w.camp_a.id, "linkedin", sender="li-shared", at=MONDAY)
    w.ca.cancel_touch(first.touch_id)
    listed = _cli("sender-claims", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert (row["sender"], row["agency_id"], row["actor"]) == (
        "linkedin:li-shared",
        w.a.id,
        f"agency:{w.a.id}",
    )
    human = _cli("sender-claims", "--agency", str(w.b.id))
    assert human.exit_code == 0 and "no sender is claimed" in human.stdout

    moved = _cli(
        "claim-sender", "linkedin:li-shared", "--agency", str(w.b.id), "--actor", "ops:kim", "--json"
    )
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout) | {"claimed_at": None} == {
        "sender": "linkedin:li-shared",
        "agency_id": w.b.id,
        "agency_id_was": w.a.id,
        "was_claimed": True,
        "actor": "ops:kim",
        "claimed_at": None,
    }
    lead_a, lead_b = w.alloc_a.allocated[0], w.alloc_b.allocated[0]
    d = w.ca.check(lead_a, w.camp_a.id, "linkedin", sender="li-shared", at=MONDAY, reserve=False)
    assert "sender_not_owned" in _codes(d)
    d = w.cb.check(lead_b, w.camp_b.id, "linkedin", sender="li-shared", at=MONDAY, reserve=False)
    assert "sender_not_owned" not in _codes(d)

    again = _cli(
        "claim-sender", "li-shared", "--channel", "linkedin", "--agency", str(w.b.id), "--actor", "ops"
    )
    assert again.exit_code == 0 and "already; nothing changed" in again.stdout
    domain = _cli("claim-sender", "@Agency-B.example.", "--agency", str(w.b.id), "--actor", "ops")
    assert domain.exit_code == 0 and f"domain:agency-b.example is now agency {w.b.id}" in domain.stdout

    freed = _cli("release-sender", "li-shared", "--channel", "linkedin", "--actor", "ops")
    assert freed.exit_code == 0 and f"is no longer agency {w.b.id}" in freed.stdout
    assert "linkedin:li-shared" not in _claims(db)
    d = w.ca.check(lead_a, w.camp_a.id, "linkedin", sender="li-shared", at=MONDAY, reserve=False)
    assert "sender_not_owned" not in _codes(d)  # freed: the next agency to reserve with it claims it

    # a domain several agencies send from (each from its own mailboxes) is shared: nobody's
    shared = _cli("claim-sender", "domain:agency-b.example", "--shared", "--actor", "ops")
    assert shared.exit_code == 0 and "is now shared (nobody's) (it was agency" in shared.stdout
    mail = w.ca.check(lead_a, w.camp_a.id, "email", sender="a@agency-b.example", at=MONDAY)
    assert "sender_not_owned" not in _codes(mail)
    assert (
        _claims(db)["domain:agency-b.example"] is None and _claims(db)["email:a@agency-b.example"] == w.a.id
    )
    with session_scope(db) as s:
        audit = s.execute(
            select(AuditLog.action, AuditLog.subject_id, AuditLog.actor)
            .where(AuditLog.subject_type == "sender")
            .order_by(AuditLog.id)  # without it the rows come in whatever order the heap holds
        ).all()
    assert [tuple(a) for a in audit] == [
        ("sender.claim", "linkedin:li-shared", "ops:kim"),
        ("sender.claim", "linkedin:li-shared", "ops"),
        ("sender.claim", "domain:agency-b.example", "ops"),
        ("sender.release", "linkedin:li-shared", "ops"),
        ("sender.claim", "domain:agency-b.example", "ops"),
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["claim-sender", "x", "--agency", "999999", "--actor", "ops"], "agency 999999 not found"),
        (["claim-sender", "x", "--channel", "fax", "--agency", "1", "--actor", "ops"], "fax"),
        (["claim-sender", "@acme.example", "--channel", "sms", "--agency", "1", "--actor", "ops"], "@DOMAIN"),
        (["claim-sender", "x", "--agency", "1", "--actor", " "], "actor"),
        (["claim-sender", " ", "--agency", "1", "--actor", "ops"], "sender"),
        (["release-sender", "nobody@x.example", "--actor", "ops"], "is not claimed"),
        (["claim-sender", "x", "--actor", "ops"], "exactly one of --agency ID and --shared"),
        (["claim-sender", "x\x00y", "--agency", "1", "--actor", "ops"], "NUL"),
        (["claim-sender", "@", "--agency", "1", "--actor", "ops"], "@DOMAIN"),
        (["claim-sender", "x", "--agency", "1", "--shared", "--actor", "ops"], "exactly one of"),
    ],
)
def test_bad_claims_are_refused_with_nothing_changed(api, world, db, args, says):
    before = _claims(db)
    r = runner.invoke(app, ["send", *args])
    assert r.exit_code == 2 and says in r.output and "Traceback" not in r.output, r.output
    assert _claims(db) == before


def test_the_upgrade_claims_each_sender_one_agency_used_alone(api, world, db):
    """Migration 0042's backfill, run over touches made by the platform's own sending workers (a
    GateWorker neither claims nor is refused): a sender one agency used is that agency's; one two
    agencies used is shared; a mailbox provider's domain is nobody's."""
    from importlib import import_module

    w = world
    with GateWorker(db) as worker:
        for day, (lead, campaign, channel, sender) in enumerate(
            (
                (w.alloc_a.allocated[0], w.camp_a.id, "linkedin", "li-a"),
                (w.alloc_a.allocated[1], w.camp_a.id, "linkedin", "li-both"),
                (w.alloc_b.allocated[0], w.camp_b.id, "linkedin", "li-both"),
                (w.alloc_a.allocated[2], w.camp_a.id, "email", "sdr@agency-a.example"),
                (w.alloc_a.allocated[3], w.camp_a.id, "email", "x@gmail.com"),
            )
        ):  # a day each (Monday to Friday): no company cap is met
            at = MONDAY + timedelta(days=day)
            d = worker.check(lead_id=lead, campaign_id=campaign, channel=channel, sender=sender, at=at)
            assert d.touch_id is not None, (sender, d.reasons)
    assert _claims(db) == {}  # the trusted workers claim nothing
    backfill = import_module("leadpool.migrations.versions.0042_sender_claims")
    with session_scope(db) as s:
        s.execute(delete(SenderClaim))
        s.execute(text(backfill._BACKFILL), {"providers": sorted(MAILBOX_PROVIDERS)})
    assert _claims(db) == {
        "linkedin:li-a": w.a.id,
        "linkedin:li-both": None,  # two agencies named it: shared, nobody's
        "email:sdr@agency-a.example": w.a.id,
        "domain:agency-a.example": w.a.id,
        "email:x@gmail.com": w.a.id,
    }


@pytest.mark.parametrize("sender", ["li\x00nul", " ", "x" * 501])
def test_a_check_naming_a_malformed_sender_is_refused_and_claims_nothing(api, world, db, sender):
    """Sent as raw JSON (the client refuses these before sending): a 422 naming the sender, and
    neither a claim nor a reservation is stored."""
    w = world
    first = w.ca.check(w.alloc_a.allocated[0], w.camp_a.id, "linkedin", sender="li-a-own", at=MONDAY)
    before = _claims(db)
    item = {
        "lead_id": w.alloc_a.allocated[1],
        "campaign_id": w.camp_a.id,
        "channel": "linkedin",
        "sender": sender,
        "at": MONDAY.isoformat(),
    }
    auth = {"Authorization": f"Bearer {w.a.api_key}"}
    for path, body in (("/v1/sends/check", item), ("/v1/sends/check-batch", {"items": [item]})):
        r = httpx.post(api.url + path, json=body, headers=auth)
        assert r.status_code == 422 and "sender" in r.json()["detail"], (path, r.text)
    assert _claims(db) == before
    with session_scope(db) as s:
        assert s.scalars(select(Touch.id).where(Touch.agency_id == w.a.id)).all() == [first.touch_id]


@pytest.fixture
def operator_claims(monkeypatch: pytest.MonkeyPatch):
    from leadpool.events.settings import get_event_settings

    monkeypatch.setenv("LEADPOOL_EVENTS_SENDER_CLAIMS", "operator")
    get_event_settings.cache_clear()
    yield
    monkeypatch.delenv("LEADPOOL_EVENTS_SENDER_CLAIMS")
    get_event_settings.cache_clear()


def test_with_operator_claims_only_an_operator_gives_a_sender(api, world, db, operator_claims):
    """``LEADPOOL_EVENTS_SENDER_CLAIMS=operator`` closes first come, first served: an agency cannot
    take a competitor's account by naming it before its owner does. Nothing is claimed by use; an
    account an operator gave the agency, or marked shared, is the agency's to name."""
    w = world
    lead_a, lead_b = w.alloc_a.allocated[0], w.alloc_b.allocated[0]
    squat = w.ca.check(lead_a, w.camp_a.id, "linkedin", sender="li-b-new", at=MONDAY)
    assert (squat.decision, _codes(squat), squat.touch_id) == ("deny", ["sender_not_owned"], None)
    unclaimed = squat.reasons[0].message
    assert "another agency" not in unclaimed and "claim-sender" in unclaimed
    assert _claims(db) == {}  # a refused check claims nothing either

    assert _cli("claim-sender", "li-b-new", "--channel", "linkedin", "--agency", str(w.b.id),
                "--actor", "ops").exit_code == 0  # fmt: skip
    d = w.cb.check(lead_b, w.camp_b.id, "linkedin", sender="li-b-new", at=MONDAY)
    assert d.decision == "allow", d.reasons
    taken = w.ca.check(lead_a, w.camp_a.id, "linkedin", sender="li-b-new", at=MONDAY, reserve=False)
    assert _codes(taken) == ["sender_not_owned"]
    # the same sentence whether another agency holds it or nobody does: it confirms no one's use
    assert taken.reasons[0].message == unclaimed

    # a mailbox given to the agency is enough; its unclaimed sending domain is nobody's
    mail = w.ca.create_campaign(
        "A mail", ["email"], {"email_statuses": ["verified", "guessed"]}, daily_quota=5
    )
    w.ca.activate_campaign(mail.id)
    assert (
        _cli("claim-sender", "sdr@a-mail.example", "--agency", str(w.a.id), "--actor", "ops").exit_code == 0
    )
    d = w.ca.check(lead_a, mail.id, "email", sender="SDR@a-mail.example", at=MONDAY, reserve=False)
    assert "sender_not_owned" not in _codes(d)
    d = w.ca.check(lead_a, mail.id, "email", sender="other@a-mail.example", at=MONDAY, reserve=False)
    assert "sender_not_owned" in _codes(d)  # another mailbox at it was not given

    # shared: every agency may name it, and still nothing is claimed by use
    assert (
        _cli("claim-sender", "li-pool", "--channel", "linkedin", "--shared", "--actor", "ops").exit_code == 0
    )
    named = zip(w.alloc_a.allocated[1:4], ["li-pool", "li-x", "li-pool"], strict=True)
    batch = w.ca.check_batch(
        [{"lead_id": lead, "campaign_id": w.camp_a.id, "channel": "linkedin", "sender": sender,
          "at": MONDAY.isoformat()} for lead, sender in named]
    )  # fmt: skip
    assert ["sender_not_owned" in _codes(d) for d in batch] == [False, True, False]
    assert _claims(db) == {
        "linkedin:li-b-new": w.b.id,
        "email:sdr@a-mail.example": w.a.id,
        "linkedin:li-pool": None,
    }


def test_a_bad_sender_claims_setting_is_refused_at_start(monkeypatch: pytest.MonkeyPatch):
    from pydantic import ValidationError

    from leadpool.config import check_settings

    monkeypatch.setenv("LEADPOOL_EVENTS_SENDER_CLAIMS", "admins")
    with pytest.raises(ValidationError) as raised:  # the API server and the worker check settings first
        check_settings()
    assert "sender_claims" in str(raised.value) and "'first_use' or 'operator'" in str(raised.value)
