"""A PostgreSQL URL for the shared store (``[storage] url`` / ``NEWSLETTER_DATABASE_URL``):
checked at config load with the standard library only, and shown without its password.

The password never comes from newsletter.toml (a file people copy, commit and mail): it comes
from the environment variable's URL, ``PGPASSWORD`` or ``~/.pgpass``, which libpq reads itself.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
EXAMPLE = "postgresql://newsletter@db.example.org:5432/newsletter"


class BadURL(ValueError):
    """Why the value is not a URL we can use."""


def check_url(value: str, *, password_allowed: bool) -> str:
    """The URL as given, or BadURL saying what is wrong with it (never repeating a password)."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise BadURL(f"not a URL like {EXAMPLE}") from None
    if parts.scheme not in SCHEMES:
        raise BadURL(f"it must start with postgresql:// (like {EXAMPLE}); SQLite needs no URL: use [storage] database")
    if not parts.path.strip("/"):
        raise BadURL(f"it names no database (the part after the last '/', like {EXAMPLE})")
    if parts.password is not None and not password_allowed:
        raise BadURL("it holds a password, and newsletter.toml is no place for one")
    return value.strip()


def without_password(url: str) -> str:
    """The URL as it may be printed: the password, if any, replaced by ***."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return SplitResult(parts.scheme, f"{user}:***@{host}{port}", parts.path, parts.query, parts.fragment).geturl()
    except ValueError:
        return "(the database URL)"


def password_of(url: str | None) -> str:
    try:
        return (urlsplit(url).password or "") if url else ""
    except ValueError:
        return ""
