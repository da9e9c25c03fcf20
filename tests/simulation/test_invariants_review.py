"""Invariant queries that report 0 while a rule was broken (or report a violation of a rule kept).

Each test plants history directly in the database, as tests/simulation/test_invariants.py does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from leadpool.db import Database

from .test_invariants import T, World, counts


@pytest.fixture
def world(db: Database) -> Any:
    with db.engine.begin() as conn:
        yield World(conn)


def _history(w: World, lead: int, agency: int, action: str, at: Any) -> None:
    w.conn.execute(
        text(
            "INSERT INTO lead_history (lead_id, at, action, agency_id, actor) VALUES (:l, :at, :x, :a, 'test')"
        ),
        {"l": lead, "at": at, "x": action, "a": agency},
    )


def _release_all_history(w: World, lead: int) -> None:
    # World.lead() writes the 'acquired' row at now(); put it before the planted touches
    w.conn.execute(
        text("UPDATE lead_history SET at = :at WHERE lead_id = :l"), {"l": lead, "at": T - timedelta(days=10)}
    )


def test_touch_by_an_agency_after_it_released_the_lead_is_a_violation(world: World) -> None:
    """Agency A held the lead, released it (e.g. it was cancelled, as Agency B is on the demo's
    day 20), and its engine kept sending: a touch by an agency that did not own the lead at the
    time. 'no_touch_by_a_non_owner' only asks whether the agency was *ever* given the lead, and
    'no_lead_touched_by_two_agencies' needs a second agency's touch, so every invariant says 0."""
    lead = world.lead()
    _release_all_history(world, lead)
    world.touch(lead, T - timedelta(days=3))  # while A owned it: fine
    _history(world, lead, world.agency, "released", T - timedelta(days=1))
    world.touch(lead, T)  # after the release: A no longer owns it
    c = counts(world)
    assert sum(c.values()) >= 1, c


def test_touch_by_the_former_owner_while_another_agency_owns_the_lead_is_a_violation(world: World) -> None:
    """A held the lead, released it, B acquired it (and has not touched it yet); A touches it."""
    other = world.new_agency()
    lead = world.lead()
    _release_all_history(world, lead)
    _history(world, lead, world.agency, "released", T - timedelta(days=2))
    _history(world, lead, other, "acquired", T - timedelta(days=1))
    world.conn.execute(
        text("INSERT INTO ownerships (lead_id, agency_id) VALUES (:l, :a)"), {"l": lead, "a": other}
    )
    world.touch(lead, T)  # by the former owner A
    c = counts(world)
    assert sum(c.values()) >= 1, c


def test_a_touch_sent_after_the_reply_from_a_reservation_made_before_it_is_a_violation(world: World) -> None:
    """A reservation made at T, the person replies at T+5 min, the engine confirms the send at
    T+10 min (inside the 15-minute TTL; confirm_sent does not re-check). The message went out after
    the reply, but the invariants compare the reservation time ``at``, not ``sent_at``."""
    lead = world.lead(replied_at=T + timedelta(minutes=5))
    world.conn.execute(
        text(
            "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, state, at, local_date, sent_at) "
            "VALUES (:l, :a, :c, 'email', 'sent', :at, :d, :sent)"
        ),
        {
            "l": lead,
            "a": world.agency,
            "c": world.campaign,
            "at": T,
            "d": T.date(),
            "sent": T + timedelta(minutes=10),
        },
    )
    c = counts(world)
    assert c["no_touch_after_reply"] == 1, c


def test_a_touch_between_two_out_of_office_pauses_is_not_a_violation(world: World) -> None:
    """OOO reply at T (back in 5 days), an email at T+7 d (the pause is over: allowed), a second
    OOO reply at T+10 d (back at T+20 d). The lead's paused_until says T+20 d; each auto-reply
    keeps its own pause's end (record_event writes it), and the email fell between the two."""
    lead = world.lead(paused_until=T + timedelta(days=20))
    world.event(lead, T, "reply", "out_of_office")
    world.touch(lead, T + timedelta(days=7), "email")  # Tuesday 10:00 in New York
    world.event(lead, T + timedelta(days=10), "reply", "out_of_office")
    for occurred, until in ((T, T + timedelta(days=5)), (T + timedelta(days=10), T + timedelta(days=20))):
        world.conn.execute(
            text(
                "UPDATE events SET detail = jsonb_build_object('paused_until', CAST(:u AS timestamptz)) "
                "WHERE lead_id = :l AND occurred_at = :o"
            ),
            {"l": lead, "o": occurred, "u": until},
        )
    assert counts(world)["none_while_out_of_office"] == 0
    world.touch(lead, T + timedelta(days=12), "email")  # inside the second pause
    assert counts(world)["none_while_out_of_office"] == 1
