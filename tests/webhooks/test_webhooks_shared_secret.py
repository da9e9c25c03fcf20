"""Postmark (Basic auth), Smartlead (secret_key in body), Instantly (secret header): auth and mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from leadpool.config import get_settings
from leadpool.db import Database, session_scope
from leadpool.ingestion.hashing import address_hmac
from leadpool.models import Lead, Suppression
from leadpool.webhooks import (
    WebhookResult,
    WebhookSettings,
    WebhookUnauthorized,
    handle,
    instantly,
    postmark,
    smartlead,
)

from .conftest import INSTANTLY_BOUNCE, NOW, POSTMARK_AUTH, POSTMARK_BOUNCE, SMARTLEAD_BOUNCE, dumps

INSTANTLY_AUTH = {"Authorization": "Bearer instantly-fixture-secret"}


def run(
    db: Database, provider: str, headers: dict[str, str], body: bytes, secrets: WebhookSettings
) -> WebhookResult:
    with session_scope(db) as s:
        return handle(provider, headers, body, session=s, settings=secrets, now=NOW)


def kinds(db: Database, email: str = "bounced.person@example.com") -> set[str]:
    h = address_hmac("email", email, get_settings().resolved_secret_key())
    with session_scope(db) as s:
        return set(s.execute(select(Suppression.kind).where(Suppression.value_hmac == h)).scalars())


# --- Postmark -------------------------------------------------------------------------------------


def test_postmark_fixture_bounce_with_basic_auth(db: Database, secrets: WebhookSettings) -> None:
    result = run(db, "postmark", {"Authorization": POSTMARK_AUTH}, dumps(POSTMARK_BOUNCE), secrets)
    assert result.events_recorded == 1 and kinds(db) == {"email_bounced"}
    [event] = postmark.parse(dumps(POSTMARK_BOUNCE), {})
    assert event.provider_event_id == "bounce:3719297970" and event.detail["smtp_status"] == "5.1.1"
    assert event.occurred_at.isoformat() == "2025-01-01T00:00:00+00:00"


def test_postmark_replay_is_a_duplicate_with_no_effect(db: Database, secrets: WebhookSettings) -> None:
    run(db, "postmark", {"Authorization": POSTMARK_AUTH}, dumps(POSTMARK_BOUNCE), secrets)
    again = run(db, "postmark", {"authorization": POSTMARK_AUTH}, dumps(POSTMARK_BOUNCE), secrets)
    assert (again.events_recorded, again.duplicates) == (0, 1)
    assert again.outcomes[0].effects == []


def test_postmark_rejects_missing_and_wrong_credentials(db: Database, secrets: WebhookSettings) -> None:
    body = dumps(POSTMARK_BOUNCE)
    with pytest.raises(WebhookUnauthorized, match="Basic required"):
        run(db, "postmark", {}, body, secrets)
    with pytest.raises(WebhookUnauthorized, match="wrong credentials"):
        run(db, "postmark", {"Authorization": "Basic d2ViaG9vazp3cm9uZw=="}, body, secrets)  # webhook:wrong
    with pytest.raises(WebhookUnauthorized, match="not valid Basic"):
        run(db, "postmark", {"Authorization": "Basic %%%"}, body, secrets)
    assert kinds(db) == set()


def test_postmark_spam_complaint_is_not_spam_notification() -> None:
    def parsed(**change: Any) -> list[str]:
        return [e.type for e in postmark.parse(dumps({**POSTMARK_BOUNCE, **change}), {})]

    assert parsed(Type="SpamComplaint", TypeCode=100001) == ["complaint"]
    assert parsed(RecordType="SpamComplaint", Type="SpamComplaint") == ["complaint"]
    assert parsed(Type="SpamNotification", TypeCode=512, Details="") == ["sender_block"]
    assert parsed(Type="SoftBounce", TypeCode=4096, Details="smtp;452 4.2.2 mailbox full") == ["soft_bounce"]
    assert parsed(Type="Transient", TypeCode=2, Details="") == ["soft_bounce"]
    assert parsed(Type="BadEmailAddress", TypeCode=100000, Details="") == ["hard_bounce"]
    assert parsed(Type="AddressChange", TypeCode=128) == []
    auto = postmark.parse(
        dumps({**POSTMARK_BOUNCE, "Type": "AutoResponder", "Details": "I am out of office"}), {}
    )
    assert [(e.type, e.category) for e in auto] == [("reply", "out_of_office")]
    sub = {
        "RecordType": "SubscriptionChange",
        "MessageID": "m-1",
        "Recipient": "a@example.com",
        "ChangedAt": "2025-01-01T00:00:00Z",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
    }
    assert [e.type for e in postmark.parse(dumps(sub), {})] == ["unsubscribe"]
    assert postmark.parse(dumps({**sub, "SuppressSending": False}), {}) == []


# --- Smartlead ------------------------------------------------------------------------------------


def test_smartlead_fixture_bounce_parses_the_dsn(db: Database, secrets: WebhookSettings) -> None:
    result = run(db, "smartlead", {}, dumps(SMARTLEAD_BOUNCE), secrets)
    assert result.events_recorded == 1 and kinds(db) == {"email_bounced"}
    [event] = smartlead.parse(dumps(SMARTLEAD_BOUNCE), {})
    assert event.type == "hard_bounce" and event.provider_message_id == "<fixture-0001@example.com>"
    assert event.sender == "agent@example.com" and event.detail["campaign_id"] == 123


def test_smartlead_soft_and_policy_bounces_and_both_spellings() -> None:
    def parsed(**change: Any) -> list[tuple[str, str | None]]:
        return [(e.type, e.category) for e in smartlead.parse(dumps({**SMARTLEAD_BOUNCE, **change}), {})]

    full = {"text": "452 4.2.2 The recipient's inbox is out of storage space.", "html": ""}
    assert parsed(bounce_message=full) == [("soft_bounce", None)]
    policy = {"text": "550 5.7.1 Message rejected due to local policy", "html": ""}
    assert parsed(bounce_message=policy) == [("sender_block", None)]
    assert parsed(event_type="EMAIL_BOUNCED") == [("hard_bounce", None)]
    assert parsed(event_type="LEAD_UNSUBSCRIBED") == [("unsubscribe", None)]
    assert parsed(event_type="EMAIL_UNSUBSCRIBED") == [("unsubscribe", None)]
    assert parsed(event_type="EMAIL_OPENED") == [("opened", None)]
    assert parsed(event_type="EMAIL_LINK_CLICK") == [("clicked", None)]
    assert parsed(event_type="EMAIL_SENT") == []
    reply = {"text": "Not interested, thanks.", "html": "", "message_id": "<r1@x>"}
    assert parsed(event_type="EMAIL_REPLY", reply_message=reply) == [("reply", None)]
    assert parsed(event_type="EMAIL_REPLIED", reply_message=reply) == [("reply", None)]
    assert parsed(event_type="LEAD_CATEGORY_UPDATED", lead_category={"new_name": "Out Of Office"}) == [
        ("reply", "out_of_office")
    ]
    assert parsed(event_type="LEAD_CATEGORY_UPDATED", lead_category={"new_name": "My custom label"}) == []


def test_smartlead_reply_text_is_classified(db: Database, secrets: WebhookSettings) -> None:
    with session_scope(db) as s:
        s.add(Lead(email="bounced.person@example.com"))
    body = {
        **SMARTLEAD_BOUNCE,
        "event_type": "EMAIL_REPLY",
        "reply_message": {"text": "Please remove me from your list.", "html": ""},
    }
    result = run(db, "smartlead", {}, dumps(body), secrets)
    assert result.outcomes[0].category == "unsubscribe"
    assert kinds(db) == {"unsubscribed"}


def test_smartlead_reply_with_only_an_html_body_saying_stop_is_an_opt_out(
    db: Database, secrets: WebhookSettings, get_lead: Callable[[int], Lead]
) -> None:
    """Smartlead's reply_message carries ``text`` and ``html``; with an empty ``text`` the adapter
    fell back to the HTML and classified it markup included: "<div>STOP</div>" was not an opt-out
    (the STOP rules anchor at the start of the message or a sentence), so the person was only
    marked replied: nothing suppressed, no consent revoked. The HTML is now read as text."""
    with session_scope(db) as s:
        lead = Lead(email="html.stop.review@example.com")
        s.add(lead)
        s.flush()
        lead_id = lead.id
    body = {k: v for k, v in SMARTLEAD_BOUNCE.items() if k != "bounce_message"}
    body.update(
        event_type="EMAIL_REPLY",
        to_email="html.stop.review@example.com",
        reply_message={
            "message_id": "<reply-0001@example.com>",
            "text": "",
            "html": '<div dir="ltr">STOP</div>',
            "time": "2025-01-01T00:00:00.000Z",
        },
    )
    result = run(db, "smartlead", {}, dumps(body), secrets)
    assert result.events_recorded == 1 and result.rejected == []
    assert result.outcomes[0].category == "unsubscribe", result.outcomes[0].category
    assert get_lead(lead_id).unsubscribed_at is not None
    assert kinds(db, "html.stop.review@example.com") == {"unsubscribed"}


_GMAIL_REPLY = (
    '<div dir="ltr">Sounds good,<br>send me some times.</div><br>'
    '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Mon, Jan 6, 2025 '
    "at 9:00 AM Tom &lt;tom@agency.example&gt; wrote:<br></div>"
    '<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">Hi Jane,<br>Not interested? Reply STOP or '
    '<a href="https://x.example/u">unsubscribe</a>.<div><div>Tom</div></div></blockquote></div>'
)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<div dir="ltr">STOP</div>', "STOP"),
        (
            "<p>Not&nbsp;interested,&nbsp;thanks</p><p>Stop&nbsp;emailing&nbsp;me</p>",
            "Not interested, thanks\nStop emailing me",
        ),
        (
            "Line one<br>line\n   two<br/>three<ul><li>a</li><li>b</li></ul>",
            "Line one\nline two\nthree\na\nb",
        ),
        # styling, scripts and the head are not words
        (
            (
                "<html><head><title>Re: hi</title><style>p {color: red}</style></head>"
                "<body><script>var s = 'unsubscribe';</script><p>Call me Tuesday</p></body></html>"
            ),
            "Call me Tuesday",
        ),
        # quoted history (Gmail's quote, any blockquote, nested ones too) is not the person's reply
        (_GMAIL_REPLY, "Sounds good,\nsend me some times."),
        (
            (
                '<div>Thanks</div><blockquote type="cite"><div>Unsubscribe</div><blockquote>x</blockquote>y'
                "</blockquote><div>Back on Monday</div>"
            ),
            "Thanks\nBack on Monday",
        ),
        ("<pre>keep\n  this</pre>", "keep\nthis"),
    ],
)
def test_smartlead_html_is_read_as_text(html: str, expected: str) -> None:
    assert smartlead.html_to_text(html) == expected


def test_smartlead_reply_text_prefers_text_then_the_html_made_plain() -> None:
    def reply(**change: Any) -> tuple[str | None, str | None]:
        body = {**SMARTLEAD_BOUNCE, "event_type": "EMAIL_REPLY", **change}
        [event] = smartlead.parse(dumps(body), {})
        return event.text, event.category

    both = {"text": "Happy to chat", "html": "<div>STOP</div>"}
    assert reply(reply_message=both) == ("Happy to chat", None)
    assert reply(reply_message={"text": "", "html": _GMAIL_REPLY}) == (
        "Sounds good,\nsend me some times.",
        None,
    )
    # the deprecated reply_body is the HTML too; a body with no tags is taken as it is, entities decoded
    assert reply(reply_message={"text": "", "html": ""}, reply_body="<p>Stop</p>")[0] == "Stop"
    assert reply(reply_body="Not interested &amp; stop")[0] == "Not interested & stop"
    # nothing but quoted history: the plain preview is used
    assert (
        reply(reply_message={"text": "", "html": "<blockquote>Hi</blockquote>"}, preview_text="ok")[0] == "ok"
    )
    # a bounce's HTML DSN is read as text as well
    [bounce] = smartlead.parse(
        dumps({**SMARTLEAD_BOUNCE, "bounce_message": {"text": "", "html": "<p>550 5.1.1 user unknown</p>"}}),
        {},
    )
    assert bounce.type == "hard_bounce" and bounce.detail["smtp_status"] == "5.1.1"


def test_smartlead_rejects_missing_and_wrong_secret(db: Database, secrets: WebhookSettings) -> None:
    with pytest.raises(WebhookUnauthorized, match="secret_key required"):
        run(
            db,
            "smartlead",
            {},
            dumps({k: v for k, v in SMARTLEAD_BOUNCE.items() if k != "secret_key"}),
            secrets,
        )
    with pytest.raises(WebhookUnauthorized, match="wrong secret_key"):
        run(db, "smartlead", {}, dumps({**SMARTLEAD_BOUNCE, "secret_key": "guess"}), secrets)
    assert kinds(db) == set()
    run(db, "smartlead", {}, dumps(SMARTLEAD_BOUNCE), secrets)
    again = run(db, "smartlead", {}, dumps(SMARTLEAD_BOUNCE), secrets)
    assert (again.events_recorded, again.duplicates) == (0, 1)


# --- Instantly ------------------------------------------------------------------------------------


def test_instantly_fixture_bounce_with_secret_header(db: Database, secrets: WebhookSettings) -> None:
    result = run(db, "instantly", INSTANTLY_AUTH, dumps(INSTANTLY_BOUNCE), secrets)
    assert result.events_recorded == 1 and kinds(db) == {"email_bounced"}
    again = run(db, "instantly", INSTANTLY_AUTH, dumps(INSTANTLY_BOUNCE), secrets)
    assert again.duplicates == 1


def test_instantly_labels_and_replies() -> None:
    def parsed(**change: Any) -> list[tuple[str, str | None]]:
        return [(e.type, e.category) for e in instantly.parse(dumps({**INSTANTLY_BOUNCE, **change}), {})]

    assert parsed(event_type="lead_interested") == [("reply", "interested")]
    assert parsed(event_type="lead_not_interested") == [("reply", "not_interested")]
    assert parsed(event_type="lead_out_of_office") == [("reply", "out_of_office")]
    assert parsed(event_type="lead_wrong_person") == [("reply", "wrong_person")]
    assert parsed(event_type="lead_unsubscribed") == [("unsubscribe", None)]
    assert parsed(event_type="reply_received", reply_text="Sounds good, send details") == [("reply", None)]
    assert parsed(event_type="auto_reply_received", reply_text="Thanks for your email!") == [
        ("reply", "out_of_office")
    ]
    assert parsed(event_type="email_bounced", bounce_type="soft") == [("soft_bounce", None)]
    assert parsed(event_type="email_sent") == []
    assert parsed(event_type="campaign_completed") == []


def test_instantly_rejects_missing_wrong_and_foreign_workspace(
    db: Database, secrets: WebhookSettings
) -> None:
    body = dumps(INSTANTLY_BOUNCE)
    with pytest.raises(WebhookUnauthorized, match="Authorization header required"):
        run(db, "instantly", {}, body, secrets)
    with pytest.raises(WebhookUnauthorized, match="wrong secret"):
        run(db, "instantly", {"Authorization": "Bearer nope"}, body, secrets)
    scoped = secrets.model_copy(update={"instantly_workspaces": ["00000000-0000-4000-8000-000000000001"]})
    with pytest.raises(WebhookUnauthorized, match="workspace"):
        run(db, "instantly", INSTANTLY_AUTH, body, scoped)
    assert kinds(db) == set()


def test_a_postmark_auto_reply_saying_the_person_left_stops_automation(db: Database) -> None:
    from tests.gate.factories import MONDAY_OPEN, World

    from leadpool.events import record_event
    from leadpool.gate import check

    with session_scope(db) as s:
        w = World(s)
        lead = w.lead(email="jane@acme.example")
    departed = {
        **POSTMARK_BOUNCE,
        "Type": "AutoResponder",
        "TypeCode": 4,
        "Email": "jane@acme.example",
        "BouncedAt": "2026-02-20T10:00:00Z",
        "Content": "I am no longer with Acme. This mailbox is not monitored.",
    }
    [event] = postmark.parse(dumps(departed), {})
    assert event.category == "out_of_office"  # what Postmark says of every auto-reply
    with session_scope(db) as s:
        out = record_event(s, event)
    assert out.category == "wrong_person" and "lead:wrong_person" in out.effects
    with session_scope(db) as s:  # ten days later: no pause ran out, the person is gone for good
        d = check(s, lead_id=lead, campaign_id=w.campaign_id, channel="email", at=MONDAY_OPEN, reserve=False)
    assert "replied" in d.codes


@pytest.mark.parametrize(
    "html",
    [
        "<div>STOP",
        "<p>STOP<br",
        "</div></p>STOP please",
        '<div dir="ltr>STOP</div>',
        "a < b &bogus; &#xFFFFFFFF; STOP",
    ],
)
def test_smartlead_malformed_html_still_reads_the_words(html: str) -> None:
    """Unclosed or stray tags and broken entities, as mail clients write them: no error, and the
    person's words are kept (the reply is classified, not refused)."""
    assert "STOP" in smartlead.html_to_text(html)
