"""Suppression reconciliation against fake provider APIs on 127.0.0.1 speaking the documented shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion import import_people
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Event, Lead, ReconcileMark, Suppression
from leadpool.webhooks.reconcile import ProviderSummary, ReconcileSettings, reconcile

from .fake_providers import FakeProviders, mailgun_time, sendgrid_time, serve

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with serve(FakeProviders()) as f:
        yield f


def settings_for(fake: FakeProviders, **kw: Any) -> ReconcileSettings:
    base: dict[str, Any] = {
        "sendgrid_api_key": fake.sendgrid_key,
        "sendgrid_base_url": fake.base_url,
        "mailgun_api_key": fake.mailgun_key,
        "mailgun_domains": ["mg.example.com"],
        "mailgun_base_url": fake.base_url,
        "postmark_server_tokens": list(fake.postmark_tokens),
        "postmark_streams": ["outbound", "broadcast"],
        "postmark_base_url": fake.base_url,
    }
    return ReconcileSettings(**{**base, **kw})


def run(
    db: Database, fake: FakeProviders, *providers: str, sleeps: list[float] | None = None, **kw: Any
) -> dict[str, ProviderSummary]:
    settings = settings_for(fake, **kw.pop("settings", {}))
    out = reconcile(
        db,
        providers=providers or None,
        settings=settings,
        sleep=(sleeps if sleeps is not None else []).append,
        **kw,
    )
    return {s.provider: s for s in out}


def kinds(db: Database, email: str) -> set[str]:
    h = address_hmac("email", email, get_settings().resolved_secret_key())
    with session_scope(db) as s:
        return set(s.execute(select(Suppression.kind).where(Suppression.value_hmac == h)).scalars())


def lead(db: Database, lead_id: int) -> Lead:
    with session_scope(db) as s:
        row = s.get(Lead, lead_id)
        assert row is not None
        s.expunge(row)
        return row


def person(email: str, pid: str) -> dict[str, Any]:
    return {"id": pid, "first_name": "Pat", "email": email, "email_status": "verified"}


def events(db: Database) -> list[tuple[str, str, str, datetime]]:
    with session_scope(db) as s:
        rows = s.execute(select(Event.source, Event.type, Event.provider_event_id, Event.occurred_at)).all()
    return [tuple(r) for r in rows]


# --- SendGrid -------------------------------------------------------------------------------------


def sendgrid_lists(fake: FakeProviders) -> None:
    fake.sendgrid = {
        "bounces": [
            {
                "created": sendgrid_time(_at(0)),
                "email": "Held.Person@Acme.example",
                "reason": "550 5.1.1 Held.Person@Acme.example unknown",
                "status": "5.1.1",
            },
            {
                "created": sendgrid_time(_at(1)),
                "email": "full.box@acme.example",
                "reason": "452 4.2.2 mailbox full",
                "status": "4.2.2",
            },
            {
                "created": sendgrid_time(_at(2)),
                "email": "policy@acme.example",
                "reason": "550 5.7.1 blocked by policy",
                "status": "5.7.1",
            },
        ],
        "invalid_emails": [
            {
                "created": sendgrid_time(_at(3)),
                "email": "nobody@nowhere.example",
                "reason": "Mail domain mentioned in email address is unknown",
            }
        ],
        "spam_reports": [
            {"created": sendgrid_time(_at(4)), "email": "angry@other.example", "ip": "192.0.2.1"}
        ],
        "unsubscribes": [{"created": sendgrid_time(_at(5)), "email": "gone@other.example"}],
        "blocks": [
            {
                "created": sendgrid_time(_at(6)),
                "email": "blocked@other.example",
                "reason": "blocked",
                "status": "5.0.0",
            }
        ],
    }


def test_sendgrid_entries_become_events_that_suppress_held_and_unknown_addresses(
    db: Database, fake: FakeProviders
) -> None:
    held = import_people(
        db, [person("held.person@acme.example", "ap-held")], endpoint="people/match"
    ).lead_ids[0]
    sendgrid_lists(fake)
    s = run(db, fake, "sendgrid")["sendgrid"]
    assert s.error is None, s.error
    assert (s.entries_read, s.events_recorded, s.duplicates, s.skipped, s.rejected) == (6, 4, 0, 2, [])
    assert lead(db, held).email_bounced_at == _at(0)  # the pool's lead is flagged, at the provider's time
    assert "email_bounced" in kinds(db, "nobody@nowhere.example")
    assert "complained" in kinds(db, "angry@other.example")
    assert "unsubscribed" in kinds(db, "gone@other.example")
    assert not kinds(db, "full.box@acme.example") and not kinds(db, "policy@acme.example")
    assert not kinds(db, "blocked@other.example") and not fake.asked("/v3/suppression/blocks")
    # an address the pool did not hold is born suppressed when imported later
    later = import_people(db, [person("angry@other.example", "ap-angry")], endpoint="people/match").lead_ids[
        0
    ]
    assert lead(db, later).complained_at is not None
    stored = events(db)
    assert {(src, t) for src, t, _, _ in stored} == {
        ("sendgrid_suppression", "hard_bounce"),
        ("sendgrid_suppression", "complaint"),
        ("sendgrid_suppression", "unsubscribe"),
    }
    for _, _, pid, occurred in stored:
        assert "@" not in pid and "held" not in pid.lower() and "angry" not in pid and "gone" not in pid
        assert occurred.tzinfo is not None
    # every request carried the key as documented
    assert all(r.headers["authorization"] == f"Bearer {fake.sendgrid_key}" for r in fake.requests)


def test_sendgrid_second_run_records_nothing_and_asks_from_the_mark_less_the_overlap(
    db: Database, fake: FakeProviders
) -> None:
    sendgrid_lists(fake)
    run(db, fake, "sendgrid")
    before = len(events(db))
    fake.requests.clear()
    s = run(db, fake, "sendgrid", settings={"overlap_hours": 1})["sendgrid"]
    assert (s.events_recorded, s.error) == (0, None)
    # each list read again from its own newest entry less the overlap: the 5.1.1 bounce an hour
    # before the soft one is not asked for again
    assert (s.entries_read, s.duplicates, s.skipped) == (5, 3, 2) and len(events(db)) == before
    starts = {r.path.rsplit("/", 1)[1]: int(r.query["start_time"]) for r in fake.asked("/v3/suppression/")}
    assert starts["bounces"] == sendgrid_time(_at(2) - timedelta(hours=1))
    assert starts["unsubscribes"] == sendgrid_time(_at(5) - timedelta(hours=1))
    with session_scope(db) as session:
        marks = dict(session.execute(select(ReconcileMark.scope, ReconcileMark.high_water)).tuples().all())
    assert marks["bounces"] == _at(2) and marks["spam_reports"] == _at(4)
    # --full ignores the marks
    fake.requests.clear()
    s = run(db, fake, "sendgrid", full=True)["sendgrid"]
    assert s.duplicates == 4 and all("start_time" not in r.query for r in fake.requests)


def test_sendgrid_pages_by_offset_and_retries_a_5xx_page(db: Database, fake: FakeProviders) -> None:
    fake.sendgrid = {
        "bounces": [
            {
                "created": sendgrid_time(_at(i)),
                "email": f"p{i}@acme.example",
                "status": "5.1.1",
                "reason": "x",
            }
            for i in range(5)
        ]
    }
    fake.fail_next("/v3/suppression/bounces", 503)
    fake.fail_next("/v3/suppression/bounces", 429)
    sleeps: list[float] = []
    s = run(db, fake, "sendgrid", sleeps=sleeps, settings={"page_size": 2})["sendgrid"]
    assert (s.error, s.events_recorded) == (None, 5)
    assert len(sleeps) == 2
    offsets = [(r.query["offset"], r.query["limit"]) for r in fake.asked("/v3/suppression/bounces")]
    assert offsets == [("0", "2"), ("0", "2"), ("0", "2"), ("2", "2"), ("4", "2")]


def test_a_provider_failing_after_its_retries_keeps_its_committed_pages_and_its_old_mark(
    db: Database, fake: FakeProviders
) -> None:
    fake.sendgrid = {
        "bounces": [
            {"created": sendgrid_time(_at(i)), "email": f"p{i}@acme.example", "status": "5.1.1"}
            for i in range(5)
        ]
    }
    fake.mailgun = {
        ("mg.example.com", "complaints"): [{"address": "c@acme.example", "created_at": mailgun_time(_at(1))}]
    }
    # the first page (the two newest) is read, the second fails every attempt
    fake.fail_next("/v3/suppression/bounces", 502, n=3, query={"offset": "2"})
    sleeps: list[float] = []
    out = run(db, fake, "sendgrid", "mailgun", sleeps=sleeps, settings={"page_size": 2, "max_attempts": 3})
    sg, mg = out["sendgrid"], out["mailgun"]
    assert sg.error == "sendgrid: bounces: HTTP 502 after 3 attempts; the next run tries again"
    assert len(fake.asked("/v3/suppression/bounces")) == 4 and sleeps == [2.0, 4.0]
    assert sg.events_recorded == 2  # the first page committed, nothing of the failed one
    assert mg.error is None and mg.events_recorded == 1  # one provider failing does not stop another
    with session_scope(db) as session:
        assert session.scalar(select(ReconcileMark).where(ReconcileMark.provider == "sendgrid")) is None


def test_a_refused_key_is_a_clear_error_and_the_other_providers_still_run(
    db: Database, fake: FakeProviders
) -> None:
    fake.mailgun = {
        ("mg.example.com", "bounces"): [
            {
                "address": "b@acme.example",
                "code": "550",
                "error": "5.1.1 no such user",
                "created_at": mailgun_time(_at(0)),
            }
        ]
    }
    out = run(db, fake, settings={"sendgrid_api_key": "SG.wrong-key"})
    assert out["sendgrid"].error == (
        "sendgrid: bounces: the API refused the credentials (HTTP 401); check LEADPOOL_RECONCILE_SENDGRID_API_KEY"
    )
    assert "wrong-key" not in repr(out)
    assert out["mailgun"].error is None and out["mailgun"].events_recorded == 1
    assert out["postmark"].error is None
    assert len(fake.asked("/v3/suppression/")) == 1  # no retry of a refused key


# --- Mailgun --------------------------------------------------------------------------------------


def test_mailgun_walks_paging_next_maps_codes_and_records_tag_unsubscribes(
    db: Database, fake: FakeProviders
) -> None:
    d = "mg.example.com"
    fake.mailgun = {
        (d, "bounces"): [
            {
                "address": f"b{i}@acme.example",
                "code": "550",
                "error": f"550 5.1.1 b{i}@acme.example does not exist",
                "created_at": mailgun_time(_at(i)),
            }
            for i in range(3)
        ]
        + [
            {
                "address": "soft@acme.example",
                "code": 421,
                "error": "421 try again later",
                "created_at": mailgun_time(_at(1)),
            },
            {
                "address": "policy@acme.example",
                "code": "550",
                "error": "550 5.7.1 rejected by policy",
                "created_at": mailgun_time(_at(1)),
            },
        ],
        (d, "complaints"): [{"address": "spam@acme.example", "created_at": mailgun_time(_at(2))}],
        (d, "unsubscribes"): [
            {"address": "all@acme.example", "tags": ["*"], "created_at": mailgun_time(_at(3))},
            {
                "address": "newsletter@acme.example",
                "tags": ["newsletter"],
                "created_at": mailgun_time(_at(3)),
            },
        ],
    }
    s = run(db, fake, "mailgun", settings={"page_size": 2})["mailgun"]
    assert s.error is None, s.error
    assert (s.entries_read, s.events_recorded, s.skipped, s.rejected) == (8, 6, 2, [])
    assert "email_bounced" in kinds(db, "b2@acme.example") and "complained" in kinds(db, "spam@acme.example")
    assert "unsubscribed" in kinds(db, "all@acme.example") and "unsubscribed" in kinds(
        db, "newsletter@acme.example"
    )
    assert not kinds(db, "soft@acme.example") and not kinds(db, "policy@acme.example")
    bounce_pages = fake.asked(f"/v3/{d}/bounces")
    assert [r.query.get("page") for r in bounce_pages] == [None, "next", "next", "next"]  # the last is empty
    assert all(r.headers["authorization"].startswith("Basic ") for r in fake.requests)
    assert all("@" not in pid for _, _, pid, _ in events(db))
    # no time filter at Mailgun: the second run reads the lists again, records nothing again (and
    # counts nothing as before the mark: an old created_at is no proof it was seen)
    again = run(db, fake, "mailgun", settings={"page_size": 2, "overlap_hours": 1})["mailgun"]
    assert (again.events_recorded, again.error) == (0, None)
    assert (again.duplicates, again.skipped, again.older) == (6, 2, 0)


def test_mailgun_next_page_on_another_host_is_not_followed(db: Database, fake: FakeProviders) -> None:
    fake.mailgun = {
        ("mg.example.com", "bounces"): [
            {"address": "b@acme.example", "code": "550", "error": "5.1.1", "created_at": mailgun_time(_at(0))}
        ]
    }
    real = fake.base_url
    fake.base_url = "http://192.0.2.1:9"  # the paging URLs now name another host
    s = run(db, fake, "mailgun", settings={"mailgun_base_url": real})["mailgun"]
    assert (
        s.error
        == "mailgun: mg.example.com/bounces: the provider's next-page URL is on another host; not followed"
    )
    assert s.events_recorded == 1  # the first page was recorded


# --- Postmark -------------------------------------------------------------------------------------


def test_postmark_reasons_streams_and_fromdate(db: Database, fake: FakeProviders) -> None:
    token = fake.postmark_tokens[0]
    fake.postmark = {
        (token, "outbound"): [
            {
                "EmailAddress": "hb@acme.example",
                "SuppressionReason": "HardBounce",
                "Origin": "Recipient",
                "CreatedAt": "2026-11-02T04:30:00-05:00",
            },
            {
                "EmailAddress": "sc@acme.example",
                "SuppressionReason": "SpamComplaint",
                "Origin": "Recipient",
                "CreatedAt": "2026-11-03T08:58:33.1234567-05:00",
            },
        ],
        (token, "broadcast"): [
            {
                "EmailAddress": "ms@acme.example",
                "SuppressionReason": "ManualSuppression",
                "Origin": "Recipient",
                "CreatedAt": "2026-11-04T08:58:33Z",
            },
            {
                "EmailAddress": "",
                "SuppressionReason": "HardBounce",
                "Origin": "Recipient",
                "CreatedAt": "2026-11-04T08:58:33Z",
            },
        ],
    }
    s = run(db, fake, "postmark")["postmark"]
    assert (s.entries_read, s.events_recorded, s.error) == (4, 3, None)
    assert s.rejected == ["broadcast: an entry without an EmailAddress"]
    assert "email_bounced" in kinds(db, "hb@acme.example") and "complained" in kinds(db, "sc@acme.example")
    assert "unsubscribed" in kinds(db, "ms@acme.example")
    occurred = {pid.split(":")[0]: at for _, _, pid, at in events(db)}
    assert occurred["outbound/HardBounce"] == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert all(r.headers["x-postmark-server-token"] == token for r in fake.requests)
    fake.requests.clear()
    again = run(db, fake, "postmark", settings={"overlap_hours": 24})["postmark"]
    assert again.events_recorded == 0
    assert {r.path.split("/")[2]: r.query["fromdate"] for r in fake.requests} == {
        "outbound": "2026-11-01",  # a day before the mark less the overlap (Postmark's own day)
        "broadcast": "2026-11-02",
    }


def test_a_provider_asked_for_but_not_configured_is_reported(db: Database, fake: FakeProviders) -> None:
    out = run(db, fake, "postmark", settings={"postmark_server_tokens": []})
    assert out["postmark"].error == "postmark: not configured (set LEADPOOL_RECONCILE_POSTMARK_SERVER_TOKENS)"


# --- CLI and settings -----------------------------------------------------------------------------


def test_cli_reconcile_json(db: Database, fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from leadpool.cli import app

    sendgrid_lists(fake)
    monkeypatch.setenv("LEADPOOL_RECONCILE_SENDGRID_API_KEY", fake.sendgrid_key)
    monkeypatch.setenv("LEADPOOL_RECONCILE_SENDGRID_BASE_URL", fake.base_url)
    monkeypatch.setenv("LEADPOOL_RECONCILE_MAILGUN_API_KEY", "mailgun-wrong-key")
    monkeypatch.setenv("LEADPOOL_RECONCILE_MAILGUN_DOMAINS", '["mg.example.com"]')
    monkeypatch.setenv("LEADPOOL_RECONCILE_MAILGUN_BASE_URL", fake.base_url)
    res = CliRunner().invoke(app, ["webhooks", "reconcile", "--json"])
    assert res.exit_code == 1, res.output  # mailgun failed; sendgrid still ran
    out = {p["provider"]: p for p in json.loads(res.stdout)["providers"]}
    assert set(out) == {"sendgrid", "mailgun"}  # postmark is not configured: not reconciled
    assert (out["sendgrid"]["events_recorded"], out["sendgrid"]["skipped"], out["sendgrid"]["error"]) == (
        4,
        2,
        None,
    )
    assert "LEADPOOL_RECONCILE_MAILGUN_API_KEY" in out["mailgun"]["error"]
    assert "wrong-key" not in res.output and fake.sendgrid_key not in res.output
    again = CliRunner().invoke(app, ["webhooks", "reconcile", "--provider", "sendgrid", "--json"])
    assert again.exit_code == 0, again.output
    [sg] = json.loads(again.stdout)["providers"]
    assert (sg["provider"], sg["events_recorded"], sg["duplicates"]) == ("sendgrid", 0, 4)
    text = CliRunner().invoke(app, ["webhooks", "reconcile", "--provider", "sendgrid", "--full"])
    assert text.exit_code == 0 and "sendgrid: 6 entries read, 0 events recorded, 4 duplicates" in text.stdout
    bad = CliRunner().invoke(app, ["webhooks", "reconcile", "--provider", "sparkpost"])
    assert bad.exit_code == 2 and "unknown provider 'sparkpost'" in bad.output


def test_settings_lists_the_reconcile_group_without_secrets(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from leadpool.cli import app

    monkeypatch.setenv("LEADPOOL_RECONCILE_POSTMARK_SERVER_TOKENS", '["postmark-secret-value"]')
    monkeypatch.setenv("LEADPOOL_RECONCILE_SENDGRID_API_KEY", "SG.secret-value")
    res = CliRunner().invoke(app, ["settings", "--json"])
    assert res.exit_code == 0, res.output
    assert "secret-value" not in res.stdout
    rows = {r["env"]: r for r in json.loads(res.stdout)["settings"]}
    assert rows["LEADPOOL_RECONCILE_POSTMARK_SERVER_TOKENS"]["value"] == "(set)"
    assert rows["LEADPOOL_RECONCILE_SENDGRID_API_KEY"]["value"] == "(set)"
    assert rows["LEADPOOL_RECONCILE_MAILGUN_BASE_URL"]["default"] == "https://api.mailgun.net"
    assert rows["LEADPOOL_RECONCILE_OVERLAP_HOURS"]["value"] == 24
    # a Mailgun key without its domains is refused in one line naming the variable, not its value
    monkeypatch.setenv("LEADPOOL_RECONCILE_MAILGUN_API_KEY", "mailgun-secret-value")
    bad = CliRunner().invoke(app, ["webhooks", "reconcile"])
    assert bad.exit_code == 2 and "LEADPOOL_RECONCILE_MAILGUN_DOMAINS" in bad.output
    assert "secret-value" not in bad.output


# --- SES ------------------------------------------------------------------------------------------

_VECTOR = {
    "host": "example.amazonaws.com",
    "amz_date": "20150830T123600Z",
    "region": "us-east-1",
    "service": "service",
    "access_key": "AKIDEXAMPLE",
    "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
_UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_STS_TOKEN = (
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTfl"
    "fKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HF"
    "vlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr"
    "4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
)


# AWS's SigV4 test suite (aws-sig-v4-test-suite): the fake SES server checks requests with this
# same function, so these vectors are what proves the algorithm (query order and encoding, the
# path as sent, the session token signed)
@pytest.mark.parametrize(
    ("method", "path", "query", "token", "sig"),
    [
        ("GET", "/", "", None, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        (
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            None,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "GET",
            "/",
            "Param1=value2&Param1=value1",
            None,
            "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
        ),
        (
            "GET",
            "/",
            "Param1=value2&Param1=Value1",
            None,
            "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
        ),
        (
            "GET",
            "/",
            "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
            None,
            "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
        ),
        (
            "GET",
            "/",
            f"{_UNRESERVED}={_UNRESERVED}",
            None,
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        ),
        (
            "GET",
            "/",
            "%E1%88%B4=bar",
            None,
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        ),
        (
            "GET",
            "/example/%24delete",
            "",
            None,
            "a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27",
        ),
        (
            "GET",
            "/",
            "",
            "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
        ),
        ("POST", "/", "", _STS_TOKEN, "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
    ],
)
def test_sigv4_matches_the_aws_test_suite(
    method: str, path: str, query: str, token: str | None, sig: str
) -> None:
    from leadpool.webhooks.reconcile.sigv4 import signature

    signed = "host;x-amz-date;x-amz-security-token" if token else "host;x-amz-date"
    assert signature(method=method, path=path, query=query, session_token=token, **_VECTOR) == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={signed}, Signature={sig}"
    )


def ses_settings(fake: FakeProviders, **kw: Any) -> dict[str, Any]:
    return {
        "ses_access_key_id": fake.ses_keys[0],
        "ses_secret_access_key": fake.ses_keys[1],
        "ses_regions": ["us-east-1", "eu-west-1"],
        "ses_base_url": fake.base_url,
        **kw,
    }


def test_ses_signed_pages_by_next_token_and_asks_from_the_mark(db: Database, fake: FakeProviders) -> None:
    fake.ses = {
        "us-east-1": [
            {"EmailAddress": f"u{i}@acme.example", "Reason": "BOUNCE", "LastUpdateTime": _at(i).timestamp()}
            for i in range(3)
        ]
        + [
            {"EmailAddress": "spam@acme.example", "Reason": "COMPLAINT", "LastUpdateTime": _at(4).timestamp()}
        ],
        "eu-west-1": [
            {"EmailAddress": "eu@acme.example", "Reason": "BOUNCE", "LastUpdateTime": _at(5).timestamp()}
        ],
    }
    s = run(db, fake, "ses", settings={**ses_settings(fake), "page_size": 2})["ses"]
    assert (s.error, s.entries_read, s.events_recorded, s.rejected) == (None, 5, 5, [])
    assert "email_bounced" in kinds(db, "u2@acme.example") and "complained" in kinds(db, "spam@acme.example")
    assert "email_bounced" in kinds(db, "eu@acme.example")
    us = fake.asked("/v2/email/suppression/addresses")
    assert [r.query.get("NextToken") for r in us] == [None, "2", None]
    assert all("@" not in pid for _, _, pid, _ in events(db))
    fake.requests.clear()
    again = run(db, fake, "ses", settings={**ses_settings(fake), "overlap_hours": 1})["ses"]
    assert (again.events_recorded, again.duplicates, again.error) == (0, 2, None)
    assert [r.query["StartDate"] for r in fake.requests] == ["2026-11-02T12:30:00Z", "2026-11-02T13:30:00Z"]


def test_ses_wrong_secret_is_a_clear_error(db: Database, fake: FakeProviders) -> None:
    out = run(
        db, fake, "ses", "postmark", settings=ses_settings(fake, ses_secret_access_key="not-the-secret")
    )
    # each region is asked (SES may refuse one region only, e.g. one not enabled for the account)
    assert out["ses"].error == "; ".join(
        f"ses: {region}: the API refused the credentials (HTTP 403); check "
        "LEADPOOL_RECONCILE_SES_ACCESS_KEY_ID and LEADPOOL_RECONCILE_SES_SECRET_ACCESS_KEY"
        for region in ("us-east-1", "eu-west-1")
    )
    assert "not-the-secret" not in repr(out) and out["postmark"].error is None


def test_the_periodic_job_reconciles_the_configured_providers_and_fails_when_one_did(
    db: Database, fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadpool.errors import LeadpoolError
    from leadpool.webhooks.tasks import reconcile_suppressions_job

    sendgrid_lists(fake)
    monkeypatch.setenv("LEADPOOL_RECONCILE_SENDGRID_API_KEY", fake.sendgrid_key)
    monkeypatch.setenv("LEADPOOL_RECONCILE_SENDGRID_BASE_URL", fake.base_url)
    [summary] = reconcile_suppressions_job.func(None, timestamp=0)  # type: ignore[arg-type]
    assert (summary["provider"], summary["events_recorded"]) == ("sendgrid", 4)
    assert reconcile_suppressions_job.name == "webhooks.reconcile_suppressions"
    # on a queue the worker serves, hourly, one at a time (an operator's run may overlap: marks only move on)
    from leadpool.cli.jobs import known_queues
    from leadpool.queue import app as queue_app

    assert reconcile_suppressions_job.queue == "webhooks" and "webhooks" in known_queues()
    periodic = queue_app.periodic_registry.periodic_tasks[("webhooks.reconcile_suppressions", "hourly")]
    assert (
        periodic.cron == "41 * * * *" and reconcile_suppressions_job.lock == reconcile_suppressions_job.name
    )
    monkeypatch.setenv("LEADPOOL_RECONCILE_SENDGRID_API_KEY", "SG.revoked")
    with pytest.raises(LeadpoolError, match="LEADPOOL_RECONCILE_SENDGRID_API_KEY"):
        reconcile_suppressions_job.func(None, timestamp=0)  # type: ignore[arg-type]


# --- review: mapping, lists and marks ----------------------------------------------------------


def test_sendgrid_group_unsubscribes_are_read_as_unsubscribes(db: Database, fake: FakeProviders) -> None:
    # the webhook records group_unsubscribe as an unsubscribe: a lost delivery must be caught too
    fake.sendgrid = {
        "group_unsubscribes": [
            {
                "email": "grp@acme.example",
                "group_id": 42,
                "group_name": "Cold",
                "created_at": sendgrid_time(_at(1)),
            }
        ]
    }
    s = run(db, fake, "sendgrid")["sendgrid"]
    assert (s.error, s.events_recorded) == (None, 1)
    assert "unsubscribed" in kinds(db, "grp@acme.example")
    assert [r.query for r in fake.asked("/v3/asm/suppressions")] == [{}]  # one answer, no paging
    assert all("@" not in pid for _, _, pid, _ in events(db))
    again = run(db, fake, "sendgrid")["sendgrid"]
    assert (again.events_recorded, again.duplicates) == (0, 1)


def test_mailgun_unsubscribe_from_some_tags_is_still_an_unsubscribe(
    db: Database, fake: FakeProviders
) -> None:
    # the webhook's ``unsubscribed`` suppresses whatever the tags: the reconciliation may not do less
    fake.mailgun = {
        ("mg.example.com", "unsubscribes"): [
            {"address": "newsletter@acme.example", "tags": ["newsletter"], "created_at": mailgun_time(_at(3))}
        ]
    }
    s = run(db, fake, "mailgun")["mailgun"]
    assert (s.error, s.events_recorded, s.skipped) == (None, 1, 0)
    assert "unsubscribed" in kinds(db, "newsletter@acme.example")


def test_bounces_without_an_enhanced_code_are_read_by_their_wording(
    db: Database, fake: FakeProviders
) -> None:
    fake.sendgrid = {
        "bounces": [
            {
                "created": sendgrid_time(_at(0)),
                "email": "full@acme.example",
                "reason": "452 Mailbox full",
                "status": "",
            },
            {
                "created": sendgrid_time(_at(0)),
                "email": "later@acme.example",
                "reason": "quota exceeded, try later",
            },
            {
                "created": sendgrid_time(_at(0)),
                "email": "gone@acme.example",
                "reason": "550 No such user here",
            },
        ]
    }
    fake.mailgun = {
        ("mg.example.com", "bounces"): [
            {
                "address": "box@acme.example",
                "code": "550",
                "error": "550 Mailbox full",
                "created_at": mailgun_time(_at(0)),
            }
        ]
    }
    out = run(db, fake, "sendgrid", "mailgun")
    assert (out["sendgrid"].events_recorded, out["sendgrid"].skipped) == (1, 2)
    assert (out["mailgun"].events_recorded, out["mailgun"].skipped) == (0, 1)
    assert "email_bounced" in kinds(db, "gone@acme.example")
    for soft in ("full@acme.example", "later@acme.example", "box@acme.example"):
        assert not kinds(db, soft), soft


def test_one_failing_list_does_not_stop_the_providers_other_lists(db: Database, fake: FakeProviders) -> None:
    fake.sendgrid = {
        "bounces": [{"created": sendgrid_time(_at(0)), "email": "b@acme.example", "status": "5.1.1"}],
        "unsubscribes": [{"created": sendgrid_time(_at(1)), "email": "u@acme.example"}],
    }
    fake.mailgun = {
        ("mg2.example.com", "complaints"): [{"address": "c@acme.example", "created_at": mailgun_time(_at(1))}]
    }
    fake.fail_next("/v3/suppression/bounces", 400)
    out = run(
        db, fake, "sendgrid", "mailgun", settings={"mailgun_domains": ["gone.example.com", "mg2.example.com"]}
    )
    sg, mg = out["sendgrid"], out["mailgun"]
    assert sg.error is not None and "sendgrid: bounces: HTTP 400" in sg.error
    assert "unsubscribed" in kinds(db, "u@acme.example") and sg.events_recorded == 1
    assert sg.lists["bounces"] is None and sg.lists["unsubscribes"] == _at(1).isoformat()
    assert mg.error is not None and "gone.example.com/bounces: HTTP 404" in mg.error
    assert "complained" in kinds(db, "c@acme.example")


def test_a_malformed_next_page_url_is_the_providers_error_not_a_crash(
    db: Database, fake: FakeProviders
) -> None:
    fake.mailgun = {
        ("mg.example.com", "bounces"): [
            {"address": "b@acme.example", "code": "550", "error": "5.1.1", "created_at": mailgun_time(_at(0))}
        ]
    }
    real = fake.base_url
    fake.base_url = "http://[not-a-host"  # the paging URLs are now malformed
    out = run(
        db,
        fake,
        "mailgun",
        "postmark",
        settings={"mailgun_base_url": real, "postmark_base_url": real, "sendgrid_base_url": real},
    )
    assert out["mailgun"].error is not None and "next-page URL" in out["mailgun"].error
    assert out["postmark"].error is None


def test_a_future_dated_entry_does_not_move_the_mark_past_the_run(db: Database, fake: FakeProviders) -> None:
    now = datetime.now(UTC)
    fake.sendgrid = {
        "unsubscribes": [{"created": sendgrid_time(now + timedelta(days=30)), "email": "f@acme.example"}]
    }
    first = run(db, fake, "sendgrid")["sendgrid"]
    assert len(first.rejected) == 1  # an event cannot be reported before it happens
    fake.sendgrid["unsubscribes"].append(
        {"created": sendgrid_time(now - timedelta(hours=1)), "email": "n@acme.example"}
    )
    second = run(db, fake, "sendgrid")["sendgrid"]
    assert second.error is None
    assert "unsubscribed" in kinds(db, "n@acme.example")  # not skipped by a mark a month ahead
    with session_scope(db) as session:
        mark = session.scalar(select(ReconcileMark.high_water).where(ReconcileMark.scope == "unsubscribes"))
    assert mark is not None and mark <= datetime.now(UTC)


def test_mailgun_entry_added_later_with_an_old_created_at_is_recorded(
    db: Database, fake: FakeProviders
) -> None:
    # Mailgun's API takes created_at when suppressions are imported: an old date is no proof an
    # earlier run saw the entry
    key = ("mg.example.com", "unsubscribes")
    fake.mailgun = {
        key: [{"address": "new@acme.example", "tags": ["*"], "created_at": mailgun_time(_at(100))}]
    }
    run(db, fake, "mailgun")
    fake.mailgun[key].append(
        {"address": "imported@acme.example", "tags": ["*"], "created_at": mailgun_time(_at(-100))}
    )
    s = run(db, fake, "mailgun")["mailgun"]
    assert (s.error, s.events_recorded, s.duplicates) == (None, 1, 1)
    assert "unsubscribed" in kinds(db, "imported@acme.example")


def test_the_job_refusing_its_settings_names_the_variable_never_a_secret(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the worker logs a failed job's exception: pydantic's own text quotes the input (the keys)
    from leadpool.webhooks.tasks import reconcile_suppressions_job

    monkeypatch.setenv("LEADPOOL_RECONCILE_SES_ACCESS_KEY_ID", "AKIDNOTSHOWN")
    monkeypatch.setenv("LEADPOOL_RECONCILE_SES_SECRET_ACCESS_KEY", "ses-secret-not-shown")
    with pytest.raises(Exception) as caught:
        reconcile_suppressions_job.func(None, timestamp=0)  # type: ignore[arg-type]
    text = f"{caught.value!s} {caught.value!r}"
    assert "LEADPOOL_RECONCILE_SES_REGIONS" in text
    assert "not-shown" not in text and "NOTSHOWN" not in text


def test_a_database_failure_on_one_list_does_not_stop_the_other_lists_or_providers(
    db: Database, fake: FakeProviders
) -> None:
    from sqlalchemy import text

    token = fake.postmark_tokens[0]
    fake.sendgrid = {
        "bounces": [{"created": sendgrid_time(_at(0)), "email": "b@acme.example", "status": "5.1.1"}],
        "unsubscribes": [{"created": sendgrid_time(_at(1)), "email": "u@acme.example"}],
    }
    fake.postmark = {
        (token, "outbound"): [
            {
                "EmailAddress": "hb@acme.example",
                "SuppressionReason": "HardBounce",
                "CreatedAt": "2026-11-02T04:30:00Z",
            }
        ]
    }
    with session_scope(db) as session:
        session.add(ReconcileMark(provider="sendgrid", scope="bounces", high_water=_at(-1)))
    # another session holds the bounces mark: saving it times out (a real lock_not_available)
    impatient = Database.from_uri(db.uri, connect_args={"options": "-c lock_timeout=300"})
    holder = db.engine.connect()
    try:
        holder.execute(text("SELECT 1 FROM reconcile_marks WHERE scope = 'bounces' FOR UPDATE"))
        out = run(impatient, fake, "sendgrid", "postmark")
    finally:
        holder.rollback()
        holder.close()
        impatient.dispose()
    sg = out["sendgrid"]
    assert sg.error == "sendgrid: bounces: the database failed (OperationalError 55P03)"
    assert "unsubscribed" in kinds(db, "u@acme.example")  # the next list was still read
    assert out["postmark"].error is None and out["postmark"].events_recorded == 1


def test_a_key_without_one_lists_scope_still_reads_the_other_lists(db: Database, fake: FakeProviders) -> None:
    # SendGrid keys carry per-endpoint scopes: 403 on bounces says nothing of the unsubscribes
    fake.sendgrid = {"unsubscribes": [{"created": sendgrid_time(_at(1)), "email": "u@acme.example"}]}
    fake.fail_next("/v3/suppression/bounces", 403)
    s = run(db, fake, "sendgrid")["sendgrid"]
    assert s.error is not None and "bounces: the API refused the credentials (HTTP 403)" in s.error
    assert "unsubscribed" in kinds(db, "u@acme.example")
