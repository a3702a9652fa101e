"""Postmark's inbound webhook (one received email as JSON) reduced to what an unsubscribe needs.

Shape: postmark.js ``models/webhooks/payload/InboundWebhook.ts`` (From, FromFull{Email}, Subject,
MessageID, TextBody, StrippedTextReply, ...). Deciding what the email asks is the site's job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .postmark_events import WebhookPayloadError

MAX_TEXT = 2000  # an unsubscribe request is at the top; the rest of a long email is irrelevant


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    sender: str
    subject: str
    text: str  # the reply without its quoted part when Postmark could strip it


def parse_inbound(body: bytes) -> InboundMail:
    try:
        record = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookPayloadError(f"postmark inbound: the body is not JSON: {err}", hint="Postmark posts one JSON object per email.") from None
    if not isinstance(record, dict):
        raise WebhookPayloadError("postmark inbound: expected a JSON object", hint="Postmark posts one JSON object per email.")
    full = record.get("FromFull") if isinstance(record.get("FromFull"), dict) else {}
    sender = str(full.get("Email") or record.get("From") or "").strip()
    message_id = str(record.get("MessageID") or "").strip()
    if not sender or not message_id:
        raise WebhookPayloadError("postmark inbound: an email without a sender or MessageID", hint="Check the inbound message in Postmark's activity log.")
    text = str(record.get("StrippedTextReply") or record.get("TextBody") or "")
    return InboundMail(message_id, sender, str(record.get("Subject") or ""), text[:MAX_TEXT])
