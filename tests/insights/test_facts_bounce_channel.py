"""A hard bounce is an email outcome. Reported by lead id (no address, no channel: the API allows
it and stores channel NULL), it is credited to the lead's latest touch of ANY channel: a LinkedIn
touch sent after the email gets bounced=true. The email's bounce is lost from the bounce rate
(bounces count only on email touches) and the LinkedIn touch drops out of every reply denominator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from tests.allocation.factories import make_company, make_leads

from leadpool.db import session_scope
from leadpool.events import EventIn, record_event
from leadpool.insights import facts

T = datetime(2026, 3, 10, 9, tzinfo=UTC)


def _touch(s, lead, channel, at):
    return s.execute(
        text(
            "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, sent_at, local_date, "
            "expires_at) VALUES (:l, -1, -1, :ch, 'sent', :at, :at, CAST(:at AS date), "
            "CAST(:at AS timestamptz) + interval '15 minutes') RETURNING id"
        ),
        {"l": lead, "ch": channel, "at": at},
    ).scalar_one()


def test_a_hard_bounce_reported_by_lead_id_is_the_email_touchs(db):
    with session_scope(db) as s:
        (lead,) = make_leads(
            s, 1, company_id=make_company(s), linkedin_url="https://www.linkedin.com/in/jo-bounce"
        )
        email = _touch(s, lead, "email", T)
        linkedin = _touch(s, lead, "linkedin", T + timedelta(hours=2))
    with session_scope(db) as s:
        out = record_event(
            s,
            EventIn(
                type="hard_bounce",
                lead_id=lead,
                occurred_at=T + timedelta(hours=3),
                source="mailer",
                provider_event_id="late-bounce-by-lead-id",
            ),
            at=T + timedelta(hours=3, minutes=1),
        )
        assert out.type == "hard_bounce"
        channel = s.execute(text("SELECT channel FROM events WHERE id = :i"), {"i": out.event_id}).scalar()
    with session_scope(db) as s:
        facts.refresh_facts(s)
        got = dict(s.execute(text("SELECT touch_id, bounced FROM insight_facts")).tuples().all())
    assert got == {email: True, linkedin: False}, f"event channel {channel!r}; facts {got}"
