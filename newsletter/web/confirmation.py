"""The double opt-in link and email: a signed, expiring token, and the message that carries it.

The token is ``<subscriber id hex>.<issue time hex>.<16 chars of HMAC-SHA256>``: it names who
it confirms and when it was issued, so it expires without anything stored, and a changed id or
time breaks the MAC (compared in constant time).
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from email.utils import formataddr, make_msgid
from typing import Mapping

from ..config import Settings
from ..errors import ProviderError
from ..models import Batch, OutgoingMessage
from ..send.plan import provider_factory
from ..store.subscribers import Subscriber
from .pages import render

TOKEN_VERSION = "1"
TAG = "signup-confirmation"  # the outbox folder; the provider's tag for these messages
FUTURE_SKEW_SECONDS = 300  # a clock a little behind another worker's still accepts its links
_HEX = re.compile(r"[1-9a-f][0-9a-f]{0,15}|0")


@dataclass(frozen=True)
class Checked:
    subscriber_id: int
    expired: bool


def sign(secret: bytes, subscriber_id: int, issued_at: float) -> str:
    ident, issued = f"{subscriber_id:x}", f"{int(issued_at):x}"
    return f"{ident}.{issued}.{_mac(secret, ident, issued)}"


def check(secret: bytes, token: str, *, now: float, max_age_days: int) -> Checked | None:
    """Whom a token confirms and whether it has expired; None when it is forged or malformed."""
    parts = token.split(".")
    if len(parts) != 3 or not token.isascii() or not all(_HEX.fullmatch(p) for p in parts[:2]):
        return None  # only the canonical form sign() writes
    ident, issued, mac = parts
    if not hmac.compare_digest(_mac(secret, ident, issued).encode(), mac.encode()):
        return None
    age = now - int(issued, 16)
    return Checked(int(ident, 16), expired=age > max_age_days * 86_400 or age < -FUTURE_SKEW_SECONDS)


def _mac(secret: bytes, ident: str, issued: str) -> str:
    digest = hmac.digest(secret, f"confirm:{TOKEN_VERSION}:{ident}:{issued}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest[:12]).decode()


def confirmation_message(settings: Settings, sub: Subscriber, link: str) -> OutgoingMessage:
    """Transactional: it answers the person's own request, so no List-Unsubscribe."""
    values = {"link": link, "first_name": sub.first_name}
    return OutgoingMessage(
        subscriber_id=sub.id,
        to=formataddr((sub.first_name, sub.email)),
        from_=settings.from_header,
        subject=f"Confirm your subscription to {settings.name}",
        html=render("confirm_email.html", settings, **values),
        text=render("confirm_email.txt", settings, **values),
        message_id=make_msgid(domain=settings.sending_domain),
        reply_to=settings.reply_to,
        tag=TAG,
        metadata=(("kind", TAG), ("subscriber_id", str(sub.id))),
    )


def send_confirmation(settings: Settings, env: Mapping[str, str], message: OutgoingMessage) -> None:
    """Through the configured provider, on its transactional stream where it has one; a refusal
    is a ProviderError."""
    provider = provider_factory(settings.provider, settings, env, transactional=True)()
    try:
        (result,) = provider.send(Batch.of_message(message, f"{TAG}-{message.subscriber_id}"))
    finally:
        provider.close()
    if result.status != "accepted":
        raise ProviderError(
            f"{provider.name}: the confirmation email to subscriber {message.subscriber_id} was rejected ({result.code}: {result.detail})",
            hint="The address may be suppressed at the provider; the person can sign up again once it is lifted.",
        )
