"""The bounce guard reads the campaign's last N sends, not every send it ever made."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.scale import Capture, add_sent_emails, analyze, explain, rows_read, tenant

from leadpool.db import Database, session_scope
from leadpool.events import effects
from leadpool.events.settings import EventSettings


def test_the_bounce_guard_reads_about_its_window_of_touches_however_many_the_campaign_sent(
    db: Database,
) -> None:
    """Run on every hard bounce, under the campaign's advisory lock: over an index on
    (campaign_id, at) it read and sorted all 40,000 sends to keep the last 200; the partial
    index ix_touches_campaign_id_email_sent has its order, so it reads 200."""
    w = tenant(db)
    add_sent_emails(db, w, 40_000)
    analyze(db)
    settings = EventSettings()
    with Capture(db.engine) as cap, session_scope(db) as s:
        effects.bounce_guard(s, w.campaign_id, settings, now=datetime.now(UTC))
    plan = explain(db, *cap.one("WITH recent AS"))
    read = rows_read(plan, "touches")
    assert read <= 2 * settings.bounce_guard_window, f"read {read:,.0f} touches for a window of 200"
