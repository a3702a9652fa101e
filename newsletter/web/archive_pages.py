"""The archive's pages: the web version of each sent issue, the index and the Atom feed.

A web version is the email itself, compiled by the project's pipeline, with its merge fields
filled with neutral values: the fallback greeting, no token, and the reader's unsubscribe link
turned into a link to the sign-up form. The same functions serve the site (web/archive.py) and
``newsletter archive`` (static files for any host).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Callable, Iterable

from ..build.issue import load_issue
from ..config import Settings
from ..errors import NewsletterError
from ..models import CompiledIssue, Issue, MergeTemplate
from ..send.approval import compile_for_send
from ..store import ledger
from .pages import render

# The link the template points at the reader's unsubscribe URL (its text becomes "Subscribe").
UNSUBSCRIBE_LINK = re.compile(r'(<a\b[^>]*href="%%unsubscribe_url%%"[^>]*>).*?(</a>)', re.S)
# The footer's preferences link (its row, or the separator before it): a web version names nobody.
PREFERENCES_LINK = re.compile(
    r'\s*<div\b[^>]*>\s*<a\b[^>]*href="%%preferences_url%%"[^>]*>.*?</a>\s*</div>|\s*&middot;\s*<a\b[^>]*href="%%preferences_url%%"[^>]*>.*?</a>', re.S
)
BODY_RE = re.compile(r"(<body\b[^>]*>)(.*)</body>", re.S)


@dataclass(frozen=True)
class WebIssue:
    issue: Issue
    url: str  # {base_url}/issues/<slug>/, the "view in browser" link of every email
    page: str  # the whole web version (an HTML document)
    content: str  # the email's body, for the feed

    @property
    def updated(self) -> str:
        return f"{self.issue.date.isoformat()}T00:00:00Z"


def issue_url(settings: Settings, slug: str) -> str:
    return f"{settings.base_url}/issues/{slug}/"


def listed_issues(settings: Settings, conn: sqlite3.Connection, *, include_drafts: bool) -> tuple[list[Issue], list[NewsletterError]]:
    """The issues to publish, newest first: those the ledger shows as sent (every issue file
    with ``include_drafts``). A file that does not load is returned as a problem, not raised,
    so one broken draft never takes the archive down."""
    issues, problems = [], []
    for path in sorted(settings.issues_dir.glob("*.md")):
        try:
            issue = load_issue(path)
        except NewsletterError as err:
            problems.append(err)
            continue
        if include_drafts or ledger.find_send(conn, issue.slug) is not None:
            issues.append(issue)
    return sorted(issues, key=lambda i: (i.date, i.slug), reverse=True), problems


def web_issue(compiled: CompiledIssue, settings: Settings) -> WebIssue:
    url = issue_url(settings, compiled.issue.slug)
    relabelled = UNSUBSCRIBE_LINK.sub(r"\1Subscribe\2", PREFERENCES_LINK.sub("", compiled.html))
    values = {"first_name": settings.first_name_fallback, "unsubscribe_url": f"{settings.base_url}/subscribe", "webview_url": url,
              "preferences_url": f"{settings.base_url}/subscribe"}  # the web view names nobody
    html = MergeTemplate.split(relabelled).fill({k: escape(v) for k, v in values.items()})
    body = BODY_RE.search(html)
    content = body.group(2).strip() if body else html
    page = BODY_RE.sub(lambda m: m.group(1) + _site_bar(settings) + m.group(2) + "</body>", html, count=1)
    return WebIssue(compiled.issue, url, page, content)


def _site_bar(settings: Settings) -> str:
    """A thin bar above the email: the site's way back to the archive and to the sign-up form."""
    style = "font:15px/1.4 Helvetica,Arial,sans-serif;padding:10px 16px;background:#ffffff;border-bottom:3px solid " + settings.brand.primary_color
    link = f"color:{settings.brand.link_color};margin-right:16px"
    return (
        f'<nav style="{style}"><a href="/issues/" style="{link}">All issues of {escape(settings.name)}</a>'
        f'<a href="/subscribe" style="{link}">Subscribe</a></nav>'
    )


def index_page(settings: Settings, issues: Iterable[Issue]) -> str:
    return render("archive_index.html", settings, issues=list(issues))


def feed_xml(settings: Settings, entries: list[WebIssue], now: float) -> str:
    """Atom (RFC 4287), full content; ``updated`` is the newest entry's (or now, when empty)."""
    updated = max((e.updated for e in entries), default=datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return render("feed.xml", settings, entries=entries, updated=updated)


def not_found_page(settings: Settings) -> str:
    return render("not_found.html", settings)


# --- newsletter archive --out DIR ---------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveOutput:
    files: tuple[Path, ...]
    issues: tuple[Issue, ...]
    problems: tuple[NewsletterError, ...]  # issue files that did not load (skipped)


def write_archive(
    settings: Settings, conn: sqlite3.Connection, out_dir: Path, *, include_drafts: bool = False, clock: Callable[[], float] | None = None
) -> ArchiveOutput:
    """DIR/issues/index.html, DIR/issues/<slug>/index.html, DIR/feed.xml and DIR/404.html."""
    issues, problems = listed_issues(settings, conn, include_drafts=include_drafts)
    entries = [web_issue(compile_for_send(issue.path, settings, conn)[0], settings) for issue in issues]  # as subscribers got it
    contents = {
        out_dir / "issues" / "index.html": index_page(settings, issues),
        out_dir / "feed.xml": feed_xml(settings, entries, (clock or time.time)()),
        out_dir / "404.html": not_found_page(settings),
        **{out_dir / "issues" / e.issue.slug / "index.html": e.page for e in entries},
    }
    for path, text in contents.items():
        _write_atomically(path, text)
    return ArchiveOutput(tuple(contents), tuple(issues), tuple(problems))


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        raise NewsletterError(f"{path}: cannot write: {err.strerror or err}", hint="Check that the --out folder is writable and the disk is not full.") from err
