"""Postmark webhook records (providers.md §1.10) parsed into ``ProviderEvent`` values.

Postmark posts one JSON object per record, told apart by ``RecordType``. What each means here:

- ``Delivery``: counted for the issue (the per-recipient success signal).
- ``Bounce`` of a permanent type, or any bounce after which Postmark marked the address
  ``Inactive`` (it will not send to it again): the subscriber becomes ``bounced``. Other bounce
  types (soft, transient, auto-replies, DNS errors...) are noted, never suppressed; bounce types
  ``SpamComplaint`` and ``Unsubscribe`` (a remove request by email) mean what they say.
- ``SpamComplaint``: ``complained``.
- ``SubscriptionChange`` with ``SuppressSending: true``: suppressed, by its ``SuppressionReason``
  (HardBounce -> bounced, SpamComplaint -> complained, otherwise unsubscribed). With ``false``
  (Postmark reactivated the address) it is only noted: a reactivation in Postmark is not the
  person's consent, and only a confirmed sign-up brings a suppressed subscriber back.

Other record types (Open, Click, Inbound...) are not ours: ``parse`` returns None for them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from ..errors import NewsletterError
from ..models import ProviderEvent
from . import event_fields as field

PROVIDER = "postmark"
# Bounce types that mean the address will never accept mail (Postmark's BounceType list:
# postmark.js models/bounces/Bounce.ts; providers.md §1.10). SpamComplaint has its own record.
PERMANENT_BOUNCES = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated"})
SUPPRESSION_STATUS = {"HardBounce": "bounced", "SpamComplaint": "complained"}  # else: unsubscribed
MAX_DETAIL = 200


class WebhookPayloadError(NewsletterError):
    """The request body is not a Postmark webhook record."""


def parse(body: bytes) -> ProviderEvent | None:
    """The event in one webhook body; None for a record type we do not act on."""
    try:
        record = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookPayloadError(f"postmark webhook: the body is not JSON: {err}", hint="Postmark posts one JSON object per event.") from None
    if not isinstance(record, dict) or not isinstance(record.get("RecordType"), str):
        raise WebhookPayloadError("postmark webhook: expected a JSON object with a RecordType", hint="Postmark posts one JSON object per event.")
    build = PARSERS.get(record["RecordType"])
    return build(record) if build else None


def _delivery(r: Mapping[str, Any]) -> ProviderEvent:
    return _event(r, "delivered", field.text(r, "Recipient"), field.text(r, "DeliveredAt"), identity=(field.text(r, "MessageID"), field.text(r, "Recipient")))


def _bounce(r: Mapping[str, Any]) -> ProviderEvent:
    kind_of = field.text(r, "Type")
    permanent = kind_of in PERMANENT_BOUNCES or r.get("Inactive") is True
    # A bounce record may also carry a complaint or an emailed unsubscribe request (types
    # SpamComplaint, Unsubscribe): those are what they say, whatever the record type.
    kind = {"SpamComplaint": "complained", "Unsubscribe": "unsubscribed"}.get(kind_of) or ("bounced" if permanent else "soft_bounce")
    detail = f"{kind_of}: {field.text(r, 'Description') or field.text(r, 'Details')}".rstrip(": ")
    return _event(r, kind, field.text(r, "Email"), field.text(r, "BouncedAt"), identity=(field.text(r, "ID"),), detail=detail)


def _complaint(r: Mapping[str, Any]) -> ProviderEvent:
    return _event(r, "complained", field.text(r, "Email"), field.text(r, "BouncedAt"), identity=(field.text(r, "ID"),), detail="SpamComplaint")


def _subscription_change(r: Mapping[str, Any]) -> ProviderEvent:
    reason = field.text(r, "SuppressionReason")
    suppress = r.get("SuppressSending") is True
    kind = {"bounced": "bounced", "complained": "complained"}.get(SUPPRESSION_STATUS.get(reason, ""), "unsubscribed") if suppress else "resubscribe_noted"
    detail = f"SubscriptionChange: {'suppressed' if suppress else 'reactivated in Postmark'} ({reason or 'no reason'}, origin {field.text(r, 'Origin') or 'unknown'})"
    identity = (field.text(r, "MessageID"), field.text(r, "Recipient"), field.text(r, "ChangedAt"), str(suppress))
    return _event(r, kind, field.text(r, "Recipient"), field.text(r, "ChangedAt"), identity=identity, detail=detail)


PARSERS = {"Delivery": _delivery, "Bounce": _bounce, "SpamComplaint": _complaint, "SubscriptionChange": _subscription_change}


def _event(r: Mapping[str, Any], kind: str, email: str, at: str, *, identity: tuple[str, ...], detail: str | None = None) -> ProviderEvent:
    if not email:
        raise WebhookPayloadError(f"postmark webhook: a {r['RecordType']} record without a recipient address", hint="Check the webhook's payload in Postmark's activity log.")
    metadata = r.get("Metadata") if isinstance(r.get("Metadata"), dict) else {}
    return ProviderEvent(
        provider=PROVIDER,
        record_type=r["RecordType"],
        identity=_identity(r, identity),
        kind=kind,  # type: ignore[arg-type]
        email=email,
        occurred_at=at or None,
        issue=str(metadata.get("issue") or "") or field.text(r, "Tag") or None,
        subscriber_id=field.integer(metadata.get("subscriber_id")),
        detail=(detail or "")[:MAX_DETAIL] or None,
    )


def _identity(r: Mapping[str, Any], parts: tuple[str, ...]) -> str:
    """RecordType + the record's own ids; a record without them is identified by its content."""
    if not all(parts):
        parts = (hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest(),)
    return hashlib.sha256("\x1f".join((r["RecordType"], *parts)).encode()).hexdigest()
