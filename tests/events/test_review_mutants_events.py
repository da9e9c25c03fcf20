"""Event rules the rest of the events suite could not tell from a slightly wrong one (found by
mutation): the edges of the soft-bounce window, the bounce guard and the out-of-office pause, and
what an erasure must leave behind (nothing that describes the person; hashes of every address)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.events import EventIn, EventOutcome, record_event
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Campaign, Event, Lead, Suppression, Touch
from leadpool.privacy import erase

from .conftest import T0, World


def rec(db: Database, **kw: Any) -> EventOutcome:
    kw.setdefault("occurred_at", T0)
    kw.setdefault("source", "test")
    kw.setdefault("provider_event_id", f"ev-{kw['type']}-{id(kw)}")
    with session_scope(db) as s:
        return record_event(s, EventIn(**kw), at=T0 + timedelta(days=60))


def test_three_soft_bounces_spread_over_more_than_30_days_do_not_count_as_hard(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """The reference: 3 soft bounces within 30 days count as a hard bounce. Three spread over 30
    days and 12 hours are not within 30 days: the address must stay open (a wider window would
    suppress a working mailbox that was merely full now and then)."""
    lead = world.lead(email="jo@example.com")
    for n, at in enumerate((T0, T0 + timedelta(days=15), T0 + timedelta(days=30, hours=12))):
        out = rec(db, type="soft_bounce", email="jo@example.com", occurred_at=at, provider_event_id=f"s{n}")
        assert "soft_bounce:threshold" not in out.effects, out.effects
    assert get_lead(lead).email_bounced_at is None


def test_three_soft_bounces_exactly_30_days_apart_count_as_hard(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """Within 30 days includes the 30th day: the first and third soft bounce exactly 30 days apart
    make the address count as hard bounced (the edge the threshold is documented with)."""
    lead = world.lead(email="sam@example.com")
    outs = [
        rec(db, type="soft_bounce", email="sam@example.com", occurred_at=at, provider_event_id=f"t{n}")
        for n, at in enumerate((T0, T0 + timedelta(days=15), T0 + timedelta(days=30)))
    ]
    assert "soft_bounce:threshold" in outs[-1].effects, [o.effects for o in outs]
    assert get_lead(lead).email_bounced_at == T0 + timedelta(days=30)


def _sends(db: Database, n: int) -> tuple[int, list[int]]:
    """A campaign with ``n`` sent emails (message ids m0.. oldest first), one lead each."""
    world = World(db)
    agency = world.agency()
    campaign = world.campaign(agency)
    with session_scope(db) as s:
        leads = [
            Lead(email=f"guard{i}@example.com", email_status="verified", time_zone="America/Denver")
            for i in range(n)
        ]
        s.add_all(leads)
        s.flush()
        ids = [lead.id for lead in leads]
        s.add_all(
            Touch(
                lead_id=lid,
                agency_id=agency,
                campaign_id=campaign,
                channel="email",
                sender="agent@example.com",
                state="sent",
                at=T0 + timedelta(minutes=i),
                local_date=(T0 + timedelta(minutes=i)).date(),
                sent_at=T0 + timedelta(minutes=i),
                provider_message_id=f"m{i}",
            )
            for i, lid in enumerate(ids)
        )
    return campaign, ids


def _status(db: Database, campaign: int) -> str:
    with session_scope(db) as s:
        c = s.get(Campaign, campaign)
        assert c is not None
        return c.status


def test_bounce_guard_at_exactly_three_percent_of_its_last_200_sends_does_not_pause(db: Database) -> None:
    """The guard pauses a campaign whose hard-bounce rate over its last 200 email sends passes 3%.
    6 of the last 200 is 3%, not past it; a bounce of the 201st-newest send is outside the window.
    So the campaign stays active; the seventh bounce among the last 200 (3.5%) pauses it. A guard
    that counted 201 sends, or paused at 3%, would stop a healthy campaign."""
    campaign, leads = _sends(db, 201)
    out = rec(db, type="hard_bounce", lead_id=leads[0], provider_message_id="m0", provider_event_id="old")
    assert "campaign:paused_bounce_guard" not in out.effects
    for k in range(1, 7):
        out = rec(
            db,
            type="hard_bounce",
            lead_id=leads[k * 20],
            provider_message_id=f"m{k * 20}",
            provider_event_id=f"b{k}",
        )
        assert "campaign:paused_bounce_guard" not in out.effects, k
    assert _status(db, campaign) == "active"
    out = rec(db, type="hard_bounce", lead_id=leads[150], provider_message_id="m150", provider_event_id="b7")
    assert "campaign:paused_bounce_guard" in out.effects
    assert _status(db, campaign) == "paused"


_PERSONAL: dict[str, Any] = {
    "first_name": "Jane",
    "last_name": "Roe",
    "name": "Jane Roe",
    "title": "VP Sales",
    "headline": "VP Sales at Acme",
    "photo_url": "https://images.example/jane.jpg",
    "twitter_url": "https://twitter.com/janeroe",
    "github_url": "https://github.com/janeroe",
    "facebook_url": "https://facebook.com/janeroe",
    "street_address": "1 Main St",
    "city": "Denver",
    "state": "Colorado",
    "postal_code": "80202",
    "formatted_address": "1 Main St, Denver, CO 80202",
    "hashed_email": "5f4dcc3b5aa765d61d8327deb882cf99",
    "employment_history": [{"title": "AE", "organization_name": "Widgets"}],
    "phone_numbers": [{"sanitized_number": "+13035550199"}],
    "personal_emails": ["jane.roe.home@gmail.com"],
}


def test_erasure_clears_every_column_that_describes_the_person(db: Database, world: World) -> None:
    """Erasure keeps a tombstone (ids, contact-state timestamps), nothing that describes the
    person: name, title, headline, photo, social profiles, street address, employment history,
    numbers and personal emails all go (GDPR art. 17; a column left behind is personal data kept
    against the person's request)."""
    lead = world.lead(email="jane@acme-widgets.com", **_PERSONAL)
    with session_scope(db) as s:
        erase(s, lead, actor="test")
    with session_scope(db) as s:
        got = s.get(Lead, lead)
        assert got is not None and got.erased_at is not None
        left = {k: getattr(got, k) for k in _PERSONAL if getattr(got, k) is not None}
    assert left == {}


def test_erasure_suppresses_the_persons_personal_emails_and_other_numbers(db: Database, world: World) -> None:
    """What stays after an erasure is the keyed hashes of every address the person had, so that no
    later import or event brings them back: their personal emails and every number Apollo listed,
    not only the lead's current email, phone and LinkedIn URL."""
    lead = world.lead(email="jane@acme-widgets.com", **_PERSONAL)
    with session_scope(db) as s:
        erase(s, lead, actor="test")
    key = get_settings().resolved_secret_key()
    with session_scope(db) as s:
        erased = set(s.execute(select(Suppression.value_hmac).where(Suppression.kind == "erased")).scalars())
    assert address_hmac("email", "jane.roe.home@gmail.com", key) in erased
    assert address_hmac("phone", "+13035550199", key, region="US") in erased


def test_an_out_of_office_return_date_more_than_a_year_away_is_ignored(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """A return date further than ooo_max_days (365) away is taken for a misreading (a year typed
    wrong, a date that is not the return): the pause is the default 7 days, not two years of
    silence for a lead the agency holds."""
    lead = world.lead(email="jo@example.com", time_zone="America/Denver")
    rec(
        db,
        type="reply",
        email="jo@example.com",
        category="out_of_office",
        detail={"return_date": "2027-01-10"},
    )
    assert get_lead(lead).paused_until == T0 + timedelta(days=7)
    other = world.lead(email="sam@example.com", time_zone="America/Denver")
    rec(
        db,
        type="reply",
        email="sam@example.com",
        category="out_of_office",
        detail={"return_date": "2025-12-01"},
    )
    assert get_lead(other).paused_until is not None
    assert get_lead(other).paused_until.isoformat() == "2025-12-01T07:00:00+00:00"


def test_erasure_scrubs_an_event_about_a_personal_address_that_named_no_lead(
    db: Database, world: World
) -> None:
    """An event about one of the person's addresses may name no lead (a reply from their personal
    mailbox, which no lead has as its current email). It is still about the person: erasure drops
    its text and detail, found by the address's hash, not only by lead id."""
    lead = world.lead(email="jane@acme-widgets.com", **_PERSONAL)
    out = rec(
        db,
        type="reply",
        email="jane.roe.home@gmail.com",
        text="Please call me on my mobile, Jane Roe, 1 Main St",
        provider_event_id="home-reply",
    )
    assert out.lead_id is None
    with session_scope(db) as s:
        erase(s, lead, actor="test")
    with session_scope(db) as s:
        row = s.execute(select(Event.text, Event.detail).where(Event.id == out.event_id)).one()
    assert (row.text, row.detail) == (None, None)
