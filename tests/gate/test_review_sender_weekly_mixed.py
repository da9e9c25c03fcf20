"""Review of the sender weekly cap: a sender's rolling week counts every touch of the sender,
whoever made it, so a batch must count its own earlier reservations of the sender even when
they came from a campaign with no weekly cap of its own (null), as one check after another
counts them; and a capped check racing an uncapped one must count its touch too (every reserving
check naming a sender takes the sender's lock)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.gate import factories as f
from tests.gate.factories import MONDAY_OPEN
from tests.interleaving import Runner, backend_pid, wait_until_lock_waiting

from leadpool.db import Database, session_scope
from leadpool.gate import CheckRequest, check, check_many
from leadpool.gate.reasons import GateDecision

T0 = MONDAY_OPEN
SEAT = "seat-review"


@pytest.fixture(autouse=True)
def _fresh_policy(fresh_policy: None) -> None:
    """Every test here starts from the defaults."""


def _worlds(db: Database) -> tuple[int, int, int, int]:
    """(uncapped campaign, its lead, capped campaign, its lead): one agency's seat, two campaigns,
    one of which turned the LinkedIn weekly cap off (null), the other keeping it at 1."""
    with session_scope(db) as s:
        w = f.World(s, agency_gate={"sender_weekly_caps": {"linkedin": 1}})
        uncapped = f.campaign(s, w.agency_id, gate={"sender_weekly_caps": {"linkedin": None}})
        a = f.lead(s, company_id=f.company(s))
        f.own(s, a, w.agency_id)
        f.enroll(s, a, uncapped, w.agency_id)
        b = w.lead(company_id=f.company(s))
    return uncapped, a, w.campaign_id, b


def test_one_by_one_the_capped_campaign_counts_the_uncapped_ones_touch(db: Database) -> None:
    uncapped, a, capped, b = _worlds(db)
    with session_scope(db) as s:
        assert check(s, lead_id=a, campaign_id=uncapped, channel="linkedin", sender=SEAT, at=T0).allowed
    with session_scope(db) as s:
        d = check(s, lead_id=b, campaign_id=capped, channel="linkedin", sender=SEAT, at=T0)
    assert d.codes == ["sender_weekly_cap"], d.reasons


def test_a_batch_counts_its_earlier_uncapped_reservation_of_the_sender(db: Database) -> None:
    uncapped, a, capped, b = _worlds(db)
    with session_scope(db) as s:
        out = check_many(
            s,
            [
                CheckRequest(a, uncapped, "linkedin", SEAT, T0),
                CheckRequest(b, capped, "linkedin", SEAT, T0),
            ],
        )
    assert out[0].allowed
    # the same answer as one check after the other: the seat's week holds 1 touch, its cap is 1
    assert out[1].codes == ["sender_weekly_cap"], out[1].reasons


@pytest.mark.parametrize("path", ["full", "fast"])
def test_a_capped_check_racing_an_uncapped_reservation_of_the_sender_counts_it(
    db: Database, path: str
) -> None:
    """One check after the other, the capped campaign is denied (above). Racing: the uncapped
    reservation is made and not yet committed when the capped check runs; the capped check must
    wait for it (as it waits for any check of the seat with a cap: the sender's lock) and count it,
    not count the week without it and then wait only for the shared counter rows."""
    uncapped, a, capped, b = _worlds(db)
    if path == "fast":
        # a campaign the process has decided for once goes through gate_fast_check (fast.remember)
        with session_scope(db) as s:
            for lead, campaign in ((a, uncapped), (b, capped)):
                check(s, lead_id=lead, campaign_id=campaign, channel="linkedin", at=T0, reserve=False)
    s1 = db.sessionmaker()
    s2 = db.sessionmaker()
    try:
        first = check(s1, lead_id=a, campaign_id=uncapped, channel="linkedin", sender=SEAT, at=T0)
        assert first.allowed  # reserved, not committed
        pid2 = backend_pid(s2)

        def second() -> GateDecision:
            d = check(s2, lead_id=b, campaign_id=capped, channel="linkedin", sender=SEAT, at=T0)
            s2.commit()
            return d

        racing = Runner(second)
        racing.start()
        wait_until_lock_waiting(db, pid2)  # the agency's counter row (or, fixed, the sender's lock)
        s1.commit()
        racing.join(30)
        assert racing.error is None, racing.error
        d = racing.result
    finally:
        for s in (s1, s2):
            s.rollback()
            s.close()
    with db.engine.connect() as c:
        live = c.execute(
            text("SELECT count(*) FROM touches WHERE sender = :s AND state = 'reserved'"), {"s": SEAT}
        ).scalar_one()
    assert d.codes == ["sender_weekly_cap"], f"allowed: {live} live touches of a seat capped at 1"
