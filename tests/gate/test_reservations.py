"""Reservations: counting, TTL expiry, confirm and cancel, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from tests.gate.factories import MONDAY_OPEN, World

from leadpool.db import Database, session_scope
from leadpool.errors import Conflict, InvalidInput, NotFound
from leadpool.gate import (
    CheckRequest,
    IdempotencyKeyReused,
    cancel,
    check,
    check_many,
    confirm_sent,
    expire_reservations,
)

T0 = MONDAY_OPEN


def _world(db: Database, **kw: object) -> tuple[World, int]:
    with session_scope(db) as s:
        w = World(s, **kw)  # type: ignore[arg-type]
        lid = w.lead()
    return w, lid


def test_allowed_check_reserves_a_touch_and_records_the_decision(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", sender="a@x.com", at=T0)
    assert d.decision == "allow" and d.reasons == [] and d.touch_id is not None
    with db.engine.connect() as c:
        t = c.execute(text("SELECT state, at, local_date, expires_at, sender FROM touches")).one()
        dec = c.execute(text("SELECT allowed, touch_id, reasons FROM decisions")).one()
    assert t.state == "reserved" and t.at == T0 and str(t.local_date) == "2026-03-02"
    assert t.expires_at == T0 + timedelta(minutes=15) and t.sender == "a@x.com"
    assert dec.allowed and dec.touch_id == d.touch_id and dec.reasons == []


def test_reservation_counts_then_expires(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        assert check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0).allowed
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=T0 + timedelta(minutes=5))
    assert d.codes == ["lead_daily_cap"]
    assert d.reasons[0].retry_after == T0.replace(hour=5) + timedelta(days=1)  # NY midnight = 05:00 UTC
    # 15 minutes later the reservation no longer counts
    with session_scope(db) as s:
        d = check(
            s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=T0 + timedelta(minutes=16)
        )
    assert d.allowed and d.touch_id is not None


def test_confirm_and_cancel(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0)
        assert d.touch_id is not None
        t = confirm_sent(s, d.touch_id, "msg-1", at=T0 + timedelta(minutes=1))
        assert t.state == "sent" and t.provider_message_id == "msg-1"
        assert confirm_sent(s, d.touch_id, "msg-1").state == "sent"  # idempotent
        with pytest.raises(Conflict):
            confirm_sent(s, d.touch_id, "msg-2")
        with pytest.raises(Conflict):
            cancel(s, d.touch_id)
        with pytest.raises(NotFound):
            cancel(s, 999999)
    # a sent touch counts for good, also after the TTL
    with session_scope(db) as s:
        d2 = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=T0 + timedelta(hours=2))
    assert d2.codes == ["lead_daily_cap"]


def test_cancel_gives_the_slot_back(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0)
        assert d.touch_id is not None
        assert cancel(s, d.touch_id, at=T0 + timedelta(minutes=1)).state == "cancelled"
        assert cancel(s, d.touch_id).state == "cancelled"  # idempotent
        with pytest.raises(Conflict):
            confirm_sent(s, d.touch_id, "late")
    with session_scope(db) as s:
        assert check(
            s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0 + timedelta(minutes=2)
        ).allowed
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT scope, n FROM gate_counters ORDER BY scope")).all()
    assert [tuple(r) for r in rows] == [("agency", 1), ("company", 1)]


def test_expired_reservation_cannot_be_confirmed(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0)
        assert d.touch_id is not None
        with pytest.raises(Conflict, match="expired"):
            confirm_sent(s, d.touch_id, "too-late", at=T0 + timedelta(minutes=15))


@pytest.mark.parametrize("marked_by", ["job", "check"])
def test_a_confirm_dated_inside_the_ttl_is_accepted_after_the_reservation_was_marked_expired(
    db: Database, marked_by: str
) -> None:
    """The mark is lazy bookkeeping: a send that happened inside the TTL is recorded (and counted)
    whether the worker's job, or another check of the lead, marked the reservation meanwhile."""
    with session_scope(db) as s:
        w = World(s)
        lid = w.lead(company_id=None)
    then = datetime.now(UTC) - timedelta(minutes=20)  # sent at once, confirmed 20 minutes late
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=then)
    assert d.touch_id is not None
    with session_scope(db) as s:
        if marked_by == "job":
            assert expire_reservations(s) == 1
        else:  # the engine's next step for the lead, a day later
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=then + timedelta(days=1))
    with db.engine.connect() as c:
        state = c.execute(text("SELECT state FROM touches WHERE id = :i"), {"i": d.touch_id}).scalar_one()
    assert state == "expired"
    with session_scope(db) as s, pytest.raises(Conflict, match="expired"):
        confirm_sent(s, d.touch_id, "late@mail", at=then + timedelta(minutes=15))  # after the TTL: refused
    with session_scope(db) as s:
        t = confirm_sent(s, d.touch_id, "<late@mail>", at=then + timedelta(minutes=1))
        assert t.state == "sent" and t.provider_message_id == "late@mail" and t.ended_at is None
        assert confirm_sent(s, d.touch_id, "late@mail").state == "sent"  # idempotent, as ever
    with session_scope(db) as s:  # and it counts: the lead's day is spent
        again = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=then)
    assert "lead_daily_cap" in again.codes


def test_a_late_confirm_puts_its_touch_back_in_the_counters_a_recount_left_it_out_of(db: Database) -> None:
    """Three reservations run out, a check near the agency's cap recounts without them and writes
    the counter down; then all three are confirmed as sent inside their TTL. The counter must count
    them again: left low, it let the next checks past the cap without a recount."""
    then = datetime.now(UTC) - timedelta(minutes=20)
    if (then + timedelta(minutes=16)).date() != then.date():  # the agency's day is the UTC day
        then -= timedelta(minutes=30)
    with session_scope(db) as s:
        w = World(s, agency_gate={"agency_daily_cap": 3})
        leads = [w.lead(company_id=None) for _ in range(5)]
    touches = []
    for lid in leads[:3]:
        with session_scope(db) as s:
            d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=then)
        assert d.allowed and d.touch_id is not None
        touches.append(d.touch_id)
    later = then + timedelta(minutes=16)  # all three have run out: the counter (3) is recounted
    with session_scope(db) as s:
        assert check(s, lead_id=leads[3], campaign_id=w.campaign_id, channel="linkedin", at=later).allowed
    for n, tid in enumerate(touches):
        with session_scope(db) as s:
            confirm_sent(s, tid, f"late-{n}@mail", at=then + timedelta(minutes=1))
    with session_scope(db) as s:  # four sent today against a cap of three
        d = check(s, lead_id=leads[4], campaign_id=w.campaign_id, channel="linkedin", at=later)
    assert d.codes == ["agency_daily_cap"], d.codes


def test_expired_reservations_are_marked_lazily(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        first = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0 - timedelta(days=7))
    assert first.allowed
    with session_scope(db) as s:
        assert check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0).allowed
    with db.engine.connect() as c:
        state = c.execute(text("SELECT state FROM touches WHERE id = :i"), {"i": first.touch_id}).scalar_one()
    assert state == "expired"


def test_no_reserve_records_a_decision_without_a_touch(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, reserve=False)
        d2 = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, reserve=False)
    assert d.allowed and d.touch_id is None and d2.allowed
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM touches")).scalar_one() == 0
        assert c.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 2


def test_idempotency_key_returns_the_same_decision_and_touch(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        d1 = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, idempotency_key="k1")
    with session_scope(db) as s:
        d2 = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, idempotency_key="k1")
        d3 = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, idempotency_key="k2")
    assert d1.allowed and d2.allowed and d2.replayed and d2.touch_id == d1.touch_id
    assert d2.decision_id == d1.decision_id
    assert d3.codes == ["lead_daily_cap"]
    with session_scope(db) as s:
        d4 = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0, idempotency_key="k2")
    assert d4.codes == ["lead_daily_cap"] and d4.replayed
    # the same key for another request is refused (the caller's mistake), not silently replayed
    with session_scope(db) as s, pytest.raises(IdempotencyKeyReused, match="already used for another check"):
        check(s, lead_id=lid, campaign_id=w.campaign_id, channel="sms", at=T0, idempotency_key="k2")
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM touches")).scalar_one() == 1
    with session_scope(db) as s, pytest.raises(InvalidInput):
        check_many(
            s,
            [
                CheckRequest(lid, w.campaign_id, "email", idempotency_key="x"),
                CheckRequest(lid, w.campaign_id, "email", idempotency_key="x"),
            ],
        )


def test_check_many_decides_in_order_with_the_same_caps(db: Database) -> None:
    with session_scope(db) as s:
        w = World(s)
        leads = [w.lead() for _ in range(4)]
    with session_scope(db) as s:
        ds = check_many(
            s,
            [CheckRequest(lid, w.campaign_id, "email", sender="box@x.com", at=T0) for lid in leads]
            + [CheckRequest(leads[0], w.campaign_id, "linkedin", at=T0)],
        )
    # company cap 2/day: the first two pass, the next two are denied, and lead 0 is at its daily cap
    assert [d.decision for d in ds] == ["allow", "allow", "deny", "deny", "deny"]
    assert ds[2].codes == ["company_daily_cap"]
    assert ds[4].codes == ["lead_daily_cap", "company_daily_cap"]
    assert len({d.touch_id for d in ds[:2]}) == 2


def test_bad_input_is_refused(db: Database) -> None:
    w, lid = _world(db)
    with session_scope(db) as s:
        d = check(s, lead_id=lid, campaign_id=w.campaign_id, channel="linkedin", at=T0)
        assert d.touch_id is not None
    with session_scope(db) as s:  # a naive instant cannot be compared with the reservation's
        with pytest.raises(InvalidInput, match="has no time zone"):
            cancel(s, d.touch_id, at=T0.replace(tzinfo=None))
        with pytest.raises(InvalidInput, match="has no time zone"):
            confirm_sent(s, d.touch_id, "m-1", at=T0.replace(tzinfo=None))
    with session_scope(db) as s:
        with pytest.raises(InvalidInput, match="channel"):
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="fax")
        with pytest.raises(InvalidInput, match="time zone"):
            check(s, lead_id=lid, campaign_id=w.campaign_id, channel="email", at=T0.replace(tzinfo=None))


def test_a_batch_whose_counter_moved_past_its_cap_is_decided_again_under_lock(db: Database) -> None:
    # A batch reads counters without locking them and raises them at the end only while under the
    # cap. Here a trigger raises the sender's counter by 49 (cap 50) while the batch writes its
    # touches, once (a sequence is not rolled back), as a competing sender would: the raise must
    # fail, the batch's rows go, and the batch is decided again with the counter rows locked.
    with session_scope(db) as s:
        w = World(s)
        leads = [w.lead(company_id=None) for _ in range(2)]
    with db.engine.begin() as c:
        c.execute(text("CREATE SEQUENCE test_bump_once"))
        c.execute(
            text(
                "CREATE FUNCTION test_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF nextval('test_bump_once') = 1 THEN "
                "UPDATE gate_counters SET n = n + 49 WHERE scope = 'sender'; END IF; RETURN NULL; END $$"
            )
        )
        c.execute(
            text(
                "CREATE TRIGGER test_bump AFTER INSERT ON touches FOR EACH STATEMENT EXECUTE FUNCTION test_bump()"
            )
        )
    try:
        with session_scope(db) as s:
            # the counter row exists (n = 0) before the batch, so the trigger has a row to raise
            s.execute(
                text(
                    "INSERT INTO gate_counters (scope, key, day, n) VALUES ('sender', 'email:box@x.com', :d, 0)"
                ),
                {"d": T0.date()},
            )
        with session_scope(db) as s:
            ds = check_many(
                s, [CheckRequest(lid, w.campaign_id, "email", sender="box@x.com", at=T0) for lid in leads]
            )
        assert [d.decision for d in ds] == ["allow", "allow"]
        with db.engine.connect() as c:
            # it fired in the first pass, and its insert again in the second (which it left alone)
            assert c.execute(text("SELECT last_value FROM test_bump_once")).scalar_one() == 2
            assert c.execute(text("SELECT count(*) FROM touches")).scalar_one() == 2
            assert c.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 2
            n = c.execute(text("SELECT n FROM gate_counters WHERE scope = 'sender'")).scalar_one()
        assert n == 2  # recounted exactly under lock: the two reservations, not 49 + 2
    finally:
        with db.engine.begin() as c:
            c.execute(text("DROP TRIGGER test_bump ON touches"))
            c.execute(text("DROP FUNCTION test_bump()"))
            c.execute(text("DROP SEQUENCE test_bump_once"))


def test_a_check_dated_ahead_leaves_the_counters_an_upper_bound_of_what_is_live_now(db: Database) -> None:
    from datetime import UTC, datetime

    from tests.gate import factories

    now = datetime.now(UTC)
    if (now + timedelta(minutes=5)).date() != now.date():
        # the checks now and two minutes later must count one UTC day's sender cap: a run just
        # before midnight (CI at 23:58) asked the late one on the next day, which had room. Eight
        # minutes back, the reservations are still live now (15-minute TTL).
        now -= timedelta(minutes=8)
    with session_scope(db) as s:
        w = World(s, agency_gate={"sender_daily_caps": {"linkedin": 2}})
        leads = [w.lead(company_id=factories.company(s)) for _ in range(4)]
    ask = {"campaign_id": w.campaign_id, "channel": "linkedin", "sender": "acct-1"}
    with session_scope(db) as s:
        first = [check(s, lead_id=lead, at=now, **ask) for lead in leads[:2]]  # type: ignore[arg-type]
        assert all(d.allowed for d in first)
    # a scheduler asks about a send an hour ahead, when these two reservations will have expired
    # (a near-cap check recounts the scope exactly and writes the count back)
    with session_scope(db) as s:
        check(s, lead_id=leads[2], at=now + timedelta(hours=1), **ask)  # type: ignore[arg-type]
    with session_scope(db) as s:  # but they are in flight now, and get sent
        for n, d in enumerate(first):
            assert d.touch_id is not None
            confirm_sent(s, d.touch_id, f"m{n}", at=now + timedelta(minutes=1))
    with session_scope(db) as s:
        late = check(s, lead_id=leads[3], at=now + timedelta(minutes=2), **ask)  # type: ignore[arg-type]
    assert late.codes == ["sender_daily_cap"]


def test_a_key_used_by_a_dry_run_is_refused_for_a_reserving_check(db: Database) -> None:
    w, lid = _world(db)
    ask = {
        "lead_id": lid,
        "campaign_id": w.campaign_id,
        "channel": "email",
        "at": T0,
        "idempotency_key": "k1",
    }
    with session_scope(db) as s:
        dry = check(s, reserve=False, **ask)  # type: ignore[arg-type]
    assert dry.allowed and dry.touch_id is None
    # an allow without a touch would be a send no cap counts
    with session_scope(db) as s, pytest.raises(IdempotencyKeyReused, match="without a reservation"):
        check(s, **ask)  # type: ignore[arg-type]
    with session_scope(db) as s:
        again = check(s, reserve=False, **ask)  # type: ignore[arg-type]
    assert again.replayed and again.allowed and again.touch_id is None


@pytest.mark.parametrize("path", ["check", "check_many"])
def test_a_key_whose_reservation_was_cancelled_or_ran_out_is_not_replayed_as_an_allow(
    db: Database, path: str
) -> None:
    """An engine that cancels after a failed send, or retries a check that timed out after the
    TTL, and asks again under its key must not be told to send on a touch no cap counts any more
    (its confirm would be refused, the send lost from the caps): a 409, as for a dry run's key."""
    with session_scope(db) as s:
        w = World(s)
        lid, other = w.lead(), w.lead(company_id=None)
    ask = {"campaign_id": w.campaign_id, "channel": "linkedin"}

    def again(key: str, lead: int, at: datetime | None = None) -> None:
        with session_scope(db) as s:
            if path == "check":
                check(s, lead_id=lead, at=at, idempotency_key=key, **ask)  # type: ignore[arg-type]
            else:
                check_many(s, [CheckRequest(lead, w.campaign_id, "linkedin", at=at, idempotency_key=key)])

    with session_scope(db) as s:
        d = check(s, lead_id=lid, idempotency_key="step-1", **ask)  # type: ignore[arg-type]
        assert d.touch_id is not None
        cancel(s, d.touch_id)
    with pytest.raises(IdempotencyKeyReused, match="cancelled"):
        again("step-1", lid)
    # checked (and the answer lost) 20 minutes ago: the reservation ran out unconfirmed
    then = datetime.now(UTC) - timedelta(minutes=20)
    with session_scope(db) as s:
        old = check(s, lead_id=other, at=then, idempotency_key="step-2", **ask)  # type: ignore[arg-type]
    assert old.allowed and old.touch_id is not None
    again("step-2", other, then)  # asked again as of its own time, it is still the same answer
    with pytest.raises(IdempotencyKeyReused, match="expired"):
        again("step-2", other)
    with session_scope(db) as s:
        assert expire_reservations(s) == 1  # marked by the worker's job: the same
    with pytest.raises(IdempotencyKeyReused, match="expired"):
        again("step-2", other)
    # nothing was written by the refusals: no new decision, no new touch
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 2
        assert c.execute(text("SELECT count(*) FROM touches")).scalar_one() == 2


@pytest.mark.parametrize("path", ["check", "check_many", "worker"])
def test_a_scheduled_check_counts_the_reservations_live_now(db: Database, path: str) -> None:
    """A check dated 20 minutes ahead must not leave out a reservation live now (its sender may
    still confirm it), neither for the company's weekly budget nor for the lead's daily cap."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from leadpool.gate import GateWorker

    now = datetime.now(UTC)
    later = now + timedelta(minutes=20)  # another engine schedules touches for 20 minutes from now
    # the people's zone: one where now and 20 minutes later are the same local day, whatever the
    # clock (in New York the test failed from 23:40 to midnight, the check falling on the next day)
    zone = next(
        z
        for z in ("America/New_York", "Asia/Tokyo")
        if now.astimezone(ZoneInfo(z)).date() == later.astimezone(ZoneInfo(z)).date()
    )
    with session_scope(db) as s:
        w = World(s)
        people = [w.lead(time_zone=zone) for _ in range(6)]
    with session_scope(db) as s:  # four touches to the company earlier this week, one a day
        for i in range(4):
            at = now - timedelta(days=4 - i)
            d = check(s, lead_id=people[i], campaign_id=w.campaign_id, channel="linkedin", at=at)
            assert d.touch_id is not None
            confirm_sent(s, d.touch_id, f"m-{i}", at=at)
    with session_scope(db) as s:  # a sending worker reserves the fifth now (TTL 15 minutes)
        fifth = check(s, lead_id=people[4], campaign_id=w.campaign_id, channel="linkedin", at=now)
        assert fifth.allowed

    def ask(lead: int) -> list[str]:
        if path == "worker":
            with GateWorker(db) as gate:
                return gate.check(lead_id=lead, campaign_id=w.campaign_id, channel="linkedin", at=later).codes
        with session_scope(db) as s:
            if path == "check":
                return check(s, lead_id=lead, campaign_id=w.campaign_id, channel="linkedin", at=later).codes
            return check_many(s, [CheckRequest(lead, w.campaign_id, "linkedin", at=later)])[0].codes

    assert ask(people[5]) == ["company_weekly_cap"]  # the fifth is live now: the budget of 5 is spent
    assert "lead_daily_cap" in ask(people[4])  # and it is the fifth person's touch of the day
