"""``POST /webhooks/sendgrid`` over real HTTP: SendGrid's signed Event Webhook (ECDSA P-256 over
timestamp + body, a key made here), its event shapes (providers.md §2.9), unsigned, badly signed
and stale requests refused, redeliveries recognised."""

from __future__ import annotations

import base64
import dataclasses
import json
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from newsletter.store import subscribers
from newsletter.store.db import open_db
from newsletter.web.app import create_app
from web_server import serving

ENV = {"NEWSLETTER_SECRET": "test-secret-not-for-production"}
ISSUE_SLUG = "2026-11-mdma-assisted-therapy"
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def event(email: str, name: str, **extra) -> dict:
    """One event as SendGrid posts it, with the custom args the adapter sent flattened in."""
    return {
        "email": email, "timestamp": 1_795_000_000, "event": name, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "sg_event_id": base64.b64encode(f"{email}{name}".encode()).decode(), "sg_message_id": f"Bx1yZ{email[:3]}.filter0001.16648.5515E0B88.0",
        "category": [ISSUE_SLUG], "issue": ISSUE_SLUG, "subscriber_id": "1", "batch": "1-abc", **extra,
    }


def signed(body: bytes, key=KEY, at: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def post(base: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{base}/webhooks/sendgrid", data=body, headers=headers, timeout=10)


@pytest.fixture
def site_settings(settings):
    return dataclasses.replace(settings, providers={**settings.providers, "sendgrid": {"webhook_public_key": PUBLIC, "webhook_max_age_seconds": 300.0}})


@pytest.fixture
def people(settings):
    conn = open_db(settings.database)
    for name in ("ann", "bob", "cy", "dee", "eve"):
        subscribers.add(conn, f"{name}@example.com", source="test", first_name=name.title())
    conn.close()


def status_of(settings, email: str) -> str:
    conn = open_db(settings.database)
    try:
        return subscribers.get(conn, email).status
    finally:
        conn.close()


def test_signed_events_suppress_and_unsigned_bad_or_stale_ones_change_nothing(site_settings, people):
    body = json.dumps([
        event("ann@example.com", "bounce", type="bounce", reason="550 5.1.1 The email account does not exist", status="5.1.1"),
        event("bob@example.com", "spamreport"),
        event("cy@example.com", "unsubscribe"),
        event("dee@example.com", "bounce", type="blocked", reason="421 try later"),  # temporary: noted only
        event("eve@example.com", "open"),  # not ours
    ]).encode()
    with serving(create_app(site_settings, env=ENV)) as base:
        refusals = [
            post(base, body, {"Content-Type": "application/json"}),  # unsigned
            post(base, body, signed(body, key=OTHER_KEY)),  # another key
            post(base, body, signed(body + b" ")),  # signed, then the body changed
            post(base, body, {**signed(body), "X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time()) + 5)}),  # timestamp changed
            post(base, body, signed(body, at=int(time.time()) - 3600)),  # stale: a replay
            post(base, body, {**signed(body), "X-Twilio-Email-Event-Webhook-Signature": "!!not base64"}),
        ]
        assert [r.status_code for r in refusals] == [401] * 6
        assert {status_of(site_settings, f"{n}@example.com") for n in ("ann", "bob", "cy", "dee")} == {"active"}

        answer = post(base, body, signed(body))
        assert answer.status_code == 200 and answer.json() == {"results": ["changed", "changed", "changed", "noted"]}
        again = post(base, body, signed(body))  # SendGrid redelivers the batch (signed anew)
        assert again.json() == {"results": ["duplicate"] * 4}
    assert [status_of(site_settings, f"{n}@example.com") for n in ("ann", "bob", "cy", "dee", "eve")] == ["bounced", "complained", "unsubscribed", "active", "active"]


def test_dropped_events_mean_what_their_reason_says(site_settings, people):
    body = json.dumps([
        event("ann@example.com", "dropped", reason="Bounced Address"),
        event("bob@example.com", "dropped", reason="Spam Reporting Address"),
        event("cy@example.com", "dropped", reason="Invalid SMTPAPI header"),
    ]).encode()
    with serving(create_app(site_settings, env=ENV)) as base:
        assert post(base, body, signed(body)).json() == {"results": ["changed", "changed", "noted"]}
    assert [status_of(site_settings, f"{n}@example.com") for n in ("ann", "bob", "cy")] == ["bounced", "complained", "active"]


def test_without_a_key_the_endpoint_is_closed_and_malformed_bodies_get_400(settings, site_settings, people):
    body = json.dumps([event("ann@example.com", "bounce", type="bounce")]).encode()
    with serving(create_app(settings, env=ENV)) as base:
        closed = post(base, body, signed(body))
    assert closed.status_code == 503 and "webhook_public_key" in closed.text
    with serving(create_app(site_settings, env=ENV)) as base:
        for raw in (b"[{", b'{"event": "bounce"}', b'[{"event": "bounce", "type": "bounce"}]'):
            assert post(base, raw, signed(raw)).status_code == 400
    assert status_of(settings, "ann@example.com") == "active"
