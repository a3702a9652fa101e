"""Mailgun's webhooks (providers.md §3.7): the signature checked, the event parsed into a
``ProviderEvent``.

Mailgun posts one JSON object per event: ``signature`` (``timestamp``, ``token``, ``signature``:
the hex HMAC-SHA256 of timestamp + token under the account's webhook signing key,
``MAILGUN_WEBHOOK_SIGNING_KEY``) and ``event-data``. What each event means here: ``failed`` with
severity ``permanent`` -> bounced (``temporary``: noted), ``complained`` -> complained,
``unsubscribed`` -> unsubscribed, ``delivered`` counted; others are not ours. The user variables
the adapter sent (issue, subscriber_id) come back in ``user-variables``; the event's ``id`` is its
identity, so a redelivery changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Mapping

from ..errors import NewsletterError
from ..models import ProviderEvent
from . import event_fields as field

PROVIDER = "mailgun"
KINDS = {"complained": "complained", "unsubscribed": "unsubscribed", "delivered": "delivered"}
MAX_DETAIL = 200


class WebhookPayloadError(NewsletterError):
    """The request body is not a Mailgun webhook."""


class SignatureError(NewsletterError):
    """The request is unsigned, badly signed or stale."""


def read(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookPayloadError(f"mailgun webhook: the body is not JSON: {err}", hint="Mailgun posts one JSON object per event.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event-data"), dict):
        raise WebhookPayloadError("mailgun webhook: expected a JSON object with event-data", hint="Mailgun posts one JSON object per event.")
    return payload


def verify(signing_key: str, payload: Mapping[str, Any], *, now: float, max_age: float) -> str:
    """The request's token, or SignatureError unless its signature is the HMAC of timestamp +
    token under ``signing_key``, made within ``max_age`` seconds of ``now``."""
    signature = payload.get("signature")
    if not isinstance(signature, dict) or not all(isinstance(signature.get(k), str) and signature.get(k) for k in ("timestamp", "token", "signature")):
        raise SignatureError("mailgun webhook: the request is not signed")
    timestamp, token = signature["timestamp"], signature["token"]
    try:
        signed_at = float(timestamp)
    except ValueError:
        raise SignatureError("mailgun webhook: the signature's timestamp is malformed") from None
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature["signature"].lower()):
        raise SignatureError("mailgun webhook: the signature does not match")
    if abs(now - signed_at) > max_age:
        raise SignatureError(f"mailgun webhook: signed {now - signed_at:.0f} s from now, more than {max_age:g} s: stale or replayed")
    return token


def parse(payload: Mapping[str, Any]) -> ProviderEvent | None:
    data = payload["event-data"]
    name = field.text(data, "event")
    kind = KINDS.get(name)
    if name == "failed":
        kind = "bounced" if field.text(data, "severity") == "permanent" else "soft_bounce"
    if kind is None:
        return None
    email = field.text(data, "recipient")
    if not email:
        raise WebhookPayloadError(f"mailgun webhook: a {name} event without a recipient", hint="Check the event in Mailgun's logs.")
    status = data.get("delivery-status") if isinstance(data.get("delivery-status"), dict) else {}
    detail = ": ".join(p for p in (name, field.text(data, "severity"), field.text(data, "reason"), field.text(status, "description") or field.text(status, "message")) if p)
    variables = data.get("user-variables") if isinstance(data.get("user-variables"), dict) else {}
    identity = field.text(data, "id") or hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return ProviderEvent(
        provider=PROVIDER,
        record_type=name,
        identity=hashlib.sha256(f"{name}\x1f{identity}".encode()).hexdigest(),
        kind=kind,  # type: ignore[arg-type]
        email=email,
        occurred_at=field.unix_time(data.get("timestamp")),
        issue=str(variables.get("issue") or "") or None,
        subscriber_id=field.integer(variables.get("subscriber_id")),
        detail=detail[:MAX_DETAIL] or None,
    )
