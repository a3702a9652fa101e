"""Amazon SES events by Amazon SNS (providers.md §5.7): the SNS signature checked, the SES
events parsed into ``ProviderEvent`` values, a subscription confirmed.

SES publishes a configuration set's events to an SNS topic, and SNS posts each one to the
subscribed HTTPS endpoint as a JSON envelope: ``Type`` (``Notification``,
``SubscriptionConfirmation``, ``UnsubscribeConfirmation``), ``MessageId``, ``TopicArn``,
``Message`` (the SES event, itself JSON, as a string), ``Timestamp``, ``SignatureVersion``
(1: SHA1withRSA, 2: SHA256withRSA), ``Signature`` (base64) and ``SigningCertURL``. The signed
text is "Key\\nValue\\n" for the type's fixed list of keys, in order, each present one only
(AWS SNS developer guide, "Verifying the signatures of Amazon SNS messages").

Checks, before anything is believed: ``SigningCertURL`` is https on an SNS host
(``sns.<region>.amazonaws.com``, ``.amazonaws.com.cn`` in China) and ends in ``.pem``; the
signature verifies against that certificate (``[providers.ses] webhook_certificate`` instead,
for tests, the URL still checked); ``TopicArn`` is the configured topic when one is set;
``Timestamp`` is within ``webhook_max_age_seconds``. cryptography does the verifying.

What each SES event means here (``eventType``, or ``notificationType`` for identity
notifications): a ``Permanent`` bounce -> bounced, other bounces -> soft_bounce; ``Complaint``
-> complained; ``Delivery`` counted. The ``issue`` and ``subscriber`` tags the adapter put on
each message come back in ``mail.tags``. SNS redelivers a notification with its ``MessageId``:
that and the address make the record's identity.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from ..errors import NewsletterError
from ..models import ProviderEvent

PROVIDER = "ses"
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
MAX_DETAIL = 200


class WebhookPayloadError(NewsletterError):
    """The request body is not an SNS message."""


class SignatureError(NewsletterError):
    """The message is unsigned, badly signed, from another topic or stale."""


def envelope(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookPayloadError(f"ses: the body is not JSON: {err}") from None
    if not isinstance(message, dict) or message.get("Type") not in SIGNED_KEYS:
        raise WebhookPayloadError("ses: not an SNS message (no known Type)")
    return message


def check_sns_url(url: Any, what: str) -> str:
    """An https URL on an SNS host, or SignatureError: a forged envelope may point anywhere."""
    parts = urlsplit(url if isinstance(url, str) else "")
    if parts.scheme != "https" or not SNS_HOST.match(parts.hostname or "") or parts.username or parts.port not in (None, 443):
        raise SignatureError(f"ses: {what} {str(url)[:100]!r} is not an https URL on an Amazon SNS host")
    return url


def verify(
    message: Mapping[str, Any],
    certificate: Callable[[str], Any],
    *,
    now: float,
    max_age: float,
    topic_arn: str = "",
) -> None:
    """Raise SignatureError unless ``message`` is signed by SNS, for the topic, and fresh.
    ``certificate(url)`` gives the X.509 certificate (cryptography) to check against."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    cert_url = check_sns_url(message.get("SigningCertURL"), "SigningCertURL")
    if message.get("Type") != "Notification":  # a confirmation we would visit: SNS's host only
        check_sns_url(message.get("SubscribeURL"), "SubscribeURL")
    if not urlsplit(cert_url).path.endswith(".pem"):
        raise SignatureError("ses: SigningCertURL does not name a .pem certificate")
    version = str(message.get("SignatureVersion", ""))
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
    if algorithm is None:
        raise SignatureError(f"ses: unknown SignatureVersion {version[:10]!r}")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("ses: the signature is not base64") from None
    if not signature:
        raise SignatureError("ses: the message is not signed")
    key = certificate(cert_url).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("ses: the signing certificate holds no RSA key")
    try:
        key.verify(signature, signed_text(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise SignatureError("ses: the SNS signature does not verify") from None
    if topic_arn and message.get("TopicArn") != topic_arn:
        raise SignatureError(f"ses: the message is for topic {str(message.get('TopicArn'))[:200]!r}, not [providers.ses] webhook_topic_arn")
    sent = _timestamp(message.get("Timestamp"))
    if sent is None or abs(now - sent) > max_age:
        raise SignatureError(f"ses: the message's Timestamp is older than {max_age:g} s (or not a time): a replay is refused")


def signed_text(message: Mapping[str, Any]) -> bytes:
    keys = SIGNED_KEYS[message["Type"]]
    return "".join(f"{key}\n{message[key]}\n" for key in keys if key in message and message[key] is not None).encode("utf-8")


def load_certificate(data: bytes) -> Any:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as err:
        raise SignatureError(f"ses: the signing certificate cannot be read: {err}") from None


def fetch_certificate(url: str) -> Any:
    """The certificate at an (already checked) SNS URL, over https with the system's CAs."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - https on an SNS host only
            return load_certificate(answer.read(64 * 1024))
    except OSError as err:
        raise SignatureError(f"ses: cannot fetch the signing certificate {url}: {err}") from None


def confirm_subscription(message: Mapping[str, Any], base_url: str | None = None) -> None:
    """Visit the SubscribeURL of a verified SubscriptionConfirmation (SNS's documented way to
    confirm). ``base_url`` replaces its scheme and host (tests: a local server)."""
    import urllib.request

    url = check_sns_url(message.get("SubscribeURL"), "SubscribeURL")
    if base_url:
        parts = urlsplit(url)
        url = base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - checked above
            answer.read(64 * 1024)
    except OSError as err:
        raise NewsletterError(f"ses: confirming the SNS subscription failed: {err}") from None


def _timestamp(text: Any) -> float | None:
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


# -- the SES event ---------------------------------------------------------------------------------
def parse(message: Mapping[str, Any]) -> list[ProviderEvent]:
    """The events a verified Notification carries (none for event types that are not ours)."""
    try:
        event = json.loads(message.get("Message") or "")
    except (ValueError, TypeError):
        raise WebhookPayloadError("ses: the notification's Message is not an SES event (not JSON)") from None
    if not isinstance(event, dict):
        raise WebhookPayloadError("ses: the notification's Message is not an SES event")
    kind = event.get("eventType") or event.get("notificationType")
    mail = event.get("mail") if isinstance(event.get("mail"), dict) else {}
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        permanent = bounce.get("bounceType") == "Permanent"
        detail = f"{bounce.get('bounceType')}/{bounce.get('bounceSubType')}"
        people = [(r.get("emailAddress"), _detail(detail, r.get("diagnosticCode"))) for r in bounce.get("bouncedRecipients") or [] if isinstance(r, dict)]
        return _events(message, mail, "bounced" if permanent else "soft_bounce", "Bounce", people, bounce.get("timestamp"))
    if kind == "Complaint":
        complaint = event.get("complaint") or {}
        detail = f"complaint ({complaint.get('complaintFeedbackType') or 'no feedback type'})"
        people = [(r.get("emailAddress"), detail) for r in complaint.get("complainedRecipients") or [] if isinstance(r, dict)]
        return _events(message, mail, "complained", "Complaint", people, complaint.get("timestamp"))
    if kind == "Delivery":
        delivery = event.get("delivery") or {}
        people = [(address, "delivered") for address in delivery.get("recipients") or [] if isinstance(address, str)]
        return _events(message, mail, "delivered", "Delivery", people, delivery.get("timestamp"))
    return []  # Send, Open, Click, Reject, DeliveryDelay...: not ours


def _events(message: Mapping[str, Any], mail: Mapping[str, Any], kind: str, record_type: str, people: list, when: Any) -> list[ProviderEvent]:
    tags = mail.get("tags") if isinstance(mail.get("tags"), dict) else {}
    issue = _first(tags.get("issue"))
    subscriber = _first(tags.get("subscriber"))
    return [
        ProviderEvent(
            provider=PROVIDER,
            record_type=record_type,
            identity=f"{message.get('MessageId')}:{str(email).lower()}",
            kind=kind,
            email=str(email),
            occurred_at=str(when) if when else None,
            issue=issue,
            subscriber_id=int(subscriber) if subscriber and subscriber.isdigit() else None,
            detail=detail,
        )
        for email, detail in people
        if email
    ]


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value is not None else None


def _detail(kind: str, diagnostic: Any) -> str:
    return f"{kind}: {diagnostic}"[:MAX_DETAIL] if diagnostic else kind
