"""``POST /webhooks/mailgun`` over real HTTP: Mailgun's HMAC signature (timestamp + token under the
webhook signing key), its event shapes (providers.md §3.7), unsigned, badly signed, stale and
replayed requests refused, redeliveries recognised."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pytest
import requests

from newsletter.store import subscribers
from newsletter.store.db import open_db
from newsletter.web.app import create_app
from web_server import serving

SIGNING_KEY = "mg-webhook-signing-key-5a7c"
ENV = {"NEWSLETTER_SECRET": "test-secret-not-for-production", "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
ISSUE_SLUG = "2026-11-mdma-assisted-therapy"


def signature(key: str = SIGNING_KEY, at: float | None = None, token: str | None = None) -> dict:
    timestamp, token = str(int(time.time() if at is None else at)), token or secrets.token_hex(25)
    return {"timestamp": timestamp, "token": token, "signature": hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()}


def event(email: str, name: str, event_id: str | None = None, **extra) -> dict:
    return {
        "id": event_id or secrets.token_urlsafe(16), "event": name, "timestamp": 1795000000.25, "recipient": email,
        "recipient-domain": email.split("@")[1], "tags": [ISSUE_SLUG], "user-variables": {"issue": ISSUE_SLUG, "subscriber_id": "1", "batch": "1-abc"},
        "message": {"headers": {"to": email, "message-id": "20261203.abc@news.example", "subject": "MDMA therapy"}}, **extra,
    }


def post(base: str, payload: dict) -> requests.Response:
    return requests.post(f"{base}/webhooks/mailgun", json=payload, timeout=10)


@pytest.fixture
def people(settings):
    conn = open_db(settings.database)
    for name in ("ann", "bob", "cy", "dee"):
        subscribers.add(conn, f"{name}@example.com", source="test", first_name=name.title())
    conn.close()


def status_of(settings, email: str) -> str:
    conn = open_db(settings.database)
    try:
        return subscribers.get(conn, email).status
    finally:
        conn.close()


def test_signed_events_apply_and_unsigned_bad_stale_or_replayed_ones_do_not(settings, people):
    bounce = event("ann@example.com", "failed", severity="permanent", reason="suppress-bounce", **{"delivery-status": {"code": 550, "description": "No such mailbox"}})
    with serving(create_app(settings, env=ENV)) as base:
        refused = [
            post(base, {"event-data": bounce}),  # unsigned
            post(base, {"signature": signature(key="another-key"), "event-data": bounce}),
            post(base, {"signature": {**signature(), "token": "x" * 50}, "event-data": bounce}),  # token changed after signing
            post(base, {"signature": signature(at=time.time() - 3600), "event-data": bounce}),  # stale
        ]
        assert [r.status_code for r in refused] == [401] * 4 and status_of(settings, "ann@example.com") == "active"
        signed = {"signature": signature(), "event-data": bounce}
        assert post(base, signed).json() == {"result": "changed"}
        assert post(base, signed).status_code == 401  # the same signed request again: a replay
        again = post(base, {"signature": signature(), "event-data": bounce})  # Mailgun redelivers the event, signed anew
        assert again.json() == {"result": "duplicate"}
        for email, name, extra in (("bob@example.com", "complained", {}), ("cy@example.com", "unsubscribed", {}), ("dee@example.com", "failed", {"severity": "temporary"})):
            assert post(base, {"signature": signature(), "event-data": event(email, name, **extra)}).status_code == 200
        opened = post(base, {"signature": signature(), "event-data": event("dee@example.com", "opened")})
        assert opened.json() == {"result": "ignored"}
    assert [status_of(settings, f"{n}@example.com") for n in ("ann", "bob", "cy", "dee")] == ["bounced", "complained", "unsubscribed", "active"]


def test_without_a_signing_key_the_endpoint_is_closed_and_non_webhooks_get_406(settings, people):
    with serving(create_app(settings, env={"NEWSLETTER_SECRET": "x"})) as base:
        closed = post(base, {"signature": signature(), "event-data": event("ann@example.com", "complained")})
    assert closed.status_code == 503 and "MAILGUN_WEBHOOK_SIGNING_KEY" in closed.text
    with serving(create_app(settings, env=ENV)) as base:
        assert requests.post(f"{base}/webhooks/mailgun", data=b"{not json", timeout=10).status_code == 406
        assert post(base, {"signature": signature(), "event-data": {"event": "complained"}}).status_code == 406  # no recipient
    assert status_of(settings, "ann@example.com") == "active"
