"""record_event: idempotency, lead resolution, and each effect of the "What happens when" table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.events import EventIn, EventOutcome, record_event
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Campaign, Enrollment, Event, Lead, LeadHistory, Ownership, Suppression

from .conftest import T0, World


def rec(db: Database, **kw: Any) -> EventOutcome:
    kw.setdefault("occurred_at", T0)
    kw.setdefault("source", "test")
    kw.setdefault("provider_event_id", f"ev-{kw['type']}-{id(kw)}")
    with session_scope(db) as s:
        return record_event(s, EventIn(**kw), at=T0 + timedelta(minutes=1))


def suppressions(db: Database) -> set[tuple[str, str, str]]:
    with session_scope(db) as s:
        return {(r.kind, r.address_type, r.value_hmac) for r in s.execute(select(Suppression)).scalars()}


def h(kind: str, value: str) -> str:
    return address_hmac(kind, value, get_settings().resolved_secret_key())


def test_same_event_twice_is_stored_once_and_has_no_second_effect(db: Database, world: World) -> None:
    lead = world.lead(email="jo@example.com")
    first = rec(db, type="hard_bounce", email="Jo@Example.com", provider_event_id="x1")
    second = rec(db, type="hard_bounce", email="jo@example.com", provider_event_id="x1")
    assert not first.duplicate and first.lead_id == lead
    assert "suppressed:email_bounced" in first.effects
    assert second.duplicate and second.event_id == first.event_id and second.effects == []
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1


def test_hard_bounce_suppresses_that_address_only(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    lead = world.lead(email="jo@example.com")
    out = rec(db, type="hard_bounce", email="jo@example.com", detail={"smtp_status": "5.1.1"})
    assert out.effects == ["suppressed:email_bounced", "lead:email_bounced"]
    assert get_lead(lead).email_bounced_at == T0
    assert suppressions(db) == {("email_bounced", "email", h("email", "jo@example.com"))}
    # other channels stay open: nothing else changed
    got = get_lead(lead)
    assert got.unsubscribed_at is None and got.replied_at is None


def test_hard_bounce_of_an_old_address_does_not_mark_the_current_one(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    lead = world.lead(email="new@example.com")
    out = rec(db, type="hard_bounce", lead_id=lead, email="old@example.com")
    assert out.effects == ["suppressed:email_bounced"]
    assert get_lead(lead).email_bounced_at is None


def test_policy_rejection_counts_against_the_sender_not_the_lead(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    lead = world.lead(email="jo@example.com")
    out = rec(
        db, type="hard_bounce", email="jo@example.com", sender="agent@x.com", detail={"smtp_status": "5.7.1"}
    )
    assert out.type == "sender_block" and out.effects == ["sender:block_counted"]
    assert suppressions(db) == set()
    assert get_lead(lead).email_bounced_at is None


def test_three_soft_bounces_in_30_days_count_as_hard(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    lead = world.lead(email="jo@example.com")
    # out of order on purpose: the count uses occurred_at, not arrival
    a = rec(db, type="soft_bounce", email="jo@example.com", occurred_at=T0 + timedelta(days=20))
    b = rec(db, type="hard_bounce", email="jo@example.com", detail={"smtp_status": "5.2.2"})
    assert b.type == "soft_bounce"
    assert "soft_bounce:threshold" not in a.effects + b.effects
    assert get_lead(lead).email_bounced_at is None
    c = rec(db, type="soft_bounce", email="jo@example.com", occurred_at=T0 + timedelta(days=10))
    assert "soft_bounce:threshold" in c.effects and "suppressed:email_bounced" in c.effects
    assert get_lead(lead).email_bounced_at == T0 + timedelta(days=20)


def test_a_numeric_smtp_status_is_read_as_text(db: Database, world: World) -> None:
    world.lead(email="jo@example.com")
    out = rec(db, type="hard_bounce", email="jo@example.com", detail={"smtp_status": 550})
    assert out.type == "hard_bounce" and "suppressed:email_bounced" in out.effects
    huge = rec(db, type="soft_bounce", email="jo@example.com", detail={"smtp_status": 10**30})
    assert huge.type == "soft_bounce"


def test_a_provider_retrying_one_message_is_one_soft_bounce(db: Database, world: World) -> None:
    world.lead(email="jo@example.com")
    for attempt in range(4):  # Mailgun reports a temporary failure for every attempt
        out = rec(
            db,
            type="soft_bounce",
            email="jo@example.com",
            provider_event_id=f"attempt-{attempt}",
            provider_message_id="<m1@mail.example>",
            occurred_at=T0 + timedelta(minutes=10 * attempt),
        )
        assert "soft_bounce:threshold" not in out.effects
    for n, message in enumerate(("<m2@mail.example>", "<m3@mail.example>")):
        out = rec(
            db,
            type="soft_bounce",
            email="jo@example.com",
            provider_event_id=f"other-{n}",
            provider_message_id=message,
            occurred_at=T0 + timedelta(days=1 + n),
        )
    assert "soft_bounce:threshold" in out.effects  # three messages


def test_soft_bounces_spread_over_more_than_30_days_do_not(db: Database, world: World) -> None:
    world.lead(email="jo@example.com")
    for days in (0, 20, 40, 60):
        out = rec(db, type="soft_bounce", email="jo@example.com", occurred_at=T0 + timedelta(days=days))
        assert "soft_bounce:threshold" not in out.effects
    assert suppressions(db) == set()


def test_unsubscribe_suppresses_every_address_and_ends_the_enrollment(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(
        email="jo@example.com", phone="+13035550100", linkedin_url="https://www.linkedin.com/in/jo"
    )
    world.own(lead, agency, campaign)
    out = rec(db, type="unsubscribe", email="jo@example.com")
    assert out.effects == ["suppressed:unsubscribed", "lead:unsubscribed", "enrollment:ended"]
    assert get_lead(lead).unsubscribed_at == T0
    assert suppressions(db) == {
        ("unsubscribed", "email", h("email", "jo@example.com")),
        ("unsubscribed", "phone", h("phone", "+13035550100")),
        ("unsubscribed", "linkedin", h("linkedin", "https://www.linkedin.com/in/jo")),
    }
    with session_scope(db) as s:
        e = s.execute(select(Enrollment)).scalar_one()
        assert (e.status, e.end_reason) == ("ended", "unsubscribed")
        hist = s.execute(select(LeadHistory)).scalar_one()
        assert (hist.action, hist.reason, hist.actor) == (
            "unenrolled",
            "unsubscribed",
            f"event:{out.event_id}",
        )


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Stop. ", "STOPALL", "Unsubscribe", "opt-out", "QUIT", "end"]
)
def test_sms_stop_words_are_an_unsubscribe(
    db: Database, world: World, get_lead: Callable[[int], Lead], word: str
) -> None:
    lead = world.lead(phone="+13035550101")
    out = rec(db, type="reply", phone="(303) 555-0101", channel="sms", text=word)
    assert out.lead_id == lead and out.category == "unsubscribe"
    got = get_lead(lead)
    assert got.unsubscribed_at == T0
    assert ("unsubscribed", "phone", h("phone", "+13035550101")) in suppressions(db)


def test_complaint_suppresses_everything(db: Database, world: World, get_lead: Callable[[int], Lead]) -> None:
    lead = world.lead(email="jo@example.com")
    out = rec(db, type="complaint", email="jo@example.com")
    assert "lead:complained" in out.effects
    assert get_lead(lead).complained_at == T0
    assert {k for k, _, _ in suppressions(db)} == {"complained"}
    assert len(suppressions(db)) == 3


def test_event_for_an_unknown_address_is_stored_and_suppresses(db: Database) -> None:
    out = rec(db, type="unsubscribe", email="stranger@example.com")
    assert out.lead_id is None and out.effects == ["suppressed:unsubscribed"]
    assert suppressions(db) == {("unsubscribed", "email", h("email", "stranger@example.com"))}
    with session_scope(db) as s:
        ev = s.execute(select(Event)).scalar_one()
        assert ev.address_hmac == h("email", "stranger@example.com") and ev.lead_id is None


def test_reply_stops_automation_and_keeps_the_latest_category(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(email="jo@example.com")
    world.own(lead, agency, campaign)
    out = rec(
        db, type="reply", email="jo@example.com", category="interested", occurred_at=T0 + timedelta(hours=2)
    )
    assert out.effects == ["lead:replied", "lead:reply_category:interested", "enrollment:ended"]
    # an older reply arriving late does not overwrite the newer category, nor move replied_at later
    rec(db, type="reply", email="jo@example.com", text="What is this about?", occurred_at=T0)
    got = get_lead(lead)
    assert got.replied_at == T0 and got.reply_category == "interested"


def test_not_interested_cools_for_twelve_months(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    lead = world.lead(email="jo@example.com")
    out = rec(db, type="reply", email="jo@example.com", text="Thanks, but we're not interested.")
    assert out.category == "not_interested" and "lead:cooling" in out.effects
    assert get_lead(lead).cooling_until == T0 + timedelta(days=365)


def test_out_of_office_pauses_until_the_return_date_without_stopping(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(email="jo@example.com", time_zone="Europe/Berlin")
    world.own(lead, agency, campaign)
    out = rec(db, type="reply", email="jo@example.com", text="Ich bin bis zum 24.01.2025 nicht im Büro.")
    assert out.category == "out_of_office" and out.effects == ["lead:paused"]
    got = get_lead(lead)
    assert got.replied_at is None
    assert got.paused_until is not None and got.paused_until.isoformat() == "2025-01-23T23:00:00+00:00"
    with session_scope(db) as s:
        assert s.execute(select(Enrollment.status)).scalar_one() == "active"
        # the auto-reply keeps its own pause's end (a later one may extend the lead's)
        detail = s.execute(select(Event.detail).where(Event.id == out.event_id)).scalar_one()
        assert detail["paused_until"] == "2025-01-23T23:00:00+00:00"


def test_out_of_office_without_a_date_pauses_seven_days(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    lead = world.lead(email="jo@example.com")
    rec(db, type="reply", email="jo@example.com", category="out_of_office")
    assert get_lead(lead).paused_until == T0 + timedelta(days=7)


def test_out_of_office_with_unambiguous_day_month_dates_is_not_read_month_first(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """In "from 10/3 to 17/3 ... back on 18/3", 17/3 and 18/3 can only be day/month, so 10/3 is
    the 10th of March. Each slashed date used to be read on its own (month first, the text being
    English) and the latest won: October 3rd, a pause of seven months instead of eight days."""
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(email="jo@example.com", time_zone="Europe/London")
    world.own(lead, agency, campaign)
    at = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    text = "I am on vacation from 10/3 to 17/3 and will be back on 18/3."
    out = rec(db, type="reply", email="jo@example.com", text=text, occurred_at=at)
    assert out.category == "out_of_office"
    assert get_lead(lead).paused_until == datetime(2025, 3, 18, tzinfo=UTC)  # midnight in London


def test_back_tomorrow_counts_from_the_day_in_the_leads_own_zone(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """Written at 05:00 on Tuesday in Tokyo (20:00 Monday UTC), "back tomorrow" means Wednesday
    there. Counted from the UTC date it was Tuesday, already begun in Tokyo, so the pause fell
    back to the default seven days."""
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(email="ken@example.com", time_zone="Asia/Tokyo")
    world.own(lead, agency, campaign)
    at = datetime(2025, 3, 10, 20, 0, tzinfo=UTC)
    out = rec(db, type="reply", email="ken@example.com", text="Out of office, back tomorrow.", occurred_at=at)
    assert out.category == "out_of_office"
    assert get_lead(lead).paused_until == datetime(2025, 3, 11, 15, 0, tzinfo=UTC)  # Wed 00:00 in Tokyo


def test_wrong_person_is_recorded_and_stops_automation(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    lead = world.lead(email="jo@example.com")
    out = rec(db, type="reply", email="jo@example.com", text="Jo has left the company, sorry.")
    assert out.category == "wrong_person"
    got = get_lead(lead)
    assert got.wrong_person_at == T0 and got.replied_at == T0


def test_tool_category_is_overridden_by_an_opt_out_in_the_text(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    lead = world.lead(email="jo@example.com")
    out = rec(db, type="reply", email="jo@example.com", category="interested", text="Please unsubscribe me.")
    assert out.category == "unsubscribe"
    assert get_lead(lead).unsubscribed_at == T0


def test_converted_makes_ownership_sticky(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead()
    world.own(lead, agency, campaign)
    out = rec(db, type="converted", lead_id=lead)
    assert out.effects == ["lead:converted", "ownership:converted", "enrollment:ended"]
    assert get_lead(lead).converted_at == T0
    with session_scope(db) as s:
        assert s.get(Ownership, lead).converted_at == T0  # type: ignore[union-attr]
        actions = s.execute(select(LeadHistory.action).order_by(LeadHistory.id)).scalars().all()
        assert actions == ["converted", "unenrolled"]


def test_event_links_its_touch_by_provider_message_id(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(email="jo@example.com")
    touch = world.touch(lead, campaign, agency, message_id="<m1@x>")
    out = rec(db, type="opened", email="jo@example.com", provider_message_id="<m1@x>")
    assert out.effects == []
    with session_scope(db) as s:
        ev = s.get(Event, out.event_id)
        assert ev is not None and (ev.touch_id, ev.campaign_id, ev.sender) == (
            touch,
            campaign,
            "agent@example.com",
        )


def test_bounce_guard_pauses_a_campaign_past_three_percent(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    leads = [world.lead() for _ in range(50)]
    for i, lead in enumerate(leads):
        world.touch(lead, campaign, agency, message_id=f"m{i}", at=T0 + timedelta(minutes=i))
    # 1 of 50 = 2%: no pause; 2 of 50 = 4% > 3%: pause
    out1 = rec(db, type="hard_bounce", lead_id=leads[0], provider_message_id="m0")
    assert "campaign:paused_bounce_guard" not in out1.effects
    out2 = rec(db, type="hard_bounce", lead_id=leads[1], provider_message_id="m1")
    assert "campaign:paused_bounce_guard" in out2.effects
    with session_scope(db) as s:
        c = s.get(Campaign, campaign)
        assert c is not None and (c.status, c.paused_reason) == ("paused", "campaign_bounce_guard")


def test_an_address_made_hard_by_soft_bounces_counts_for_the_bounce_guard(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    leads = [world.lead() for _ in range(50)]
    for i, lead in enumerate(leads):
        world.touch(lead, campaign, agency, message_id=f"m{i}", at=T0 + timedelta(minutes=i))
    out = rec(db, type="hard_bounce", lead_id=leads[0], provider_message_id="m0")  # 1 of 50: 2%
    assert "campaign:paused_bounce_guard" not in out.effects
    # lead 1's address soft-bounces three times (our touch, then two later messages): that is a
    # hard bounce, and 2 of 50 is over 3%
    for k, message in enumerate(["m1", "later-1", "later-2"]):
        out = rec(
            db,
            type="soft_bounce",
            lead_id=leads[1],
            provider_message_id=message,
            provider_event_id=f"sb-{k}",
            occurred_at=T0 + timedelta(days=k + 1),
        )
    assert "soft_bounce:threshold" in out.effects and "campaign:paused_bounce_guard" in out.effects
    with session_scope(db) as s:
        assert s.get(Campaign, campaign).status == "paused"  # type: ignore[union-attr]


def test_soft_bounces_of_a_touch_and_of_an_event_with_the_same_number_are_two_messages(
    db: Database, world: World
) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(email="jo@example.com")
    touch = world.touch(lead, campaign, agency, message_id="msg-A")
    first = rec(db, type="soft_bounce", email="jo@example.com", provider_event_id="sb-1", occurred_at=T0)
    assert first.event_id == touch  # the event and the touch share a number: they are not one message
    for k, extra in enumerate([{"provider_message_id": "msg-A"}, {}], start=2):
        out = rec(
            db,
            type="soft_bounce",
            email="jo@example.com",
            provider_event_id=f"sb-{k}",
            occurred_at=T0 + timedelta(days=k),
            **extra,
        )
    assert "soft_bounce:threshold" in out.effects


def test_bounce_guard_needs_fifty_sends(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    leads = [world.lead() for _ in range(10)]
    for i, lead in enumerate(leads):
        world.touch(lead, campaign, agency, message_id=f"m{i}")
    for i in range(5):
        out = rec(db, type="hard_bounce", lead_id=leads[i], provider_message_id=f"m{i}")
        assert "campaign:paused_bounce_guard" not in out.effects
    with session_scope(db) as s:
        assert s.get(Campaign, campaign).status == "active"  # type: ignore[union-attr]


def test_bad_input_says_what_and_stores_nothing(db: Database, world: World) -> None:
    with pytest.raises(InvalidInput, match="not-an-email"):
        rec(db, type="hard_bounce", email="not-an-email")
    with pytest.raises(NotFound, match="lead 999"):
        rec(db, type="reply", lead_id=999)
    with pytest.raises(ValueError, match="needs lead_id, email, phone, linkedin_url or provider_message_id"):
        EventIn(type="reply", occurred_at=T0, source="x", provider_event_id="y")
    with pytest.raises(ValueError, match="time zone"):
        EventIn(
            type="reply",
            email="a@b.com",
            occurred_at=T0.replace(tzinfo=None),
            source="x",
            provider_event_id="y",
        )
    with pytest.raises(InvalidInput, match="hard bounce needs an email"):
        rec(db, type="hard_bounce", phone="+13035550100")
    with pytest.raises(
        ValueError, match=r"occurred_at 9999-12-31T00:00:00\+00:00 is not between 1970 and 2999"
    ):
        # a year-9999 reply would overflow its 12-month cooling period
        EventIn(
            type="reply",
            email="a@b.com",
            occurred_at=T0.replace(year=9999, month=12, day=31, hour=0),
            source="x",
            provider_event_id="y",
        )
    with pytest.raises(ValueError, match="less than 9223372036854775808"):
        EventIn(type="reply", lead_id=2**63, occurred_at=T0, source="x", provider_event_id="y")
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0


def test_an_event_naming_a_campaign_that_does_not_exist_is_refused_and_nothing_stored(
    db: Database, world: World
) -> None:
    world.lead(email="jo@example.com")
    with pytest.raises(NotFound, match="campaign 999999"):
        rec(db, type="reply", email="jo@example.com", campaign_id=999999, text="Sounds good")
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0
        assert s.scalar(select(func.count()).select_from(Lead).where(Lead.replied_at.is_not(None))) == 0


def test_a_national_number_is_read_in_the_named_leads_country(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """A STOP from a French mobile written as the person types it was read as a US number and
    refused (422), though the event named the lead."""
    lead = world.lead(phone="+33612345678", country="France", time_zone="Europe/Paris")
    out = rec(db, type="unsubscribe", lead_id=lead, phone="06 12 34 56 78", channel="sms")
    assert "lead:unsubscribed" in out.effects
    assert get_lead(lead).unsubscribed_at is not None
    with pytest.raises(InvalidInput):  # without a lead to place it, a national number stays American
        rec(db, type="unsubscribe", phone="06 12 34 56 78", channel="sms")


def test_an_event_named_by_its_message_id_alone_is_about_that_touchs_lead(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """docs/events.md: the message id links the touch "and gives the lead, campaign and sender
    when missing"; the event's own validation refused one without a lead or an address."""
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(email="kim@example.com")
    world.touch(lead, campaign, agency, message_id="<pm-9@mail>")
    out = rec(db, type="hard_bounce", provider_message_id="<pm-9@mail>", detail={"smtp_status": "5.1.1"})
    assert "suppressed:email_bounced" in out.effects and out.lead_id == lead
    assert get_lead(lead).email_bounced_at is not None
    blocked = rec(db, type="sender_block", provider_message_id="<pm-9@mail>", detail={"smtp_status": "5.7.1"})
    assert blocked.lead_id == lead and "sender:block_counted" in blocked.effects
    with pytest.raises(NotFound, match="no touch has provider_message_id"):
        rec(db, type="hard_bounce", provider_message_id="<nobody@mail>", provider_event_id="nobody-1")
    with session_scope(db) as s:
        assert (
            s.scalar(select(func.count()).select_from(Event).where(Event.provider_event_id == "nobody-1"))
            == 0
        )
