"""The lead timeline, erasure details, concurrent duplicates, and the CLI commands."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.events import EventIn, record_event
from leadpool.gate import check, confirm_sent
from leadpool.models import Event, LeadHistory, RawPayload
from leadpool.privacy import erase
from leadpool.timeline import lead_timeline

from .conftest import T0, World

runner = CliRunner()
AT = datetime(2025, 1, 14, 17, 0, tzinfo=UTC)  # Tuesday 10:00 in Denver


def history(db: Database, lead: int, agency: int, campaign: int) -> None:
    with session_scope(db) as s:
        s.add(
            LeadHistory(
                lead_id=lead,
                at=AT - timedelta(days=1),
                action="acquired",
                agency_id=agency,
                actor="allocation",
            )
        )
        s.add(
            LeadHistory(
                lead_id=lead,
                at=AT - timedelta(days=1),
                action="enrolled",
                agency_id=agency,
                campaign_id=campaign,
                actor="allocation",
            )
        )


def test_timeline_orders_history_decisions_touches_and_events(db: Database, world: World) -> None:
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead(email="tim@example.com")
    world.own(lead, agency, campaign)
    history(db, lead, agency, campaign)
    with session_scope(db) as s:
        decision = check(s, lead_id=lead, campaign_id=campaign, channel="email", sender="a@x.com", at=AT)
    assert decision.allowed and decision.touch_id is not None
    with session_scope(db) as s:
        confirm_sent(s, decision.touch_id, "<msg-1@x>", at=AT + timedelta(seconds=5))
    # a bounce stored before the pool knew the address is part of the story too
    with session_scope(db) as s:
        record_event(
            s,
            EventIn(
                type="opened",
                email="tim@example.com",
                occurred_at=AT - timedelta(days=30),
                source="t",
                provider_event_id="early",
            ),
        )
        record_event(
            s,
            EventIn(
                type="hard_bounce",
                email="tim@example.com",
                occurred_at=AT + timedelta(minutes=1),
                source="t",
                provider_event_id="b1",
                provider_message_id="<msg-1@x>",
            ),
        )
    with session_scope(db) as s:
        entries = lead_timeline(s, lead)
    kinds = [e.kind for e in entries]
    assert kinds == [
        "event.opened",
        "ownership.acquired",
        "enrollment.enrolled",
        "decision",
        "touch",
        "event.hard_bounce",
    ]
    assert entries[3].detail["allowed"] is True and entries[3].detail["touch_id"] == decision.touch_id
    assert entries[4].detail["state"] == "sent"
    assert entries[5].detail["touch_id"] == decision.touch_id
    with session_scope(db) as s, pytest.raises(NotFound):
        lead_timeline(s, 999)

    out = runner.invoke(app, ["leads", "timeline", str(lead), "--json"])
    assert out.exit_code == 0, out.output
    assert [e["kind"] for e in json.loads(out.stdout)] == kinds
    text = runner.invoke(app, ["leads", "timeline", str(lead)])
    assert text.exit_code == 0 and "event.hard_bounce" in text.stdout


def test_cli_event_record_is_idempotent_and_reports_effects(db: Database, world: World) -> None:
    lead = world.lead(email="cli@example.com")
    args = [
        "event",
        "record",
        "--type",
        "reply",
        "--email",
        "CLI@example.com",
        "--channel",
        "email",
        "--occurred-at",
        "2025-01-10T12:00:00Z",
        "--source",
        "cli",
        "--provider-event-id",
        "r-1",
        "--text",
        "Not interested, thanks",
        "--json",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    assert body["lead_id"] == lead and body["duplicate"] is False and body["category"] == "not_interested"
    assert "lead:cooling" in body["effects"]
    second = json.loads(runner.invoke(app, args).stdout)
    assert second["duplicate"] is True and second["event_id"] == body["event_id"] and second["effects"] == []
    plain = runner.invoke(app, [a for a in args if a != "--json"])
    assert "already recorded" in plain.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--type", "bounce", "--email", "a@b.com"], "type"),
        (["--type", "reply"], "needs --lead, --email, --phone, --linkedin or --provider-message-id"),
        (["--type", "reply", "--email", "a@b.com", "--occurred-at", "yesterday"], "not an ISO 8601 time"),
        (["--type", "reply", "--email", "a@b.com", "--occurred-at", "2025-01-01T00:00:00"], "time zone"),
        (["--type", "reply", "--email", "nope"], "email 'nope'"),
        (["--type", "reply", "--lead", "424242"], "lead 424242 not found"),
    ],
)
def test_cli_event_record_bad_input(db: Database, extra: list[str], message: str) -> None:
    out = runner.invoke(app, ["event", "record", "--provider-event-id", "x", *extra])
    assert out.exit_code == 2
    assert message in out.output and "Value error" not in out.output
    with session_scope(db) as s:
        assert s.execute(select(Event)).first() is None


def test_cli_erase_and_classifier_eval(db: Database, world: World) -> None:
    lead = world.lead(email="gone@example.com")
    refused = runner.invoke(app, ["leads", "erase", str(lead), "--actor", "dpo"], input="n\n")
    assert refused.exit_code == 1
    # no answer at all (a script without --yes): the one-line error, a JSON one under --json
    # (it was click's "Aborted.", which a machine reading --json could not parse)
    unanswered = runner.invoke(app, ["leads", "erase", str(lead), "--actor", "dpo", "--json"], input="")
    assert (
        unanswered.exit_code == 1 and unanswered.stdout.strip() == ""
    )  # (click ends its prompt with a space)
    error = json.loads(unanswered.stderr.splitlines()[-1])
    assert error["exit_code"] == 1 and "--yes" in error["error"]
    out = runner.invoke(app, ["leads", "erase", str(lead), "--actor", "dpo", "--yes", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["suppressions_added"] == 3
    again = runner.invoke(app, ["leads", "erase", str(lead), "--actor", "dpo", "--yes"])
    assert "already erased" in again.stdout
    missing = runner.invoke(app, ["leads", "erase", "424242", "--actor", "dpo", "--yes"])
    assert missing.exit_code == 2 and "lead 424242 not found" in missing.output
    # without --yes, an unknown lead is said before the confirmation is asked, not after
    asked = runner.invoke(app, ["leads", "erase", "424242", "--actor", "dpo"], input="y\n")
    assert (
        asked.exit_code == 2 and "lead 424242 not found" in asked.output and "Erase lead" not in asked.output
    )
    ev = runner.invoke(app, ["event", "classifier-eval", "--json"])
    report = json.loads(ev.stdout)
    assert report["replies"] >= 150 and report["accuracy"] >= 0.95
    final = json.loads(runner.invoke(app, ["event", "classifier-eval", "--set", "final", "--json"]).stdout)
    assert final["replies"] >= 60 and final["accuracy"] >= 0.65
    assert sum(c["count"] for c in final["confusion"]) == final["replies"]


def test_erase_bulk_match_keeps_positions_and_other_people(db: Database, world: World) -> None:
    lead = world.lead(email="x1@example.com", apollo_id="ap-1")
    body = json.dumps(
        {"matches": [{"id": "ap-1", "email": "x1@example.com"}, {"id": "ap-2", "email": "x2@example.com"}]}
    )
    request = {"details": [{"email": "x1@example.com"}, {"email": "x2@example.com"}]}
    with session_scope(db) as s:
        s.add(
            RawPayload(
                endpoint="people/bulk_match",
                body=body,
                body_sha256="-",
                request=request,
                apollo_person_ids=["ap-1", "ap-2"],
            )
        )
        s.add(
            RawPayload(
                endpoint="file:csv",
                body="ap-1,x1@example.com,Xavier",
                body_sha256="-",
                apollo_person_ids=["ap-1"],
            )
        )
    with session_scope(db) as s:
        erase(s, lead, actor="dpo", at=T0)
    with session_scope(db) as s:
        bulk, csv = s.execute(select(RawPayload).order_by(RawPayload.id)).scalars().all()
        doc = json.loads(bulk.body)
        assert doc["matches"] == [None, {"id": "ap-2", "email": "x2@example.com"}]
        assert bulk.request == {"details": [{"email": "x2@example.com"}]}
        assert "x1@" not in csv.body and csv.apollo_person_ids is None
    with session_scope(db) as s, pytest.raises(InvalidInput, match="actor"):
        erase(s, lead, actor=" ")


def test_the_same_event_recorded_concurrently_takes_effect_once(db: Database, world: World) -> None:
    world.lead(email="race@example.com")
    outcomes = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        event = EventIn(
            type="unsubscribe", email="race@example.com", occurred_at=T0, source="t", provider_event_id="u1"
        )
        barrier.wait()
        with session_scope(db) as s:
            outcomes.append(record_event(s, event))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.duplicate for o in outcomes) == [False] + [True] * 5
    assert len({o.event_id for o in outcomes}) == 1
    assert sum(bool(o.effects) for o in outcomes) == 1
