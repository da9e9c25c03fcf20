"""The single check's fast path (gate_fast_check): a clean allow in one call, everything else to the
full check, which decides and explains. The model test drives both paths at random; these pin the
cases one by one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.gate.factories import MONDAY_OPEN, World, set_agency, set_campaign, set_lead

from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import CheckRequest, caps, check, check_many, fast
from leadpool.models import SenderPause

T0 = MONDAY_OPEN


def _try(db: Database, lead_id: int, campaign_id: int, channel: str = "email", **kw: Any) -> Any:
    with session_scope(db) as s:
        dbapi = s.connection().connection.dbapi_connection
        return fast.try_allow(
            dbapi,
            lead_id=lead_id,
            campaign_id=campaign_id,
            channel=channel,
            sender=kw.get("sender", "anna@agency.example"),
            at=kw.get("at", T0),
            idempotency_key=kw.get("idempotency_key"),
        )


def _counts(db: Database) -> tuple[int, int, int]:
    with db.engine.connect() as c:
        return (
            c.execute(text("SELECT count(*) FROM touches")).scalar_one(),
            c.execute(text("SELECT count(*) FROM decisions")).scalar_one(),
            c.execute(text("SELECT coalesce(sum(n), 0) FROM gate_counters")).scalar_one(),
        )


def _primed(db: Database, **world: Any) -> tuple[World, int]:
    """A world whose campaign policy this process knows (one full check done), and a fresh lead."""
    with session_scope(db) as s:
        w = World(s, **world)
        first = w.lead()
        lid = w.lead(company_id=None)
    with session_scope(db) as s:
        assert check(s, lead_id=first, campaign_id=w.campaign_id, channel="linkedin", at=T0).allowed
    return w, lid


def test_lock_keys_are_the_ones_the_function_computes(db: Database) -> None:
    with db.engine.connect() as c:
        lead_key, company_key = c.execute(text("SELECT (1::bigint << 56) + 42, (2::bigint << 56) + 42")).one()
    assert caps.lock_key("lead", 42) == lead_key and caps.lock_key("company", 42) == company_key
    assert caps.lock_key("idem", "42") not in (lead_key, company_key)


def test_a_clean_allow_is_reserved_and_recorded_in_one_call(db: Database) -> None:
    w, _ = _primed(db)
    lid = _lead(db, w, time_zone="Europe/London")
    before = _counts(db)
    got = _try(db, lid, w.campaign_id, "email", sender="anna@agency.example")
    assert got is not None
    touch_id, decision_id = got
    with db.engine.connect() as c:
        t = c.execute(text("SELECT * FROM touches WHERE id = :i"), {"i": touch_id}).mappings().one()
        d = c.execute(text("SELECT * FROM decisions WHERE id = :i"), {"i": decision_id}).mappings().one()
        counters = dict(
            c.execute(
                text("SELECT scope, n FROM gate_counters WHERE key LIKE '%anna%' OR scope <> 'sender'")
            ).all()
        )
    assert t["state"] == "reserved" and t["lead_id"] == lid and t["at"] == T0
    assert str(t["local_date"]) == "2026-03-02" and t["expires_at"] == T0 + timedelta(minutes=15)
    assert t["company_id"] == w.company_id and t["agency_id"] == w.agency_id and t["channel"] == "email"
    assert (
        d["allowed"]
        and d["reasons"] == []
        and d["touch_id"] == touch_id
        and d["campaign_id"] == w.campaign_id
    )
    assert counters["sender"] == 1 and counters["company"] == 2  # the priming check's lead shares it
    after = _counts(db)
    assert after[0] == before[0] + 1 and after[1] == before[1] + 1 and after[2] == before[2] + 3


def _lead(db: Database, w: World, **kw: Any) -> int:
    with session_scope(db) as s:
        w.session = s
        return w.lead(**kw)


def _pause_sender(s: Session, key: str, *, until: Any, reason: str = "sender_block_guard") -> None:
    s.add(SenderPause(sender=key, reason=reason, paused_at=T0 - timedelta(hours=1), until=until))


def test_a_pause_that_ended_or_names_another_channel_allows_on_the_fast_path(db: Database) -> None:
    w, lid = _primed(db)
    other = _lead(db, w, company_id=None)
    with session_scope(db) as s:
        _pause_sender(s, "email:anna@agency.example", until=T0)  # ended at the check's instant
        _pause_sender(s, "linkedin:anna-li", until=None, reason="sender_bounce_guard")
    assert _try(db, lid, w.campaign_id, "email") is not None
    assert _try(db, other, w.campaign_id, "linkedin", sender="anna@agency.example") is not None
    assert _try(db, other, w.campaign_id, "linkedin", sender="anna-li", at=T0 + timedelta(days=1)) is None


def _lead_state(**values: Any) -> Callable[[Session, World, int], None]:
    return lambda s, w, lid: set_lead(s, lid, **values)


_DENIALS: dict[str, tuple[str, Callable[[Session, World, int], None], str]] = {
    "unsubscribed": ("email", _lead_state(unsubscribed_at=T0 - timedelta(days=1)), "unsubscribed"),
    "complained": ("linkedin", _lead_state(complained_at=T0 - timedelta(days=1)), "complained"),
    "bounced": ("email", _lead_state(email_bounced_at=T0 - timedelta(days=1)), "email_bounced"),
    "replied": ("sms", _lead_state(replied_at=T0 - timedelta(days=1)), "replied"),
    "wrong person": ("phone", _lead_state(wrong_person_at=T0 - timedelta(days=1)), "replied"),
    "cooling": ("email", _lead_state(cooling_until=T0 + timedelta(days=30)), "cooling"),
    "out of office": ("email", _lead_state(paused_until=T0 + timedelta(days=2)), "paused_ooo"),
    "rest": ("linkedin", _lead_state(rest_until=T0 + timedelta(days=2)), "rest_period"),
    "converted": ("email", _lead_state(converted_at=T0 - timedelta(days=1)), "converted"),
    "erased": ("email", _lead_state(erased_at=T0 - timedelta(days=1)), "erased"),
    "blocklisted": ("email", _lead_state(blocklisted_at=T0 - timedelta(days=1)), "blocklisted"),
    "guessed email": ("email", _lead_state(email_status="extrapolated"), "email_unverified"),
    "no phone": ("sms", _lead_state(phone=None), "no_address"),
    "no linkedin": ("linkedin", _lead_state(linkedin_url=None), "no_address"),
    "quiet hours": ("email", _lead_state(time_zone="Asia/Tokyo"), "quiet_hours"),
    "no zone for sms": ("sms", _lead_state(time_zone=None), "unknown_timezone"),
    "not a zone": ("sms", _lead_state(time_zone="Mars/Olympus"), "unknown_timezone"),
    "campaign paused": (
        "email",
        lambda s, w, lid: set_campaign(s, w.campaign_id, status="paused"),
        "campaign_not_active",
    ),
    "agency cancelled": (
        "email",
        lambda s, w, lid: set_agency(s, w.agency_id, status="cancelled"),
        "agency_inactive",
    ),
    "channel not used": (
        "sms",
        lambda s, w, lid: set_campaign(s, w.campaign_id, channels=["email"]),
        "channel_not_in_campaign",
    ),
    "not enrolled": (
        "email",
        lambda s, w, lid: s.execute(
            text("UPDATE enrollments SET status = 'ended' WHERE lead_id = :l"), {"l": lid}
        ),
        "not_enrolled",
    ),
    "sender paused": (
        "email",
        lambda s, w, lid: _pause_sender(s, "email:anna@agency.example", until=None),
        "sender_paused",
    ),
    "sender paused for a day": (
        "email",
        lambda s, w, lid: _pause_sender(s, "email:anna@agency.example", until=T0 + timedelta(hours=3)),
        "sender_paused",
    ),
    "not owned": (
        "email",
        lambda s, w, lid: s.execute(text("DELETE FROM ownerships WHERE lead_id = :l"), {"l": lid}),
        "not_owned",
    ),
}


@pytest.mark.parametrize("name", sorted(_DENIALS))
def test_every_deny_goes_to_the_full_check_having_written_nothing(db: Database, name: str) -> None:
    channel, arrange, code = _DENIALS[name]
    w, lid = _primed(db)
    with session_scope(db) as s:
        arrange(s, w, lid)
    before = _counts(db)
    assert _try(db, lid, w.campaign_id, channel) is None
    assert _counts(db) == before
    with session_scope(db) as s:
        d = check(
            s, lead_id=lid, campaign_id=w.campaign_id, channel=channel, sender="anna@agency.example", at=T0
        )
    assert d.decision == "deny" and code in d.codes


def test_lead_cap_reached_by_an_earlier_touch_goes_to_the_full_check(db: Database) -> None:
    w, lid = _primed(db)
    assert _try(db, lid, w.campaign_id, "email") is not None
    before = _counts(db)
    assert _try(db, lid, w.campaign_id, "linkedin", at=T0 + timedelta(minutes=1)) is None
    assert _counts(db) == before  # the counters raised on the way were given back
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=T0 + timedelta(minutes=1))
    assert d.codes == ["lead_daily_cap"]


def test_a_counter_at_its_cap_is_given_back_and_recounted_by_the_full_check(db: Database) -> None:
    w, _ = _primed(db, campaign_gate={"sender_daily_caps": {"email": 1}})
    a, b = _lead(db, w, company_id=None), _lead(db, w, company_id=None)
    first = _try(db, a, w.campaign_id, "email", sender="one@agency.example")
    assert first is not None
    before = _counts(db)
    assert _try(db, b, w.campaign_id, "email", sender="one@agency.example") is None
    assert _counts(db) == before  # the agency counter raised before the sender's refused is back
    with session_scope(db) as s:
        d = check(
            s, lead_id=b, campaign_id=w.campaign_id, channel="email", sender="one@agency.example", at=T0
        )
        assert d.codes == ["sender_daily_cap"]
    # the first reservation cancelled: the counter still says 1, the full check recounts and allows
    with db.engine.begin() as c:
        c.execute(text("UPDATE touches SET state = 'cancelled' WHERE id = :i"), {"i": first[0]})
    assert _try(db, b, w.campaign_id, "email", sender="one@agency.example") is None
    with session_scope(db) as s:
        d = check(
            s, lead_id=b, campaign_id=w.campaign_id, channel="email", sender="one@agency.example", at=T0
        )
    assert d.allowed


def test_changed_settings_are_not_decided_with_the_old_policy(db: Database) -> None:
    w, lid = _primed(db)
    with session_scope(db) as s:
        # linkedin now has a window, closed at 10:00 in New York
        set_campaign(
            s, w.campaign_id, settings={"gate": {"windows": {"linkedin": {"start": "12:00", "end": "13:00"}}}}
        )
    assert _try(db, lid, w.campaign_id, "linkedin") is None
    with session_scope(db) as s:
        assert check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=T0).codes == [
            "quiet_hours"
        ]
    # the full check resolved the new policy: the fast path uses it from now on
    assert _try(db, lid, w.campaign_id, "linkedin") is None
    assert _try(db, lid, w.campaign_id, "linkedin", at=T0 + timedelta(hours=2)) is not None


def test_a_zone_missing_from_the_list_goes_to_the_full_check(db: Database) -> None:
    w, lid = _primed(db)
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM gate_time_zones WHERE name = 'America/New_York'"))
    try:
        assert _try(db, lid, w.campaign_id, "email") is None
        with session_scope(db) as s:
            assert check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0).allowed
    finally:
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO gate_time_zones (name) VALUES ('America/New_York')"))


def test_an_idempotency_key_is_stored_and_a_replay_goes_to_the_full_check(db: Database) -> None:
    w, lid = _primed(db)
    got = _try(db, lid, w.campaign_id, "email", idempotency_key="k-1")
    assert got is not None
    assert _try(db, lid, w.campaign_id, "email", idempotency_key="k-1") is None
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, idempotency_key="k-1")
    assert d.replayed and d.allowed and (d.touch_id, d.decision_id) == got


def test_company_pause_and_company_weekly_cap_go_to_the_full_check(db: Database) -> None:
    w, _ = _primed(db, campaign_gate={"company_weekly_cap": 1})
    lid = _lead(db, w)  # same company as the priming lead, which already has a touch this week
    assert _try(db, lid, w.campaign_id, "email") is None
    with session_scope(db) as s:
        assert (
            "company_weekly_cap"
            in check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0).codes
        )


def test_bad_input_is_refused_before_the_fast_path_and_nothing_stored_changes(db: Database) -> None:
    w, lid = _primed(db)  # the campaign's policy is known: a valid check would take the fast path
    before = _counts(db)
    with session_scope(db) as s:
        with pytest.raises(InvalidInput, match="channel 'fax' is not one of email, linkedin, sms, phone"):
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="fax", at=T0)
        with pytest.raises(InvalidInput, match="has no time zone"):
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0.replace(tzinfo=None))
        with pytest.raises(InvalidInput, match="sender is empty"):
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", sender="  ", at=T0)
        with pytest.raises(InvalidInput, match=r"lead_id must be a positive integer \(a bigint\), not '\d+'"):
            check(s, lead_id=str(lid), campaign_id=w.campaign_id, channel="email", at=T0)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="lead_id must be a positive integer"):
            check(s, lead_id=2**63, campaign_id=w.campaign_id, channel="email", at=T0)
        with pytest.raises(InvalidInput, match="reserve must be true or false, not 'yes'"):
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", reserve="yes", at=T0)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="is not between 1970 and 2999"):
            # stored, a touch in the year 9999 broke every timeline listing it
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0.replace(year=9999))
        with pytest.raises(InvalidInput, match="sender contains a NUL character"):
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", sender="a\x00b", at=T0)
        with pytest.raises(InvalidInput, match="idempotency_key must be a string, not int"):
            check_many(s, [CheckRequest(lid, w.campaign_id, "email", at=T0, idempotency_key=5)])  # type: ignore[arg-type]
    assert _counts(db) == before
    # ids that do not exist are answers, not errors: a deny saying so, recorded, nothing reserved
    with session_scope(db) as s:
        d = check(s, lead_id=10**9, campaign_id=w.campaign_id, channel="email", at=T0)
        assert d.codes == ["not_owned", "not_enrolled"] and "does not exist" in d.reasons[0].message
        d = check(s, lead_id=lid, campaign_id=10**9, channel="email", at=T0)
        assert "campaign_not_active" in d.codes and d.touch_id is None
    after = _counts(db)
    assert after[0] == before[0] and after[1] == before[1] + 2 and after[2] == before[2]


def test_a_sending_worker_is_denied_a_paused_sender_and_told_until_when(db: Database) -> None:
    from leadpool.gate import GateWorker

    w, lid = _primed(db)
    with session_scope(db) as s:
        _pause_sender(s, "email:anna@agency.example", until=T0 + timedelta(hours=2))
    with GateWorker(db) as gate:
        d = gate.check(
            lead_id=lid, campaign_id=w.campaign_id, channel="email", sender="Anna@Agency.example", at=T0
        )
        later = gate.check(
            lead_id=lid,
            campaign_id=w.campaign_id,
            channel="email",
            sender="anna@agency.example",
            at=T0 + timedelta(hours=2),
        )
    assert d.codes == ["sender_paused"] and d.retry_after == T0 + timedelta(hours=2)
    assert later.allowed
