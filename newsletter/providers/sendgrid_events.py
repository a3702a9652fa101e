"""SendGrid's signed Event Webhook (providers.md §2.9): the signature checked, the events parsed
into ``ProviderEvent`` values.

SendGrid posts a JSON array of events and signs ``timestamp + body`` with ECDSA (P-256, SHA-256):
``X-Twilio-Email-Event-Webhook-Signature`` is the base64 of the DER signature,
``X-Twilio-Email-Event-Webhook-Timestamp`` the Unix time it was signed at, and the public key
(base64 DER, from the Mail Settings page or ``GET /v3/user/webhooks/event/settings/signed``) is
``[providers.sendgrid] webhook_public_key``. cryptography does the verifying.

What each event means here: ``bounce`` of type ``bounce`` -> bounced (``blocked`` is a soft,
temporary refusal: noted); ``spamreport`` -> complained; ``unsubscribe`` and
``group_unsubscribe`` -> unsubscribed; ``dropped`` by its reason (a bounced, spam-reporting or
unsubscribed address is what it says; others are noted); ``delivered`` counted;
``group_resubscribe`` noted (never re-activates anyone). ``processed``, ``deferred``, ``open``
and ``click`` are not ours. The ``custom_args`` the adapter sent (issue, subscriber_id, batch)
come back flattened into each event.

A redelivered event is the same record: its identity is built from the message id, the event,
its time and the address (``sg_event_id`` has been seen to change between redeliveries).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any, Mapping

from ..errors import NewsletterError
from ..models import ProviderEvent
from . import event_fields as field

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DROPPED = {"Bounced Address": "bounced", "Spam Reporting Address": "complained", "Unsubscribed Address": "unsubscribed"}
MAX_DETAIL = 200


class WebhookPayloadError(NewsletterError):
    """The request body is not a SendGrid event array."""


class SignatureError(NewsletterError):
    """The request is unsigned, badly signed or stale."""


def load_public_key(text: str) -> Any:
    """The verification key from its base64 DER form (a PEM block is accepted too)."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            return load_pem_public_key(text.encode())
        return load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError) as err:
        raise NewsletterError(
            f"[providers.sendgrid] webhook_public_key: not a public key: {err}",
            hint="Copy the verification key from SendGrid's Mail Settings, Signed Event Webhook (base64).",
        ) from None


def verify(key: Any, headers: Mapping[str, str], body: bytes, *, now: float, max_age: float) -> None:
    """Raise SignatureError unless ``body`` was signed by ``key`` at a time within ``max_age``
    seconds of ``now`` (either way: a clock ahead is as suspect as a replay)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature, timestamp = headers.get(SIGNATURE_HEADER, ""), headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise SignatureError("sendgrid webhook: the request is not signed")
    try:
        signed_at = int(timestamp)
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        raise SignatureError("sendgrid webhook: the signature or its timestamp is malformed") from None
    if abs(now - signed_at) > max_age:
        raise SignatureError(f"sendgrid webhook: signed {now - signed_at:.0f} s from now, more than {max_age:g} s: stale or replayed")
    try:
        key.verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("sendgrid webhook: the signature does not match the body") from None


def parse(body: bytes) -> list[ProviderEvent]:
    """The events of one webhook body that mean something for the list or the counts."""
    try:
        records = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookPayloadError(f"sendgrid webhook: the body is not JSON: {err}", hint="SendGrid posts a JSON array of events.") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise WebhookPayloadError("sendgrid webhook: expected a JSON array of event objects", hint="SendGrid posts a JSON array of events.")
    return [event for event in (_event(r) for r in records) if event is not None]


def _kind(r: Mapping[str, Any]) -> str | None:
    name = field.text(r, "event")
    if name == "bounce":
        return "bounced" if field.text(r, "type") in ("", "bounce") else "soft_bounce"
    if name == "dropped":
        return DROPPED.get(field.text(r, "reason"), "soft_bounce")
    return {"spamreport": "complained", "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed",
            "delivered": "delivered", "group_resubscribe": "resubscribe_noted"}.get(name)


def _event(r: Mapping[str, Any]) -> ProviderEvent | None:
    kind = _kind(r)
    if kind is None:
        return None
    email = field.text(r, "email")
    if not email:
        raise WebhookPayloadError(f"sendgrid webhook: a {field.text(r, 'event')} event without an email", hint="Check the event in SendGrid's activity feed.")
    detail = ": ".join(part for part in (field.text(r, "event"), field.text(r, "type"), field.text(r, "reason") or field.text(r, "response")) if part)
    identity = "\x1f".join((field.text(r, "sg_message_id") or field.text(r, "smtp-id"), field.text(r, "event"), field.text(r, "timestamp"), email.lower()))
    return ProviderEvent(
        provider=PROVIDER,
        record_type=field.text(r, "event"),
        identity=hashlib.sha256(identity.encode()).hexdigest(),
        kind=kind,  # type: ignore[arg-type]
        email=email,
        occurred_at=field.unix_time(r.get("timestamp")),
        issue=field.text(r, "issue") or None,
        subscriber_id=field.integer(r.get("subscriber_id")),
        detail=detail[:MAX_DETAIL] or None,
    )
