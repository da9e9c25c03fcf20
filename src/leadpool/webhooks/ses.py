"""Amazon SES events through an SNS HTTP/S subscription: SNS signature v1 (SHA1) or v2 (SHA256).

Verification: header type/id must match the body; ``TopicArn`` must be allowed; ``Timestamp``
fresh; the certificate URL HTTPS on an SNS host; the RSA signature valid over SNS's canonical
string. The SNS ``MessageId`` is one-time: a second delivery of it is refused as a replay.
A SubscriptionConfirmation for an allowed topic is verified but not auto-confirmed (that would
fetch a URL from the request); its SubscribeURL is returned for an operator to confirm.

Mapping (``eventType`` or classic ``notificationType``): Bounce Permanent (any subtype) is a hard
bounce per recipient (subtype ``OnAccountSuppressionList``, and a complaint's
``complaintSubType`` of that name, is a drop, marked ``detail.dropped``: SES did not attempt
delivery and does not count it toward the bounce rate, so the person is suppressed but no
campaign, mailbox or company counts it; the global list's ``Suppressed`` does count, and stays a
plain hard bounce: reference section 3); Transient MailboxFull/General and Undetermined are soft; Transient
ContentRejected/AttachmentRejected/MessageTooLarge are sender blocks (the message, not the
person); Complaint a complaint per recipient, except a ``complaintFeedbackType`` of ``not-spam``
(an ARF report that the message is *not* spam, a correction: nobody complained), which is skipped
like the other notifications that ask nothing of us; a Subscription that turns unsubscribeAll on,
or a topic's status to OptOut (new preferences against old: the landing page takes opt-ins too),
an unsubscribe of its one destination (SES adds unsubscribe links only to mail to one recipient;
one naming several unsubscribes them all: who opted out is unknown, and the gate fails closed); Delivery/Open/Click are stored; the rest
(Send, Reject, DeliveryDelay, Rendering Failure) skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from leadpool.errors import InvalidInput
from leadpool.events.schemas import EventIn
from leadpool.webhooks.certs import CertStore, default_cert_store
from leadpool.webhooks.common import header, iso, load_json, mailbox, obj, require_dict, require_fresh
from leadpool.webhooks.errors import WebhookUnauthorized
from leadpool.webhooks.settings import WebhookSettings

NAME = "ses"
# authenticated by SNS's certificate-signed messages: nobody can guess it, so failures are not throttled
CHOSEN_SECRET = False

_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_SENDER_SUBTYPES = {"ContentRejected", "AttachmentRejected", "MessageTooLarge"}
# SES did not send: the address is on the account's suppression list
_DROPPED_SUBTYPE = "OnAccountSuppressionList"


def canonical_string(msg: Mapping[str, Any]) -> bytes:
    """The bytes SNS signs: ``key\\nvalue\\n`` for each signed key present, in this fixed order."""
    keys = _NOTIFICATION_KEYS if msg.get("Type") == "Notification" else _CONFIRMATION_KEYS
    return "".join(f"{k}\n{msg[k]}\n" for k in keys if msg.get(k) is not None).encode()


def _envelope(raw_body: bytes) -> dict[str, Any]:
    try:
        body = load_json(raw_body, NAME)
    except InvalidInput as e:
        raise WebhookUnauthorized(f"ses: unsigned delivery ({e.message})") from None
    if not isinstance(body, dict) or not body.get("Signature") or not body.get("SigningCertURL"):
        raise WebhookUnauthorized("ses: unsigned delivery (Signature and SigningCertURL required)")
    for key in ("Type", "MessageId", "TopicArn", "Timestamp", "Message"):
        if not isinstance(body.get(key), str):
            raise WebhookUnauthorized(f"ses: SNS message lacks {key}")
    return body


def verify(
    headers: Mapping[str, str],
    raw_body: bytes,
    secrets: WebhookSettings,
    now: datetime,
    *,
    certs: CertStore | None = None,
) -> None:
    """Raise WebhookUnauthorized unless this is a fresh SNS message, signed by SNS, from an allowed topic."""
    msg = _envelope(raw_body)
    if header(headers, "x-amz-sns-message-type") != msg["Type"]:
        raise WebhookUnauthorized("ses: x-amz-sns-message-type header missing or not the body's Type")
    if header(headers, "x-amz-sns-message-id") != msg["MessageId"]:
        raise WebhookUnauthorized("ses: x-amz-sns-message-id header missing or not the body's MessageId")
    if msg["TopicArn"] not in secrets.ses_topic_arns:
        raise WebhookUnauthorized(
            f"ses: topic {msg['TopicArn']!r} is not allowed (LEADPOOL_WEBHOOK_SES_TOPIC_ARNS)"
        )
    try:
        signed_at = iso(msg["Timestamp"], NAME, "Timestamp")
    except InvalidInput as e:
        raise WebhookUnauthorized(e.message) from None
    require_fresh(signed_at, now, secrets.ses_tolerance_seconds, NAME)
    version = str(msg.get("SignatureVersion") or "1")
    if version not in ("1", "2"):
        raise WebhookUnauthorized(f"ses: unknown SignatureVersion {version!r}")
    cert = (certs or default_cert_store).get(str(msg["SigningCertURL"]))
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise WebhookUnauthorized("ses: the signing certificate is not valid now")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookUnauthorized("ses: the signing certificate has no RSA key")
    try:
        signature = base64.b64decode(str(msg["Signature"]), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookUnauthorized("ses: Signature is not base64") from None
    digest = hashes.SHA256() if version == "2" else hashes.SHA1()  # SNS v1 signs with SHA1
    try:
        key.verify(signature, canonical_string(msg), padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise WebhookUnauthorized("ses: SNS signature does not match (forged or altered message)") from None


def replay_key(headers: Mapping[str, str], raw_body: bytes) -> str | None:
    return str(_envelope(raw_body)["MessageId"])


def subscribe_url(raw_body: bytes) -> str | None:
    """For a SubscriptionConfirmation: the URL an operator visits to confirm the subscription."""
    msg = _envelope(raw_body)
    return str(msg.get("SubscribeURL")) if msg.get("Type") == "SubscriptionConfirmation" else None


def _statuses(prefs: dict[str, Any]) -> dict[str, bool]:
    """Each topic's ``subscriptionStatus`` in one set of preferences: True for OptOut (OPT_OUT in
    the v2 API). Shapes the documentation does not give are read as nothing."""
    statuses = prefs.get("topicSubscriptionStatus")
    out: dict[str, bool] = {}
    for t in statuses if isinstance(statuses, list) else []:
        if isinstance(t, dict) and isinstance(t.get("subscriptionStatus"), str):
            out[str(t.get("topicName"))] = t["subscriptionStatus"].replace("_", "").lower() == "optout"
    return out


def _opted_out(sub: dict[str, Any]) -> bool:
    """The contact opted out in this change: ``unsubscribeAll`` turned on, or a topic turned
    OptOut (leaving one of a sender's lists is asking not to be mailed, as SendGrid's group
    unsubscribe is read). SES's landing page also takes opt-ins, and the event then lists the
    topics that stay OptOut, which may be the sender's own setting: only what changed is the
    person's act. Without old preferences the new ones decide, so no opt-out is missed."""
    new, old = obj(sub.get("newTopicPreferences")), obj(sub.get("oldTopicPreferences"))
    if new.get("unsubscribeAll") is True and old.get("unsubscribeAll") is not True:
        return True
    was_out = _statuses(old)
    return any(out and not was_out.get(topic, False) for topic, out in _statuses(new).items())


def _recipients(items: Any) -> list[dict[str, Any]]:
    return (
        [r for r in items if isinstance(r, dict) and r.get("emailAddress")] if isinstance(items, list) else []
    )


def parse(raw_body: bytes, headers: Mapping[str, str]) -> list[EventIn]:
    """One EventIn per recipient: one SES notification can cover several."""
    envelope = require_dict(load_json(raw_body, NAME), NAME, "body")
    if envelope.get("Type") != "Notification":
        return []
    try:
        inner = require_dict(json.loads(str(envelope.get("Message"))), NAME, "Message")
    except json.JSONDecodeError as e:
        raise InvalidInput(f"ses: Message is not JSON ({e})") from None
    kind = inner.get("eventType") or inner.get("notificationType")
    mail = obj(inner.get("mail"))
    message_id = mail.get("messageId") if isinstance(mail.get("messageId"), str) else None
    sender = mailbox(mail.get("source"))
    base_detail: dict[str, Any] = {"sns_message_id": envelope.get("MessageId"), "ses_event": kind}
    if isinstance(mail.get("tags"), dict):
        base_detail["tags"] = mail["tags"]
    out: list[EventIn] = []

    def add(etype: str, email: str, at: Any, event_id: str, extra: dict[str, Any] | None = None) -> None:
        out.append(
            EventIn(
                type=etype,
                email=email,
                channel="email",
                occurred_at=iso(at, NAME, f"{kind} timestamp"),
                source=NAME,
                provider_event_id=event_id,
                provider_message_id=message_id,
                sender=sender,
                detail={**base_detail, **(extra or {})},
            )
        )

    if kind == "Bounce":
        bounce = require_dict(inner.get("bounce"), NAME, "bounce")
        btype, subtype = bounce.get("bounceType"), bounce.get("bounceSubType")
        if btype == "Permanent":
            etype = "hard_bounce"
        elif btype == "Transient" and subtype in _SENDER_SUBTYPES:
            etype = "sender_block"
        else:
            etype = "soft_bounce"
        for r in _recipients(bounce.get("bouncedRecipients")):
            extra: dict[str, Any] = {"bounce_type": btype, "bounce_subtype": subtype}
            if r.get("status") and etype != "sender_block":
                extra["smtp_status"] = str(r["status"])
            if r.get("diagnosticCode"):
                extra["diagnostic_code"] = r["diagnosticCode"]
            if subtype == _DROPPED_SUBTYPE:
                extra["dropped"] = True
            add(
                etype,
                r["emailAddress"],
                bounce.get("timestamp"),
                f"{bounce.get('feedbackId')}:{r['emailAddress']}",
                extra,
            )
    elif kind == "Complaint":
        complaint = require_dict(inner.get("complaint"), NAME, "complaint")
        feedback = complaint.get("complaintFeedbackType")
        if isinstance(feedback, str) and feedback.strip().lower() == "not-spam":
            return []  # "this is not spam": a report that suppresses nobody
        extra = {"feedback_type": complaint.get("complaintFeedbackType")}
        if complaint.get("complaintSubType") == _DROPPED_SUBTYPE:
            extra |= {"complaint_subtype": _DROPPED_SUBTYPE, "dropped": True}
        for r in _recipients(complaint.get("complainedRecipients")):
            add(
                "complaint",
                r["emailAddress"],
                complaint.get("timestamp"),
                f"{complaint.get('feedbackId')}:{r['emailAddress']}",
                extra,
            )
    elif kind == "Subscription":
        sub = require_dict(inner.get("subscription"), NAME, "subscription")
        if _opted_out(sub):
            # SES adds its unsubscribe header and link only to mail sent to one recipient, so the
            # one destination is who opted out. An event naming several cannot say which of them
            # did: all are unsubscribed, as the gate fails closed (an opt-out missed is a breach
            # of the law; one too many costs a lead)
            for email in [d for d in mail.get("destination") or [] if isinstance(d, str)]:
                add("unsubscribe", email, sub.get("timestamp"), f"{message_id}:subscription:{email}")
    elif kind in ("Delivery", "Open", "Click"):
        etype = {"Delivery": "delivered", "Open": "opened", "Click": "clicked"}[kind]
        part = require_dict(inner.get(kind.lower()), NAME, kind.lower())
        recipients = part.get("recipients") or mail.get("destination") or []
        for email in recipients:
            add(etype, email, part.get("timestamp"), f"{message_id}:{kind}:{email}:{part.get('timestamp')}")
    return out
