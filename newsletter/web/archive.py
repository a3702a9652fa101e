"""``/issues/`` (the index), ``/issues/<slug>/`` (the web version) and ``/feed.xml`` on the site.

Compiling an issue takes about 0.4 s, so each web version is kept in memory until its file
changes (keyed by path, modification time and size); the list of issues is read per request,
so an issue appears as soon as its send starts.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..models import Issue
from ..send.approval import compile_for_send
from ..store import approvals
from .archive_pages import WebIssue, feed_xml, index_page, listed_issues, not_found_page, web_issue
from .context import Site, site_of

log = logging.getLogger("newsletter.web")


class WebIssues:
    """Compiled web versions by issue file; safe to share between worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple, WebIssue]] = {}

    def get(self, site: Site, issue: Issue) -> WebIssue:
        stat = issue.path.stat()
        latest = approvals.latest(site.db(), issue.slug)  # a new sign-off changes "Reviewed by"
        stamp = (stat.st_mtime_ns, stat.st_size, latest.content_hash if latest else None, latest.reviewer if latest else None)
        with self._lock:
            cached = self._cache.get(issue.path)
        if cached and cached[0] == stamp:
            return cached[1]
        built = web_issue(compile_for_send(issue.path, site.settings, site.db())[0], site.settings)
        with self._lock:
            self._cache[issue.path] = (stamp, built)
        return built


def _web_issues(request: Request) -> WebIssues:
    state = request.app.state
    if not hasattr(state, "web_issues"):
        state.web_issues = WebIssues()
    return state.web_issues


def _listed(site: Site) -> list[Issue]:
    issues, problems = listed_issues(site.settings, site.db(), include_drafts=site.include_drafts)
    for problem in problems:
        log.warning("archive: skipped %s", problem.message)
    return issues


def index(request: Request) -> Response:
    site = site_of(request)
    return HTMLResponse(index_page(site.settings, _listed(site)))


def issue_page(request: Request) -> Response:
    site = site_of(request)
    slug = request.path_params["slug"]
    found = next((i for i in _listed(site) if i.slug == slug), None)
    if found is None:
        return HTMLResponse(not_found_page(site.settings), status_code=404)
    return HTMLResponse(_web_issues(request).get(site, found).page)


def feed(request: Request) -> Response:
    site = site_of(request)
    entries = [_web_issues(request).get(site, issue) for issue in _listed(site)]
    return Response(feed_xml(site.settings, entries, site.clock()), media_type="application/atom+xml")


ROUTES = [
    Route("/issues/", index, methods=["GET", "HEAD"]),
    Route("/issues/{slug}/", issue_page, methods=["GET", "HEAD"]),
    Route("/feed.xml", feed, methods=["GET", "HEAD"]),
]
