"""Each invariant query detects a planted violation, and only that one; clean data counts 0."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from leadpool.db import Database
from leadpool.gate.policy import GatePolicy
from leadpool.simulation.invariants import check_invariants, invariants

# Tuesday 2026-03-03, 15:00 UTC: 10:00 in New York, inside every weekday window there.
T = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
_ids = itertools.count(1)


class World:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.agency = self.new_agency()
        self.campaign = self.new_campaign(self.agency)

    def new_agency(self) -> int:
        return int(
            self.conn.execute(
                text("INSERT INTO agencies (name) VALUES (:n) RETURNING id"), {"n": f"agency-{next(_ids)}"}
            ).scalar_one()
        )

    def new_campaign(self, agency: int) -> int:
        return int(
            self.conn.execute(
                text(
                    "INSERT INTO campaigns (agency_id, name, status, channels, icp, daily_quota) "
                    "VALUES (:a, :n, 'active', ARRAY['email','linkedin','sms','phone'], '{}', 10) RETURNING id"
                ),
                {"a": agency, "n": f"campaign-{next(_ids)}"},
            ).scalar_one()
        )

    def company(self) -> int:
        return int(
            self.conn.execute(
                text("INSERT INTO companies (name) VALUES (:n) RETURNING id"), {"n": f"co-{next(_ids)}"}
            ).scalar_one()
        )

    def lead(self, *, company: int | None = None, tz: str | None = "America/New_York", **cols: Any) -> int:
        names = ["company_id", "time_zone", *cols]
        lead_id = int(
            self.conn.execute(
                text(
                    f"INSERT INTO leads ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)}) RETURNING id"
                ),
                {"company_id": company, "time_zone": tz, **cols},
            ).scalar_one()
        )
        self.acquire(lead_id, self.agency)
        return lead_id

    def acquire(self, lead_id: int, agency: int) -> None:
        self.conn.execute(
            text(
                "INSERT INTO lead_history (lead_id, action, agency_id, actor) VALUES (:l, 'acquired', :a, 'test')"
            ),
            {"l": lead_id, "a": agency},
        )

    def touch(
        self,
        lead_id: int,
        at: datetime,
        channel: str = "linkedin",
        *,
        agency: int | None = None,
        campaign: int | None = None,
        state: str = "sent",
        company: int | None = None,
    ) -> None:
        self.conn.execute(
            text(
                "INSERT INTO touches (lead_id, company_id, agency_id, campaign_id, channel, state, at, "
                "local_date, sent_at) VALUES (:l, :co, :a, :c, :ch, :st, :at, :d, :at)"
            ),
            {
                "l": lead_id,
                "co": company,
                "a": agency or self.agency,
                "c": campaign or self.campaign,
                "ch": channel,
                "st": state,
                "at": at,
                "d": at.date(),
            },
        )

    def event(self, lead_id: int, at: datetime, type_: str, category: str | None = None) -> None:
        self.conn.execute(
            text(
                "INSERT INTO events (type, lead_id, occurred_at, source, provider_event_id, category) "
                "VALUES (:t, :l, :at, 'test', :p, :c)"
            ),
            {"t": type_, "l": lead_id, "at": at, "p": f"e{next(_ids)}", "c": category},
        )


@pytest.fixture
def world(db: Database) -> Any:
    with db.engine.begin() as conn:
        yield World(conn)


def counts(w: World) -> dict[str, int]:
    return {r.name: r.violations for r in check_invariants(w.conn, GatePolicy())}


def only(w: World, name: str, n: int = 1) -> None:
    got = counts(w)
    assert got[name] == n, got
    assert {k: v for k, v in got.items() if k != name and v} == {}, got


def test_clean_history_has_no_violations(world: World) -> None:
    lead = world.lead()
    world.touch(lead, T, "email")
    world.touch(lead, T + timedelta(days=1), "linkedin")
    world.touch(lead, T + timedelta(days=7), "phone")
    world.touch(lead, T + timedelta(days=8), "email")
    world.event(lead, T + timedelta(days=9), "reply", "interested")
    world.conn.execute(
        text("UPDATE leads SET replied_at = :t WHERE id = :l"), {"t": T + timedelta(days=9), "l": lead}
    )
    assert set(counts(world).values()) == {0}
    assert [i.name for i in invariants()] == list(counts(world))


def test_two_agencies(world: World) -> None:
    lead = world.lead()
    other = world.new_agency()
    world.acquire(lead, other)
    world.touch(lead, T)
    world.touch(lead, T + timedelta(days=2), agency=other, campaign=world.new_campaign(other))
    only(world, "no_lead_touched_by_two_agencies")


def test_touch_by_non_owner(world: World) -> None:
    lead = world.lead()
    stranger = world.new_agency()
    world.touch(lead, T, agency=stranger, campaign=world.new_campaign(stranger))
    only(world, "no_touch_by_a_non_owner")


def test_lead_daily_cap_counts_local_days(world: World) -> None:
    lead = world.lead()
    world.touch(lead, T)
    world.touch(lead, T + timedelta(hours=3))
    only(world, "lead_daily_cap")
    # 03:00 UTC on the 4th is still the 3rd in New York; 06:00 UTC is the 4th there
    two_days = world.lead()
    world.touch(two_days, datetime(2026, 3, 4, 3, 0, tzinfo=UTC))
    world.touch(two_days, datetime(2026, 3, 4, 6, 0, tzinfo=UTC))
    assert counts(world)["lead_daily_cap"] == 1


def test_reserved_and_cancelled_touches_do_not_count(world: World) -> None:
    lead = world.lead()
    world.touch(lead, T)
    world.touch(lead, T + timedelta(hours=1), state="reserved")
    world.touch(lead, T + timedelta(hours=2), state="cancelled")
    assert set(counts(world).values()) == {0}


def test_lead_weekly_cap(world: World) -> None:
    lead = world.lead()
    for d in range(4):
        world.touch(lead, T + timedelta(days=d))
    only(world, "lead_weekly_cap")


def test_company_daily_cap(world: World) -> None:
    co = world.company()
    for _ in range(3):
        world.touch(world.lead(company=co), T, company=co)
    only(world, "company_daily_cap")


def test_company_weekly_cap(world: World) -> None:
    cap = GatePolicy().company_weekly_cap
    co = world.company()
    for d in range(cap + 1):  # one a day: under the daily cap, over the weekly one
        world.touch(world.lead(company=co), T + timedelta(days=d), company=co)
    only(world, "company_weekly_cap")


def test_email_after_hard_bounce(world: World) -> None:
    lead = world.lead(email_bounced_at=T)
    world.touch(lead, T + timedelta(days=1), "linkedin")  # other channels stay open
    assert set(counts(world).values()) == {0}
    world.touch(lead, T + timedelta(days=2), "email")
    only(world, "no_email_after_hard_bounce")


def test_email_to_a_dead_domain(world: World) -> None:
    world.conn.execute(
        text(
            "INSERT INTO dead_domains (domain, smtp_status, since, until, cause_event_id) "
            "VALUES ('gone.example', '5.1.2', :t, :u, 1)"
        ),
        {"t": T, "u": T + timedelta(days=90)},
    )
    colleague = world.lead(email="kim@gone.example")
    world.touch(colleague, T + timedelta(minutes=30), "email")  # the hour the bounce was not yet known
    world.touch(colleague, T + timedelta(days=1), "linkedin")  # other channels stay open
    world.touch(world.lead(email="kim@eu.gone.example"), T + timedelta(days=1), "email")  # its own set-up
    world.touch(world.lead(email="li@gone.example"), T + timedelta(days=91), "email")  # it ended
    assert set(counts(world).values()) == {0}
    world.touch(world.lead(email="raj@gone.example"), T + timedelta(days=2), "email")
    only(world, "no_email_to_a_dead_domain")


@pytest.mark.parametrize("column", ["unsubscribed_at", "complained_at"])
def test_touch_after_opt_out(world: World, column: str) -> None:
    lead = world.lead(**{column: T})
    world.touch(lead, T - timedelta(days=1))
    assert set(counts(world).values()) == {0}
    world.touch(lead, T + timedelta(days=1), "phone")
    only(world, "no_touch_after_unsubscribe_or_complaint")


@pytest.mark.parametrize("column", ["replied_at", "wrong_person_at"])
def test_touch_after_reply(world: World, column: str) -> None:
    lead = world.lead(**{column: T})
    world.touch(lead, T + timedelta(days=1), "sms")
    only(world, "no_touch_after_reply")


def test_touch_after_conversion(world: World) -> None:
    lead = world.lead(converted_at=T)
    world.touch(lead, T + timedelta(days=1))
    only(world, "no_touch_after_conversion")


def test_touch_while_cooling(world: World) -> None:
    # cooling alone (replied_at left out to isolate the check): a not-interested reply, then a touch
    lead = world.lead(cooling_until=T + timedelta(days=365))
    world.event(lead, T, "reply", "not_interested")
    world.touch(lead, T - timedelta(days=1))
    assert set(counts(world).values()) == {0}
    world.touch(lead, T + timedelta(days=1))
    only(world, "none_in_cooling")


def test_touch_while_out_of_office(world: World) -> None:
    lead = world.lead(paused_until=T + timedelta(days=5))
    world.event(lead, T, "reply", "out_of_office")
    world.touch(lead, T + timedelta(days=6))  # after the return date: fine
    assert set(counts(world).values()) == {0}
    world.touch(lead, T + timedelta(days=1))
    only(world, "none_while_out_of_office")


@pytest.mark.parametrize(
    ("channel", "at", "tz", "bad"),
    [
        ("email", datetime(2026, 3, 3, 8, 0, tzinfo=UTC), "America/New_York", True),  # 03:00 local
        ("email", datetime(2026, 3, 7, 15, 0, tzinfo=UTC), "America/New_York", True),  # Saturday
        ("email", datetime(2026, 3, 3, 8, 0, tzinfo=UTC), "UTC", False),  # 08:00 in UTC: open
        ("linkedin", datetime(2026, 3, 3, 8, 0, tzinfo=UTC), "America/New_York", False),  # no window
        ("sms", T, None, True),  # sms needs the lead's zone
        ("sms", T, "America/New_York", False),
        ("phone", datetime(2026, 3, 4, 1, 30, tzinfo=UTC), "America/New_York", True),  # 20:30 local
        ("email", datetime(2026, 3, 3, 1, 0, tzinfo=UTC), "Asia/Tokyo", False),  # 10:00 in Tokyo
    ],
)
def test_outside_send_window(world: World, channel: str, at: datetime, tz: str | None, bad: bool) -> None:
    world.touch(world.lead(tz=tz), at, channel)
    got = counts(world)
    assert got["none_outside_send_window"] == (1 if bad else 0), got


def test_unknown_zone_reads_as_utc_for_email(world: World) -> None:
    world.touch(world.lead(tz="Mars/Olympus_Mons"), datetime(2026, 3, 3, 3, 0, tzinfo=UTC), "email")
    only(world, "none_outside_send_window")


def test_without_a_zone_email_windows_are_read_on_every_clock_of_the_country(world: World) -> None:
    # Monday 2026-03-02 15:00 UTC: inside UTC's window and New York's, 05:00 in Honolulu
    monday = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    us = world.lead(tz=None, country="United States")
    world.touch(us, monday + timedelta(hours=2), "email")  # 07:00 in Honolulu
    world.touch(world.lead(tz=None), monday, "email")  # no country: UTC
    assert set(counts(world).values()) == {0}
    world.touch(world.lead(tz=None, country="United States"), monday, "email")
    only(world, "none_outside_send_window")


def test_texts_are_read_on_the_clock_of_the_number_too(world: World) -> None:
    # Monday 2026-03-02 15:00 UTC: 09:00 in Chicago, 07:00 on a Los Angeles number's clock
    monday = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    world.touch(world.lead(tz="America/Chicago", phone="+13125550100"), monday, "sms")
    world.touch(world.lead(tz="America/Chicago", phone="+14155550100"), monday, "email")
    world.touch(world.lead(tz="America/Chicago", phone="+14155550100"), monday + timedelta(hours=2), "sms")
    assert set(counts(world).values()) == {0}
    world.touch(world.lead(tz="America/Chicago", phone="+14155550100"), monday, "phone")
    only(world, "none_outside_send_window")


def test_caps_follow_the_policy(world: World) -> None:
    lead = world.lead()
    world.touch(lead, T)
    world.touch(lead, T + timedelta(hours=2))
    lenient = {r.name: r.violations for r in check_invariants(world.conn, GatePolicy(lead_daily_cap=2))}
    assert lenient["lead_daily_cap"] == 0


def test_touch_without_consent(world: World) -> None:
    berlin = world.lead(tz="Europe/Berlin", country="Germany")
    world.touch(berlin, T, "linkedin")  # LinkedIn needs no consent there
    world.touch(berlin, T + timedelta(days=1), "email")
    only(world, "no_touch_without_consent")
    world.conn.execute(
        text(
            "INSERT INTO consents (lead_id, agency_id, channel, basis, source, granted_at, revoked_at, actor) "
            "VALUES (:l, :a, 'email', 'express', 'form', :g, :r, 'test')"
        ),
        {"l": berlin, "a": world.agency, "g": T, "r": T + timedelta(days=2)},
    )
    assert set(counts(world).values()) == {0}  # live when it went; revoked only later
    world.touch(berlin, T + timedelta(days=3), "email")
    only(world, "no_touch_without_consent")
