"""What the unsubscribe and preferences pages share: the signed links, the issue a link came from,
the masked address, and the same-site check for forms posted from the site's own pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from ..build.issue import SLUG_RE
from ..build.personalize import PREFERENCES, UNSUBSCRIBE, sign_token, verify_token
from .context import Site

MAX_TOKEN = 40  # a real token is at most 13 + 1 + 16 characters
MAX_SLUG = 100


def subscriber_of(site: Site, token: str, purpose: str) -> int | None:
    """The subscriber id a link's token proves, or None (forged, truncated, malformed)."""
    if len(token) > MAX_TOKEN:
        return None
    return verify_token(site.secret, token, purpose)


def issue_of(request: Request) -> str | None:
    """``?issue=<slug>`` as personalize.py adds it; anything else is ignored (it proves nothing,
    it only says in the history which issue the link was in)."""
    slug = request.query_params.get("issue", "")
    return slug if 0 < len(slug) <= MAX_SLUG and SLUG_RE.match(slug) else None


def history_detail(issue: str | None) -> str | None:
    return f"issue {issue}" if issue else None


def _query(issue: str | None) -> str:
    return f"?issue={issue}" if issue else ""


def unsubscribe_path(site: Site, subscriber_id: int, issue: str | None) -> str:
    """Site-relative, so a form or link never leaves the host the person is on."""
    return f"/u/{sign_token(site.secret, subscriber_id, UNSUBSCRIBE)}{_query(issue)}"


def preferences_path(site: Site, subscriber_id: int, issue: str | None) -> str:
    return f"/p/{sign_token(site.secret, subscriber_id, PREFERENCES)}{_query(issue)}"


def masked(email: str) -> str:
    """``a***@example.org``: enough to recognise one's own address, not to learn someone's."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def from_our_pages(request: Request, site: Site) -> bool:
    """A form post from another site is refused (CSRF), judged by the headers browsers send.
    Sec-Fetch-Site decides where present; our Referrer-Policy (no-referrer) makes browsers send
    ``Origin: null`` on our own forms, so Origin decides only when it names a host. A client
    that sends neither (curl, a mail provider) is not a browser being tricked."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin", "null")
    if origin == "null":
        return True
    allowed = {urlsplit(site.settings.base_url).netloc, request.headers.get("host", "")}
    return urlsplit(origin).netloc in allowed
