"""``/p/<token>``: the reader's own preferences: topics (the ``[topics]`` table), first name, and
an unsubscribe button. The link's token (signed for this purpose, not the unsubscribe token)
names the subscriber; a form token bound to that id and the time it was shown guards POSTs
against cross-site forgery, together with the browser's Origin / Sec-Fetch-Site headers.
"""

from __future__ import annotations

import base64
import hmac
import unicodedata
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..build.personalize import PREFERENCES
from ..store import self_service
from .context import Site, site_of
from .links import from_our_pages, history_detail, issue_of, masked, preferences_path, subscriber_of
from .unsubscribe import invalid_link, unsubscribed_page

MAX_NAME = 100
FORM_MAX_AGE = 2 * 86_400  # a page left open for a weekend still saves
FUTURE_SKEW = 300


async def preferences_page(request: Request) -> Response:
    site = site_of(request)
    subscriber_id = subscriber_of(site, request.path_params["token"], PREFERENCES)
    if subscriber_id is None:
        return invalid_link(site)
    return await run_in_threadpool(show_page, site, subscriber_id, issue_of(request))


def show_page(site: Site, subscriber_id: int, issue: str | None, *, saved: bool = False) -> Response:
    person = self_service.reader(site.db(), subscriber_id)
    if person is None:
        return invalid_link(site, 404)
    held = {t.lower() for t in person.tags}
    topics = [(tag, label, tag.lower() in held) for tag, label in site.settings.topics.items()]
    return site.page(
        "preferences.html", person=person, address=masked(person.email), topics=topics, saved=saved,
        action=preferences_path(site, subscriber_id, issue), form_token=form_token(site, subscriber_id, site.clock()),
    )


async def preferences_post(request: Request) -> Response:
    site = site_of(request)
    subscriber_id = subscriber_of(site, request.path_params["token"], PREFERENCES)
    if subscriber_id is None:
        return invalid_link(site)
    fields = _fields(await request.body(), len(site.settings.topics))
    if not from_our_pages(request, site) or not form_token_ok(site, subscriber_id, _first(fields, "form_token")):
        return site.page("link_invalid.html", 403, reason="expired-form", again=preferences_path(site, subscriber_id, issue_of(request)))
    issue = issue_of(request)
    if _first(fields, "action") == "unsubscribe":
        return await unsubscribe(site, subscriber_id, issue)
    chosen = [t for t in fields.get("topics", []) if t in site.settings.topics]
    return await save(site, subscriber_id, issue, chosen, clean_first_name(_first(fields, "first_name")))


async def save(site: Site, subscriber_id: int, issue: str | None, chosen: list[str], first_name: str) -> Response:
    found = await site.write(
        lambda conn: self_service.save_preferences(
            conn, subscriber_id, topics=list(site.settings.topics), chosen=chosen, first_name=first_name,
            source="preferences", detail=history_detail(issue),
        )
    )
    if not found:
        return invalid_link(site, 404)
    return await run_in_threadpool(lambda: show_page(site, subscriber_id, issue, saved=True))


async def unsubscribe(site: Site, subscriber_id: int, issue: str | None) -> Response:
    done = await site.write(lambda conn: self_service.unsubscribe(conn, subscriber_id, source="preferences", detail=history_detail(issue)))
    if done is None:
        return invalid_link(site, 404)
    return unsubscribed_page(site, subscriber_id, issue)


def clean_first_name(text: str) -> str:
    """No control characters or line breaks (it goes into a To header), spaces collapsed, capped."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())[:MAX_NAME]


# --- the form token (CSRF) -----------------------------------------------------------------------


def form_token(site: Site, subscriber_id: int, shown_at: float) -> str:
    shown = f"{int(shown_at):x}"
    return f"{shown}.{_mac(site.secret, subscriber_id, shown)}"


def form_token_ok(site: Site, subscriber_id: int, token: str) -> bool:
    shown, _, mac = token.partition(".")
    if not (0 < len(shown) <= 12 and all(c in "0123456789abcdef" for c in shown) and mac.isascii()):
        return False
    if not hmac.compare_digest(_mac(site.secret, subscriber_id, shown).encode(), mac.encode()):
        return False
    age = site.clock() - int(shown, 16)
    return -FUTURE_SKEW <= age <= FORM_MAX_AGE


def _mac(secret: bytes, subscriber_id: int, shown: str) -> str:
    digest = hmac.digest(secret, f"prefs-form:1:{subscriber_id}:{shown}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest[:12]).decode()


def _fields(body: bytes, topics: int) -> dict[str, list[str]]:
    try:
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=topics + 10)
    except ValueError:
        return {}


def _first(fields: dict[str, list[str]], name: str) -> str:
    return fields.get(name, [""])[0]


ROUTES = [
    Route(path, endpoint, methods=methods)
    for path in ("/p/{token}", "/p/{token}/")
    for endpoint, methods in ((preferences_page, ["GET", "HEAD"]), (preferences_post, ["POST"]))
]
