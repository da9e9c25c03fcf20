"""Two erasures of people sharing a payload never wait on each other in a cycle: every payload an erasure edits is locked at once, in id order."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import text
from tests.events.conftest import World
from tests.interleaving import Runner, backend_pid, wait_until_lock_waiting

from leadpool.db import Database, session_scope
from leadpool.models import LeadRawPayload, RawPayload
from leadpool.privacy import erase


def _payload(s, body: str, request=None, people=None) -> int:
    p = RawPayload(
        endpoint="file:json",
        source_name="x",
        body=body,
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        request=request,
        apollo_person_ids=people,
    )
    s.add(p)
    s.flush()
    return p.id


def test_two_erasures_sharing_a_page_and_the_lost_calls_do_not_deadlock(db: Database) -> None:
    w = World(db)
    # person X is in the pool twice (Apollo, and a CSV keyed by her personal address)
    x1 = w.lead(email="xena@acme.example", personal_emails=["xena.home@gmail.com"], linkedin_url=None)
    x2 = w.lead(email="xena.home@gmail.com", linkedin_url=None)
    y = w.lead(email="yuri@other.example", linkedin_url=None)
    with session_scope(db) as s:
        # a search page describing X's second lead and Y
        page = _payload(
            s, json.dumps({"people": [{"email": "xena.home@gmail.com"}, {"email": "yuri@other.example"}]})
        )
        s.add(LeadRawPayload(lead_id=x2, raw_payload_id=page))
        s.add(LeadRawPayload(lead_id=y, raw_payload_id=page))
        # a paid call whose answer was lost, about someone else
        lost = _payload(s, "", request={"email": "zed@else.example"})

    blocker = db.sessionmaker()
    blocker.execute(text("SELECT id FROM raw_payloads WHERE id = :i FOR UPDATE"), {"i": lost})
    sx, sy = db.sessionmaker(), db.sessionmaker()
    px, py = backend_pid(sx), backend_pid(sy)
    tx = Runner(lambda: (erase(sx, x1, actor="dpo"), sx.commit()))
    ty = Runner(lambda: (erase(sy, y, actor="dpo"), sy.commit()))
    try:
        tx.start()
        wait_until_lock_waiting(db, px)  # X: leads x1, x2 locked; waits for the lost calls
        ty.start()
        wait_until_lock_waiting(db, py)  # Y: lead y and the shared page locked; waits for the lost calls
    finally:
        blocker.rollback()
        blocker.close()
        for t in (tx, ty):
            if t.ident is not None:  # started: a failed wait above must still end both sessions
                t.join(30)
        for s in (sx, sy):
            s.rollback()
            s.close()
    assert tx.error is None and ty.error is None, (tx.error, ty.error)
