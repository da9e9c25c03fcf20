"""Provider webhooks over HTTP: signatures checked on the raw bytes, forgeries and replays refused."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from leadpool.client import ApiError, LeadpoolClient
from webhooks.conftest import MAILGUN_BODY, MAILGUN_KEY, SENDGRID_EVENTS, SendGridSigner, mailgun_signed


@pytest.fixture
def signer(monkeypatch: pytest.MonkeyPatch) -> SendGridSigner:
    s = SendGridSigner()
    monkeypatch.setenv("LEADPOOL_WEBHOOK_SENDGRID_PUBLIC_KEYS", json.dumps([s.public_b64]))
    monkeypatch.setenv("LEADPOOL_WEBHOOK_MAILGUN_SIGNING_KEYS", json.dumps([MAILGUN_KEY]))
    monkeypatch.setenv("LEADPOOL_WEBHOOK_POSTMARK_BASIC_AUTH", json.dumps(["hook:pass"]))
    return s


def _now() -> str:
    return str(int(time.time()))


def test_sendgrid_signed_over_http(api, signer):
    hooks = LeadpoolClient(api.url)  # no bearer token: the signature is the authentication
    body = json.dumps(SENDGRID_EVENTS).encode()
    result = hooks.webhook("sendgrid", body, signer.headers(body, _now()))
    assert result.events_recorded == 1 and result.duplicates == 0 and result.provider == "sendgrid"

    # the same events signed again at another time: stored once, acknowledged as duplicates
    again = hooks.webhook("sendgrid", body, signer.headers(body, str(int(time.time()) + 1)))
    assert again.events_recorded == 0 and again.duplicates == 1

    # one byte changed after signing: forged
    headers = signer.headers(body, _now())
    with pytest.raises(ApiError) as e:
        hooks.webhook("sendgrid", body.replace(b"bounce", b"bouncE", 1), headers)
    assert e.value.status == 401 and e.value.problem["status"] == 401

    # unsigned, and signed by someone else
    with pytest.raises(ApiError) as e:
        hooks.webhook("sendgrid", body, {"Content-Type": "application/json"})
    assert e.value.status == 401
    with pytest.raises(ApiError) as e:
        hooks.webhook("sendgrid", body, SendGridSigner().headers(body, _now()))
    assert e.value.status == 401
    assert 'leadpool_webhooks_total{provider="sendgrid",status="401"}' in api.admin.metrics()


def test_mailgun_signed_replayed_and_stale(api, signer):
    hooks = LeadpoolClient(api.url)
    body = mailgun_signed(MAILGUN_BODY, timestamp=_now(), token="a" * 50)
    assert hooks.webhook("mailgun", body, {"Content-Type": "application/json"}).events_recorded == 1
    with pytest.raises(ApiError) as e:  # the same signed token again: a replay
        hooks.webhook("mailgun", body, {"Content-Type": "application/json"})
    assert e.value.status == 409
    stale = mailgun_signed(MAILGUN_BODY, timestamp=str(int(time.time()) - 10 * 3600), token="b" * 50)
    with pytest.raises(ApiError) as e:
        hooks.webhook("mailgun", stale, {"Content-Type": "application/json"})
    assert e.value.status == 401


def test_postmark_basic_auth_and_unknown_provider(api, signer):
    body = json.dumps(
        {
            "RecordType": "Bounce",
            "ID": 4323372036854775807,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Email": "postmark.person@example.com",
            "BouncedAt": "2025-01-01T00:00:00Z",
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "ServerID": 23,
            "MessageStream": "outbound",
        }
    ).encode()
    good = {
        "Authorization": "Basic " + base64.b64encode(b"hook:pass").decode(),
        "Content-Type": "application/json",
    }
    r = httpx.post(f"{api.url}/v1/webhooks/postmark", content=body, headers=good)
    assert r.status_code == 200, r.text
    bad = {"Authorization": "Basic " + base64.b64encode(b"hook:wrong").decode()}
    r = httpx.post(f"{api.url}/v1/webhooks/postmark", content=body, headers=bad)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    # a bearer token does not stand in for the provider's signature
    admin = {"Authorization": f"Bearer {api.admin.token}"}
    assert httpx.post(f"{api.url}/v1/webhooks/postmark", content=body, headers=admin).status_code == 401
    r = httpx.post(f"{api.url}/v1/webhooks/nosuch", content=body)
    assert r.status_code == 404 and "unknown webhook provider" in r.json()["detail"]


def test_a_misshaped_webhook_setting_is_a_503_naming_it_never_its_value(api, monkeypatch, caplog):
    monkeypatch.setenv("LEADPOOL_WEBHOOK_SMARTLEAD_SECRET_KEYS", '"sk_one_secret"')  # a string, not a list
    r = httpx.post(f"{api.url}/v1/webhooks/smartlead", json={"secret_key": "x"})
    assert r.status_code == 503, r.text
    assert "LEADPOOL_WEBHOOK_SMARTLEAD_SECRET_KEYS" in r.json()["detail"] and "sk_one_secret" not in r.text
    assert "sk_one_secret" not in caplog.text
