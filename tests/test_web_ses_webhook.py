"""``POST /webhooks/ses`` over real HTTP: SES events as Amazon SNS posts them, signed here as
SNS signs (RSA over the documented "Key\\nValue\\n" text, with a certificate made here and given
as ``[providers.ses] webhook_certificate``); unsigned, badly signed, foreign and stale messages
refused, redeliveries recognised, the subscription confirmed against a local server."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import uuid

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fakes.server import FakeServer, Response
from newsletter.store import subscribers
from newsletter.store.db import open_db
from newsletter.web.app import create_app
from web_server import serving

ENV = {"NEWSLETTER_SECRET": "test-secret-not-for-production"}
TOPIC = "arn:aws:sns:eu-west-1:123456789012:newsletter-events"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
# The keys in the signed text, per message type, in order (AWS SNS developer guide).
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def certificate_pem(key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def sns(message_type: str, *, key=KEY, version: str = "1", at: dt.datetime | None = None, **fields) -> dict:
    """An SNS envelope, signed as SNS signs it."""
    envelope = {
        "Type": message_type, "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC,
        "Timestamp": (at or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": version, "SigningCertURL": CERT_URL, **fields,
    }
    keys = NOTIFICATION_KEYS if message_type == "Notification" else SUBSCRIPTION_KEYS
    text = "".join(f"{k}\n{envelope[k]}\n" for k in keys if k in envelope).encode()
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    envelope["Signature"] = base64.b64encode(key.sign(text, padding.PKCS1v15(), digest)).decode()
    return envelope


def ses_event(kind: str, **body) -> str:
    mail = {
        "timestamp": "2026-12-03T07:00:00.000Z", "source": "research@news.kairoswellness.org", "messageId": "0100018c-aaaa",
        "destination": ["ann@example.com"], "tags": {"issue": ["2026-11-mdma-assisted-therapy"], "subscriber": ["1"]},
    }
    return json.dumps({"eventType": kind, "mail": mail, **body})


def bounce(email: str, type_: str = "Permanent") -> str:
    return ses_event("Bounce", bounce={
        "bounceType": type_, "bounceSubType": "General", "timestamp": "2026-12-03T07:01:00.000Z", "feedbackId": "fb-1",
        "bouncedRecipients": [{"emailAddress": email, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
    })


def complaint(email: str) -> str:
    return ses_event("Complaint", complaint={"complainedRecipients": [{"emailAddress": email}], "complaintFeedbackType": "abuse", "timestamp": "2026-12-03T07:02:00.000Z"})


def post(base: str, envelope: dict | bytes) -> requests.Response:
    body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    return requests.post(f"{base}/webhooks/ses", data=body, headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}, timeout=10)


@pytest.fixture
def site_settings(settings, tmp_path):
    cert = tmp_path / "sns.pem"
    cert.write_bytes(certificate_pem(KEY))
    ses = {"webhook_topic_arn": TOPIC, "webhook_certificate": str(cert), "webhook_max_age_seconds": 600}
    return dataclasses.replace(settings, providers={**settings.providers, "ses": ses})


@pytest.fixture
def people(settings):
    conn = open_db(settings.database)
    for name in ("ann", "bob", "cy"):
        subscribers.add(conn, f"{name}@example.com", source="test", first_name=name.title())
    conn.close()


def status_of(settings, email: str) -> str:
    conn = open_db(settings.database)
    try:
        return subscribers.get(conn, email).status
    finally:
        conn.close()


def test_signed_events_suppress_and_unsigned_bad_foreign_or_stale_ones_change_nothing(site_settings, people):
    good = sns("Notification", Message=bounce("ann@example.com"))
    unsigned = {k: v for k, v in good.items() if k != "Signature"}
    refusals = [
        unsigned,
        sns("Notification", key=OTHER_KEY, Message=bounce("ann@example.com")),  # not the certificate's key
        {**good, "Message": bounce("bob@example.com")},  # signed, then the message changed
        sns("Notification", TopicArn="arn:aws:sns:eu-west-1:999999999999:someone-else", Message=bounce("ann@example.com")),
        sns("Notification", at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2), Message=bounce("ann@example.com")),
        {**good, "SigningCertURL": "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem"},
        {**good, "SigningCertURL": "http://sns.eu-west-1.amazonaws.com/cert.pem"},
        {**good, "SignatureVersion": "3"},
        {**good, "Signature": "!!not base64"},
    ]
    with serving(create_app(site_settings, env=ENV)) as base:
        assert [post(base, envelope).status_code for envelope in refusals] == [401] * len(refusals)
        assert {status_of(site_settings, f"{n}@example.com") for n in ("ann", "bob")} == {"active"}

        assert post(base, good).json() == {"results": ["changed"]}
        assert post(base, good).json() == {"results": ["duplicate"]}  # SNS redelivers the same MessageId
        assert post(base, sns("Notification", version="2", Message=complaint("bob@example.com"))).json() == {"results": ["changed"]}
        soft = post(base, sns("Notification", Subject="Amazon SES Email Event Notification", Message=bounce("cy@example.com", "Transient")))
        assert soft.json() == {"results": ["noted"]}
        assert post(base, sns("Notification", Message=ses_event("Send"))).json() == {"results": []}
    assert [status_of(site_settings, f"{n}@example.com") for n in ("ann", "bob", "cy")] == ["bounced", "complained", "active"]


def test_the_subscription_is_confirmed_only_when_signed_for_our_topic(site_settings, people):
    with FakeServer() as sns_server:
        sns_server.route("GET", "/", lambda request: Response(200, b"<ConfirmSubscriptionResponse/>"))
        options = {**site_settings.providers["ses"], "webhook_sns_base_url": sns_server.url}
        confirming = dataclasses.replace(site_settings, providers={**site_settings.providers, "ses": options})
        subscribe_url = f"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok-123"
        fields = {"Message": "You have chosen to subscribe to the topic.", "Token": "tok-123", "SubscribeURL": subscribe_url}
        with serving(create_app(confirming, env=ENV)) as base:
            forged = post(base, sns("SubscriptionConfirmation", key=OTHER_KEY, **fields))
            elsewhere = post(base, sns("SubscriptionConfirmation", **{**fields, "SubscribeURL": "https://attacker.example/?Token=x"}))
            assert (forged.status_code, elsewhere.status_code) == (401, 401) and sns_server.requests == []
            answer = post(base, sns("SubscriptionConfirmation", **fields))
        assert answer.status_code == 200 and answer.json() == {"result": "subscribed"}
        [visit] = sns_server.requests
        assert visit.arg("Action") == "ConfirmSubscription" and visit.arg("Token") == "tok-123"


def test_without_a_topic_the_endpoint_is_closed_and_malformed_bodies_get_400(settings, site_settings, people):
    with serving(create_app(settings, env=ENV)) as base:
        closed = post(base, sns("Notification", Message=bounce("ann@example.com")))
    assert closed.status_code == 503 and "webhook_topic_arn" in closed.text
    with serving(create_app(site_settings, env=ENV)) as base:
        assert post(base, b"{not json").status_code == 400
        assert post(base, b'{"Type": "Something"}').status_code == 400
        assert post(base, sns("Notification", Message="not an event")).status_code == 400
    assert status_of(settings, "ann@example.com") == "active"

