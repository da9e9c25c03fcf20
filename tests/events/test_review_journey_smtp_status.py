"""An operator's journey: recording a bounce by hand with the SMTP status the provider showed."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import func, select
from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database, session_scope
from leadpool.models import Event, Lead

from .conftest import World


def test_a_policy_block_given_as_the_dsn_line_does_not_suppress_the_person(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """``leadpool event record --smtp-status`` ("Enhanced status code, e.g. 5.1.1") is read only when
    the value is exactly ``d.d.d``. An operator who pastes the status as providers and mail logs
    show it, ``550 5.7.1`` (a policy block: docs/events.md maps 5.7.x to ``sender_block``, "the
    recipient is not suppressed"), gets the reported ``hard_bounce`` instead: the person's address
    is suppressed for good and ``email_bounced_at`` set, with exit 0 and no word that the code was
    ignored. The webhook adapters find the enhanced code inside such text (``bounces.smtp_status``);
    the CLI should too, or refuse a value it cannot read, rather than silently drop it and apply
    the harshest reading."""
    agency = world.agency()
    campaign = world.campaign(agency)
    lead = world.lead()
    world.own(lead, agency, campaign)
    res = CliRunner().invoke(
        app,
        [
            "event",
            "record",
            "--type",
            "hard_bounce",
            "--lead",
            str(lead),
            "--smtp-status",
            "550 5.7.1",
            "--provider-event-id",
            "dsn-1",
            "--json",
        ],
    )
    assert "Traceback" not in res.output
    if res.exit_code != 0:
        # refused: one line naming the option, nothing stored
        assert res.exit_code == 2 and "smtp" in res.output.lower(), res.output
        with session_scope(db) as s:
            assert s.scalar(select(func.count()).select_from(Event)) == 0
    else:
        outcome = json.loads(res.stdout)
        assert outcome["type"] == "sender_block", outcome
    assert get_lead(lead).email_bounced_at is None
