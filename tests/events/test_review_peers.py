"""Peer complaints and legal/provider rules (shared/reference/peers.md, compliance-and-providers.md)
replayed through record_event and the gate, against real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadpool.db import Database, session_scope
from leadpool.events import EventIn, record_event
from leadpool.gate import check
from leadpool.ingestion import import_people
from leadpool.models import Campaign, Enrollment, Lead

from .conftest import T0, World

# Tuesday 2025-01-14 17:00 UTC = 10:00 in Denver: every channel's window is open
NOON = datetime(2025, 1, 14, 17, 0, tzinfo=UTC)


def _event(db: Database, **kw: object) -> list[str]:
    kw.setdefault("occurred_at", NOON - timedelta(hours=1))
    kw.setdefault("source", "test")
    kw.setdefault("provider_event_id", f"{kw['type']}-{kw.get('lead_id')}-{kw.get('provider_message_id')}")
    with session_scope(db) as s:
        return record_event(s, EventIn(**kw), at=NOON).effects  # type: ignore[arg-type]


def test_an_sms_reply_no_more_texts_is_an_unsubscribe(db: Database, world: World) -> None:
    """compliance section 4, FCC revocation order (FCC 24-24): "Consent may be revoked by any
    reasonable means ... Also parse free text ("remove me") ... as revocation"; SMS keywords:
    "Treat any of these ... as channel-wide revocation". peers.md 2.4 "One opt-out that applies
    everywhere". A texted person answering "No more texts." has plainly revoked consent to be
    texted. leadpool classifies it as ``not_interested``: 12 months of cooling, no unsubscribe,
    no suppression of the number, and the enrollment ends; once the cooling is over the person is
    texted again (here: a new campaign 13 months later is allowed). Expected: an unsubscribe
    (``unsubscribed_at`` set, the SMS denied ``unsubscribed``). Fault: events/classifier.py (the
    unsubscribe family has no "no more texts/messages" rule; docs/events.md lists "Lose this number
    pls. No more texts." among the known misses).
    """
    agency = world.agency()
    campaign = world.campaign(agency, channels=["sms"])
    lead = world.lead()
    world.own(lead, agency, campaign)
    effects = _event(db, type="reply", lead_id=lead, channel="sms", text="No more texts.")
    with session_scope(db) as s:
        row = s.get(Lead, lead)
        assert row is not None
        unsubscribed, category, cooling = row.unsubscribed_at, row.reply_category, row.cooling_until
    # 13 months later the agency runs another SMS campaign and enrolls the person again
    later_campaign = world.campaign(agency, channels=["sms"])
    with session_scope(db) as s:
        s.add(Enrollment(lead_id=lead, campaign_id=later_campaign, agency_id=agency))
    at = datetime(2026, 2, 17, 17, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Denver
    with session_scope(db) as s:
        d = check(
            s,
            lead_id=lead,
            campaign_id=later_campaign,
            channel="sms",
            at=at,
            reserve=False,
            sender="+13035550000",
        )
    assert unsubscribed is not None and not d.allowed, (
        f"'No more texts.' was read as {category!r} (effects {effects}, cooling until {cooling}); "
        f"13 months later the SMS is {d.decision} {d.codes}"
    )


def test_a_campaign_with_a_5_percent_spam_complaint_rate_is_paused(db: Database, world: World) -> None:
    """compliance section 4, Gmail/Yahoo sender rules [D]: "Keep the Postmaster spam rate < 0.1% and
    never reach 0.3%", gate implication "Track per-domain complaint rate and hard-stop well below
    0.3%"; section 5 "Global stop at a complaint rate >= 0.1% over 7 days"; SES puts an account
    under review at 0.1%. peers.md: Smartlead, Instantly and Woodpecker auto-pause on bounce
    spikes. leadpool's only automatic pause is the bounce guard, which counts hard bounces: 3
    spam complaints out of 60 sends (5%, fifty times Gmail's ceiling) leave the campaign active
    and its next email allowed, while 3 hard bounces in the same 60 would have paused it.
    Expected: the campaign paused (or the email denied) once complaints pass the limit. Fault:
    events/effects.py bounce_guard counts only hard bounces; nothing watches complaints.
    """
    agency = world.agency()
    campaign = world.campaign(agency, channels=["email"])
    leads = [world.lead() for _ in range(60)]
    for i, lead in enumerate(leads):
        world.touch(lead, campaign, agency, message_id=f"<m{i}@agency.example>", at=T0 + timedelta(minutes=i))
    for i in range(3):
        _event(db, type="complaint", lead_id=leads[i], provider_message_id=f"<m{i}@agency.example>")
    fresh = world.lead()
    world.own(fresh, agency, campaign)
    with session_scope(db) as s:
        c = s.get(Campaign, campaign)
        assert c is not None
        status = (c.status, c.paused_reason)
        d = check(
            s,
            lead_id=fresh,
            campaign_id=campaign,
            channel="email",
            at=NOON,
            reserve=False,
            sender="agent@example.com",
        )
    assert status[0] == "paused" or not d.allowed, (
        f"3 complaints in 60 sends (5%): campaign {status}, next email {d.decision} {d.codes}"
    )


def test_two_small_businesses_whose_website_is_a_facebook_page_stay_two_companies(
    db: Database, world: World
) -> None:
    """peers.md 2.3 "Reliable dedupe" and the matrix row "Stop or pause the same company/domain on
    reply" (lemlist's pause misfires on company names; here the opposite). Small businesses often
    list a social page as their website (Apollo's ``website_url`` / a CSV's Website column):
    "https://www.facebook.com/joesplumbing" and "https://www.facebook.com/annsbakery". leadpool
    keys companies by domain, and ``company_domain`` turns both into ``facebook.com``: two
    unrelated businesses (different Apollo organization ids, names, towns) become one company
    row, so Joe's "sounds good" reply pauses Ann, at another business, for 14 days for every
    agency (and they share one company daily/weekly budget and, in company mode, one owner).
    Expected: Ann's email allowed (the two are different companies). Fault:
    ingestion/normalize.py company_domain / records.map_organization (a host that is a social
    network or site builder is not the company's domain).
    """

    def person(first: str, org_id: str, org_name: str, page: str, city: str) -> dict[str, object]:
        return {
            "id": f"apollo-{first.lower()}",
            "first_name": first,
            "email": f"{first.lower()}@{page}.example",
            "email_status": "verified",
            "city": city,
            "state": "Colorado",
            "country": "United States",
            "organization": {
                "id": org_id,
                "name": org_name,
                "website_url": f"https://www.facebook.com/{page}",
            },
        }

    joe, ann = import_people(
        db,
        [
            person("Joe", "org-joes-plumbing", "Joe's Plumbing", "joesplumbing", "Denver"),
            person("Ann", "org-anns-bakery", "Ann's Bakery", "annsbakery", "Boulder"),
        ],
        endpoint="mixed_people/search",
    ).lead_ids
    agency_a, agency_b = world.agency(), world.agency()
    campaign_a, campaign_b = world.campaign(agency_a, ["email"]), world.campaign(agency_b, ["email"])
    world.own(joe, agency_a, campaign_a)
    world.own(ann, agency_b, campaign_b)
    _event(db, type="reply", lead_id=joe, channel="email", text="Sounds good, let's talk next week.")
    with session_scope(db) as s:
        companies = [s.get(Lead, x).company_id for x in (joe, ann)]  # type: ignore[union-attr]
        d = check(
            s,
            lead_id=ann,
            campaign_id=campaign_b,
            channel="email",
            at=NOON,
            reserve=False,
            sender="b@agency-b.example",
        )
    assert d.allowed, (
        f"Joe's reply at Joe's Plumbing paused Ann at Ann's Bakery: {d.codes}; companies {companies}"
    )
