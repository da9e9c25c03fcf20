"""Outcome facts: incremental refresh equals a full rebuild, and does not rescan history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from leadpool.db import session_scope
from leadpool.insights import facts, history

START = datetime(2026, 1, 5, tzinfo=UTC)
COLUMNS = (
    "touch_id, lead_id, agency_id, campaign_id, channel, sequence_position, sent_at, local_hour, local_weekday, "
    "industry, seniority, department, size_band, revenue_band, country, email_status, data_age_band, bounced, "
    "replied, reply_category, positive, unsubscribed, complained, converted"
)


def _snapshot(s):
    return s.execute(text(f"SELECT {COLUMNS} FROM insight_facts ORDER BY touch_id")).all()


def _touch(s, lead_id, *, state="sent", at=None, channel="email"):
    at = at or START + timedelta(days=30)
    return s.execute(
        text(
            "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, sent_at, local_date, "
            "expires_at) VALUES (:l, -1, -1, :ch, :st, :at, CASE WHEN :st = 'sent' THEN CAST(:at AS timestamptz) "
            "END, CAST(:at AS date), now() + interval '1 hour') RETURNING id"
        ),
        {"l": lead_id, "st": state, "at": at, "ch": channel},
    ).scalar_one()


def _event(s, etype, lead_id, *, touch_id=None, category=None, at=None, key):
    s.execute(
        text(
            "INSERT INTO events (type, category, lead_id, touch_id, occurred_at, source, provider_event_id) "
            "VALUES (:t, :c, :l, :tid, :at, 'test', :k)"
        ),
        {
            "t": etype,
            "c": category,
            "l": lead_id,
            "tid": touch_id,
            "at": at or START + timedelta(days=31),
            "k": key,
        },
    )


def test_incremental_refresh_equals_full_rebuild(db):
    with session_scope(db) as s:
        h = history.generate_history(s, seed=1, leads=400, start=START, days=30)
        first = facts.refresh_facts(s)
    assert first.new_facts == h.touches
    lead_a, lead_b, lead_c = h.lead_ids[:3]
    with session_scope(db) as s:
        # more history: a reserved touch (sent later), a sent touch, events with and without touch ids
        reserved = _touch(s, lead_a, state="reserved")
        sent = _touch(s, lead_b)
        _event(s, "reply", lead_b, touch_id=sent, category="interested", key="e1")
        _event(s, "reply", lead_c, category="not_interested", key="e2")  # no touch id: lead's latest touch
        _event(s, "converted", lead_b, key="e3", at=START + timedelta(days=40))
    with session_scope(db) as s:
        second = facts.refresh_facts(s)
        assert second.new_facts == 1  # the reserved touch is not a fact yet
        assert second.touches_watermark == reserved - 1  # and the watermark waits for it
    with session_scope(db) as s:
        s.execute(text("UPDATE touches SET state = 'sent', sent_at = at WHERE id = :t"), {"t": reserved})
        _event(s, "hard_bounce", lead_a, touch_id=reserved, key="e4")
    with session_scope(db) as s:
        third = facts.refresh_facts(s)
        assert third.new_facts == 1 and third.touches_watermark >= reserved
        incremental = _snapshot(s)
        facts.rebuild_facts(s)
        rebuilt = _snapshot(s)
    assert incremental == rebuilt
    by_touch = {r.touch_id: r for r in rebuilt}
    assert (
        by_touch[sent].positive and by_touch[sent].converted and by_touch[sent].reply_category == "interested"
    )
    assert by_touch[reserved].bounced
    latest_c = max(r.touch_id for r in rebuilt if r.lead_id == lead_c)
    assert by_touch[latest_c].replied and not by_touch[latest_c].positive


def test_refresh_does_not_rescan_history(db):
    with session_scope(db) as s:
        h = history.generate_history(s, seed=2, leads=200, start=START, days=30)
        facts.refresh_facts(s)
    with session_scope(db) as s:
        again = facts.refresh_facts(s)
        assert (again.new_facts, again.new_links, again.recomputed) == (0, 0, 0)
        # history changes under an old fact: a refresh leaves it (segment snapshot at fact time)...
        lead = h.lead_ids[0]
        s.execute(
            text(
                "UPDATE companies SET industry = 'changed' WHERE id = (SELECT company_id FROM leads WHERE id = :l)"
            ),
            {"l": lead},
        )
    with session_scope(db) as s:
        facts.refresh_facts(s)
        assert "changed" not in s.execute(text("SELECT industry FROM insight_facts")).scalars().all()
        # ...only a rebuild reads history again
        facts.rebuild_facts(s)
        assert "changed" in s.execute(text("SELECT industry FROM insight_facts")).scalars().all()


def test_events_are_idempotent_per_refresh(db):
    with session_scope(db) as s:
        h = history.generate_history(s, seed=4, leads=100, start=START, days=30)
        facts.refresh_facts(s)
        before = _snapshot(s)
    with session_scope(db) as s:
        # refreshing twice over the same (overlap window) ids changes nothing
        facts.refresh_facts(s)
        facts.refresh_facts(s)
        assert _snapshot(s) == before
    assert h.events > 0


def test_forgotten_reservation_does_not_hold_the_watermark(db):
    with session_scope(db) as s:
        h = history.generate_history(s, seed=9, leads=50, start=START, days=30)
        stale = _touch(s, h.lead_ids[0], state="reserved")
        s.execute(
            text("UPDATE touches SET expires_at = now() - interval '2 hours' WHERE id = :t"), {"t": stale}
        )
        live = _touch(s, h.lead_ids[1], state="reserved")
        _touch(s, h.lead_ids[2])
    with session_scope(db) as s:
        r = facts.refresh_facts(s)
    # the expired-but-unswept reservation is passed; the live one holds the watermark
    assert r.touches_watermark == live - 1 and live > stale


def test_an_agencys_reply_is_not_credited_to_another_agencys_touch(db):
    from tests.gate import factories as f
    from tests.gate.factories import MONDAY_OPEN

    from leadpool.events import EventIn, record_event
    from leadpool.gate import check, confirm_sent
    from leadpool.insights.rates import segment_rates

    def own(s, agency_id):
        total = next(c for c in segment_rates(s, [], agency_id=agency_id) if c.level == 0)
        return total.counts["replies"], total.counts["positives"]

    with session_scope(db) as s:
        a, b = f.agency(s), f.agency(s)
        ca, cb = f.campaign(s, a), f.campaign(s, b)
        lead = f.lead(s)
        f.own(s, lead, a)
        f.enroll(s, lead, ca, a)
        d = check(s, lead_id=lead, campaign_id=ca, channel="email", at=MONDAY_OPEN)  # A emails
        confirm_sent(s, d.touch_id, "a-1", at=MONDAY_OPEN)
        # later the lead is B's, and B reaches it on LinkedIn
        s.execute(text("UPDATE enrollments SET status = 'ended' WHERE lead_id = :l"), {"l": lead})
        s.execute(text("DELETE FROM ownerships WHERE lead_id = :l"), {"l": lead})
        f.own(s, lead, b)
        f.enroll(s, lead, cb, b)
        later = MONDAY_OPEN + timedelta(days=200)
        d2 = check(s, lead_id=lead, campaign_id=cb, channel="linkedin", at=later)
        confirm_sent(s, d2.touch_id, "b-1", at=later)
        # the person answers B by email; B reports it with its campaign and no touch
        reply = EventIn(
            type="reply",
            category="interested",
            lead_id=lead,
            campaign_id=cb,
            channel="email",
            occurred_at=later + timedelta(hours=1),
            source="api",
            provider_event_id="b-reply",
        )
        record_event(s, reply, agency_id=b)
        facts.refresh_facts(s)
    with session_scope(db) as s:
        assert own(s, a) == (0, 0)  # A's email of 200 days before did not earn B's reply


def test_a_bounce_before_the_send_is_confirmed_is_the_reserved_touchs(db):
    from tests.allocation.factories import make_company, make_leads

    from leadpool.events import EventIn, record_event
    from leadpool.gate import confirm_sent

    january, march = datetime(2026, 1, 10, 15, tzinfo=UTC), datetime(2026, 3, 10, 15, tzinfo=UTC)

    def touch(s, lead, agency, at, state):
        return s.execute(
            text(
                "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, sent_at, local_date, "
                "expires_at) VALUES (:l, :a, :a, 'email', :st, :at, "
                "CASE WHEN :st = 'sent' THEN CAST(:at AS timestamptz) END, CAST(:at AS date), "
                "CAST(:at AS timestamptz) + interval '15 minutes') RETURNING id"
            ),
            {"l": lead, "a": agency, "at": at, "st": state},
        ).scalar_one()

    with session_scope(db) as s:
        (lead,) = make_leads(s, 1, company_id=make_company(s), email="jo@bounce.example.com")
        old = touch(s, lead, -1, january, "sent")  # another agency emailed this person in January
        new = touch(s, lead, -2, march, "reserved")  # this one reserves in March
    with session_scope(db) as s:  # the provider's bounce arrives before the sender confirms
        bounce = EventIn(
            type="hard_bounce",
            email="jo@bounce.example.com",
            channel="email",
            occurred_at=march + timedelta(seconds=20),
            source="sendgrid",
            provider_event_id="b1",
            provider_message_id="msg-b",
        )
        record_event(s, bounce, at=march + timedelta(seconds=21))
    with session_scope(db) as s:
        facts.refresh_facts(s)  # a scheduled refresh between the bounce and the confirmation
    with session_scope(db) as s:
        confirm_sent(s, new, "msg-b", at=march + timedelta(seconds=5))
    with session_scope(db) as s:
        facts.refresh_facts(s)
        incremental = dict(s.execute(text("SELECT touch_id, bounced FROM insight_facts")).tuples().all())
        facts.rebuild_facts(s)
        rebuilt = dict(s.execute(text("SELECT touch_id, bounced FROM insight_facts")).tuples().all())
    assert incremental == rebuilt == {old: False, new: True}
