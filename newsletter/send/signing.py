"""The key that signs every unsubscribe and preference link (the send loop and the web site)."""

from __future__ import annotations

from typing import Mapping

from ..errors import ConfigError

# Outbox-only fallback: the outbox is a local folder nobody receives, so its links may be signed
# with a development key. Every other provider requires NEWSLETTER_SECRET.
OUTBOX_DEV_SECRET = b"newsletter-outbox-development-key"


def signing_secret(provider: str, env: Mapping[str, str]) -> bytes:
    value = env.get("NEWSLETTER_SECRET", "")
    if value:
        return value.encode()
    if provider == "outbox":
        return OUTBOX_DEV_SECRET
    raise ConfigError("environment: NEWSLETTER_SECRET is not set (it signs every unsubscribe link)", hint="export NEWSLETTER_SECRET=<a long random string>, e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'.")
