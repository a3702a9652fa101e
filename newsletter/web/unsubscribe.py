"""``/u/<token>``: the unsubscribe link of every email (the footer and List-Unsubscribe).

- POST (RFC 8058 one-click, sent by mailbox providers with ``List-Unsubscribe=One-Click``, or
  the page's button) unsubscribes at once and answers 200 only after the change is committed.
  Any body and Content-Type is accepted: the signed token is the proof, not the body.
- GET never changes anything (link scanners and prefetchers follow links): it shows the list,
  the masked address and one button.
- After the button, an undo button re-subscribes (source ``page``).

Tokens are never logged (security.py redacts the access log) and a bad one changes nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..build.personalize import UNSUBSCRIBE
from ..store import self_service
from .context import Site, site_of
from .links import from_our_pages, history_detail, issue_of, masked, preferences_path, subscriber_of, unsubscribe_path

MAX_FIELDS = 10  # the page's forms send two; a one-click body one


async def unsubscribe_page(request: Request) -> Response:
    site = site_of(request)
    subscriber_id = subscriber_of(site, request.path_params["token"], UNSUBSCRIBE)
    if subscriber_id is None:
        return invalid_link(site)
    return await run_in_threadpool(show_page, site, subscriber_id, issue_of(request))


def show_page(site: Site, subscriber_id: int, issue: str | None) -> Response:
    person = self_service.reader(site.db(), subscriber_id)
    if person is None:
        return invalid_link(site, 404)
    return site.page(
        "unsubscribe.html", address=masked(person.email), status_now=person.status,
        action=unsubscribe_path(site, subscriber_id, issue), preferences=preferences_path(site, subscriber_id, issue),
    )


async def unsubscribe_post(request: Request) -> Response:
    site = site_of(request)
    subscriber_id = subscriber_of(site, request.path_params["token"], UNSUBSCRIBE)
    if subscriber_id is None:
        return invalid_link(site)
    fields = form_fields(await request.body()) if _small_form(request) else {}
    issue = issue_of(request)
    if fields.get("action") == ["undo"]:
        if not from_our_pages(request, site):
            return site.page("link_invalid.html", 403, reason="cross-site")
        return await undo(site, subscriber_id, issue)
    # The page's button says so; anything else posted here is a one-click request (RFC 8058).
    source = "page" if fields.get("from") == ["page"] else "one-click"
    return await unsubscribe(site, subscriber_id, issue, source)


async def unsubscribe(site: Site, subscriber_id: int, issue: str | None, source: str) -> Response:
    done = await site.write(lambda conn: self_service.unsubscribe(conn, subscriber_id, source=source, detail=history_detail(issue)))
    if done is None:
        return invalid_link(site, 404)
    return unsubscribed_page(site, subscriber_id, issue)


def unsubscribed_page(site: Site, subscriber_id: int, issue: str | None) -> Response:
    """Committed by now: this 200 holds. The undo form posts back to the unsubscribe link."""
    return site.page("unsubscribed.html", action=unsubscribe_path(site, subscriber_id, issue), preferences=preferences_path(site, subscriber_id, issue))


async def undo(site: Site, subscriber_id: int, issue: str | None) -> Response:
    back = await site.write(lambda conn: self_service.undo_unsubscribe(conn, subscriber_id, source="page", detail=history_detail(issue)))
    return site.page("resubscribed.html", undone=back, preferences=preferences_path(site, subscriber_id, issue))


def invalid_link(site: Site, status: int = 400) -> Response:
    return site.page("link_invalid.html", status, reason="unknown" if status == 404 else "invalid")


def form_fields(body: bytes) -> dict[str, list[str]]:
    """A url-encoded body's fields; too many of them is no form of ours (so: none)."""
    try:
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return {}


def _small_form(request: Request) -> bool:
    """Only url-encoded bodies (or none declared) are read as fields; multipart, JSON or text
    bodies are one-click requests whatever they hold."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in ("", "application/x-www-form-urlencoded")


ROUTES = [
    Route(path, endpoint, methods=methods)
    for path in ("/u/{token}", "/u/{token}/")
    for endpoint, methods in ((unsubscribe_page, ["GET", "HEAD"]), (unsubscribe_post, ["POST"]))
]
