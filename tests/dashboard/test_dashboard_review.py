"""Dashboard numbers and times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from api.conftest import ADMIN_TOKEN
from leadpool.api.app import create_app
from leadpool.api.settings import ApiSettings
from leadpool.config import Settings
from leadpool.dashboard import queries
from leadpool.db import Database

AT = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def _agency_with_campaigns(conn) -> tuple[int, int, int]:
    agency = conn.execute(text("INSERT INTO agencies (name) VALUES ('Agency Q') RETURNING id")).scalar_one()
    ids = []
    for name, status in (("active one", "active"), ("paused one", "paused")):
        ids.append(
            conn.execute(
                text(
                    "INSERT INTO campaigns (agency_id, name, status, channels, icp, daily_quota) "
                    "VALUES (:a, :n, :s, ARRAY['email'], '{}', 10) RETURNING id"
                ),
                {"a": agency, "n": name, "s": status},
            ).scalar_one()
        )
    return agency, ids[0], ids[1]


def test_quota_fill_does_not_count_enrollments_of_campaigns_outside_the_quota(db: Database) -> None:
    """The active campaign enrolled 5 of its 10 today; a campaign paused later today (e.g. by the
    bounce guard) had enrolled 10 of its 10 before. Quota fill mixes them: the enrollments of every
    campaign over the quota of the active ones only, 15/10 = 150%, which no campaign can reach
    (allocation never enrolls past a campaign's own daily quota)."""
    with db.engine.begin() as conn:
        agency, active, paused = _agency_with_campaigns(conn)
        for campaign, n in ((active, 5), (paused, 10)):
            for _ in range(n):
                lead = conn.execute(text("INSERT INTO leads (name) VALUES ('x') RETURNING id")).scalar_one()
                conn.execute(
                    text(
                        "INSERT INTO enrollments (lead_id, campaign_id, agency_id, enrolled_at) "
                        "VALUES (:l, :c, :a, :at)"
                    ),
                    {"l": lead, "c": campaign, "a": agency, "at": AT},
                )
    with db.sessionmaker() as session:
        (row,) = queries.agencies(session, agency, at=AT + timedelta(hours=1))
    assert row["quota_fill"] is not None and row["quota_fill"] <= 1.0, row


@pytest.fixture
def ny_app(db: Database, tmp_path) -> Iterator[TestClient]:
    """The service on a database server whose TimeZone is America/New_York (a server default, or
    the embedded server's initdb taking the machine's zone)."""
    ny = Database.from_uri(db.uri, connect_args={"options": "-c TimeZone=America/New_York"})
    app = create_app(
        Settings(home=tmp_path / "home"), db=ny, api_settings=ApiSettings(admin_token=ADMIN_TOKEN)
    )
    with TestClient(app) as client:
        client.post("/login", data={"token": ADMIN_TOKEN, "next": "/"})
        yield client
    ny.dispose()


def test_dashboard_times_do_not_depend_on_the_database_servers_time_zone(
    db: Database, ny_app: TestClient
) -> None:
    """The overview buckets decisions by UTC day and the agencies page counts the UTC day, but the
    times it prints (allocated 'since', jobs 'created', timeline 'when') are strftime'd from
    whatever zone the PostgreSQL session has, with no zone shown: the same instant reads 15:00
    on one server and 10:00 on another."""
    with db.engine.begin() as conn:
        agency = conn.execute(
            text("INSERT INTO agencies (name) VALUES ('Agency T') RETURNING id")
        ).scalar_one()
        lead = conn.execute(text("INSERT INTO leads (name) VALUES ('Tess') RETURNING id")).scalar_one()
        conn.execute(
            text("INSERT INTO ownerships (lead_id, agency_id, acquired_at) VALUES (:l, :a, :at)"),
            {"l": lead, "a": agency, "at": AT},
        )
    page = ny_app.get("/")
    assert page.status_code == 200
    assert "2026-03-03 15:00" in page.text, "the acquisition time is not shown in UTC"
